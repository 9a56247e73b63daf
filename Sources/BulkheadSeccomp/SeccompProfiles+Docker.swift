extension SeccompProfiles {
  /// Resolves Docker's `archMap`, `includes` and `excludes` for one sandbox, as
  /// moby's `setupSeccomp` does (profiles/seccomp/seccomp_linux.go), written anew:
  /// - `architectures` is the first `archMap` entry for the running architecture
  ///   followed by its sub-architectures, or the profile's own `architectures`;
  /// - a rule whose `excludes` matches is dropped: the running architecture is in
  ///   `arches`, *any* of `caps` is held, or the kernel is at least `minKernel`;
  /// - a rule whose `includes` does not match is dropped: the running architecture
  ///   is not in `arches`, *one* of `caps` is missing, or the kernel is older than
  ///   `minKernel`. Empty lists impose nothing.
  ///
  /// `architecture` is Docker's name ("amd64"); `capabilities` are normalized ("CAP_KILL").
  static func resolve(
    _ written: WrittenProfile, capabilities: Set<String>, architecture: String, kernel: (Int, Int)
  ) -> SeccompProfile {
    var architectures = written.architectures
    if let native = SeccompArchitecture.dockerToOCI[architecture],
      let entry = written.archMap.first(where: { $0.architecture == native })
    {
      architectures = [entry.architecture] + entry.subArchitectures
    }

    func isRunning(_ arch: String) -> Bool { SeccompArchitecture.dockerName(arch) == architecture }
    func atLeast(_ minimum: (major: Int, minor: Int)) -> Bool {
      kernel.0 > minimum.major || (kernel.0 == minimum.major && kernel.1 >= minimum.minor)
    }
    func excluded(by condition: RuleCondition) -> Bool {
      if condition.arches.contains(where: isRunning) { return true }
      if condition.caps.contains(where: { capabilities.contains($0) }) { return true }
      if let minimum = condition.minKernel, atLeast(minimum) { return true }
      return false
    }
    func included(by condition: RuleCondition) -> Bool {
      if !condition.arches.isEmpty && !condition.arches.contains(where: isRunning) { return false }
      if !condition.caps.allSatisfy({ capabilities.contains($0) }) { return false }
      if let minimum = condition.minKernel, !atLeast(minimum) { return false }
      return true
    }

    let rules = written.rules.filter { rule in
      if let excludes = rule.excludes, excluded(by: excludes) { return false }
      if let includes = rule.includes, !included(by: includes) { return false }
      return true
    }
    return SeccompProfile(
      defaultAction: written.defaultAction, architectures: architectures, flags: written.flags,
      rules: rules.map(\.rule))
  }
}
