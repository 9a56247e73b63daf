/// A seccomp profile after Docker's `includes`/`excludes` were resolved: exactly
/// what `SeccompCompiler` compiles. Build one with `SeccompProfiles`.
public struct SeccompProfile: Sendable, Equatable, Codable {
  /// What a system call that no rule matches gets.
  public var defaultAction: SeccompAction
  /// OCI names (`SCMP_ARCH_X86_64`) of the architectures the filter also covers.
  /// The native one is always covered; empty means the native one only. A system
  /// call made through any other ABI (for example `int 0x80` on x86_64) kills the
  /// thread, libseccomp's default "bad architecture" action.
  public var architectures: [String]
  /// `SECCOMP_FILTER_FLAG_*` names from the OCI `flags` field, validated against
  /// `supportedFlags`.
  public var flags: [String]
  /// In order. When two rules give one system call different actions without
  /// conditions, libseccomp keeps the first (as the OCI spec says of `syscalls`).
  public var rules: [SeccompRule]

  public init(defaultAction: SeccompAction, architectures: [String] = [], flags: [String] = [], rules: [SeccompRule]) {
    self.defaultAction = defaultAction
    self.architectures = architectures
    self.flags = flags
    self.rules = rules
  }

  /// The flags Bulkhead passes to seccomp(2), with their bits
  /// (include/uapi/linux/seccomp.h). TSYNC changes nothing in the single-threaded
  /// child but is accepted, as runc accepts it.
  public static let supportedFlags: [String: UInt32] = [
    "SECCOMP_FILTER_FLAG_TSYNC": 1 << 0,
    "SECCOMP_FILTER_FLAG_LOG": 1 << 1,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 1 << 2,
  ]

  /// Flags the kernel knows that Bulkhead refuses, with the reason.
  static let refusedFlags: [String: String] = [
    "SECCOMP_FILTER_FLAG_NEW_LISTENER": "needs a seccomp notification agent, which Bulkhead does not have",
    "SECCOMP_FILTER_FLAG_TSYNC_ESRCH": "only changes how TSYNC reports failure next to NEW_LISTENER",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": "only applies to seccomp notifications, which Bulkhead does not use",
  ]

  /// The bits of `flags` for seccomp(2), or the first flag Bulkhead does not accept.
  func flagBits() -> Result<UInt32, FlagError> {
    var bits: UInt32 = 0
    for flag in flags {
      guard let bit = Self.supportedFlags[flag] else { return .failure(FlagError(flag: flag)) }
      bits |= bit
    }
    return .success(bits)
  }

  struct FlagError: Error {
    var flag: String
    var reason: String {
      if let why = SeccompProfile.refusedFlags[flag] { return "flag \(flag) is not supported: \(why)" }
      return
        "unknown flag '\(flag)' (expected one of \(SeccompProfile.supportedFlags.keys.sorted().joined(separator: ", ")))"
    }
  }
}
