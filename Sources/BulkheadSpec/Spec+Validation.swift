extension Spec {
  /// The names kept from the caller's environment when it is otherwise cleared.
  public static let keptEnvironmentNames = ["PATH", "HOME", "TERM"]
  /// PATH when the caller has none.
  public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

  /// Checks the spec as a whole: every field alone, and fields against each other.
  /// Nothing here touches the system; existence of paths is checked by the launcher.
  public func validate() throws(BulkheadError) {
    if !workloads.isEmpty {
      try validateWorkloads()
    } else {
      try validateCommand()
    }
    try validateCommon()
  }

  private func validateWorkloads() throws(BulkheadError) {
    if !command.isEmpty {
      throw .invalidSpec(
        field: "--workload", value: workloads.first, reason: "conflicts with a command",
        hint: "give either --workload NAME or a command after --")
    }
    if workloads.count > 1 && level.runsCommands {
      throw .invalidSpec(
        field: "--workload", value: workloads.joined(separator: ", "),
        reason: "several workloads share one host only at the thread and task levels",
        hint: "run one bulkhead per workload at the \(level.rawValue) level")
    }
    for text in workloads where text.split(separator: " ").isEmpty {
      throw .invalidSpec(field: "--workload", value: text, reason: "empty workload")
    }
  }

  private func validateCommand() throws(BulkheadError) {
    guard let executable = command.first else {
      throw .invalidSpec(
        field: "command", value: nil, reason: "no command given",
        hint: "put the command after --, e.g. bulkhead run -- /bin/sh -c 'echo hi'")
    }
    if executable.isEmpty {
      throw .invalidSpec(field: "command", value: executable, reason: "the command is empty")
    }
    for arg in command where arg.utf8.contains(0) {
      throw .invalidSpec(field: "command", value: arg, reason: "an argument contains a NUL byte")
    }
  }

  private func validateCommon() throws(BulkheadError) {
    for variable in environment {
      if variable.name.isEmpty || variable.name.contains("=") || variable.name.utf8.contains(0)
        || variable.value.utf8.contains(0)
      {
        throw .invalidSpec(
          field: "--env", value: variable.name, reason: "not a valid environment variable name")
      }
    }
    if graceMilliseconds < 0 {
      throw .invalidSpec(field: "--grace", value: "\(graceMilliseconds)ms", reason: "must not be negative")
    }
    if let timeoutMilliseconds, timeoutMilliseconds <= 0 {
      throw .invalidSpec(field: "--timeout", value: "\(timeoutMilliseconds)ms", reason: "must be positive")
    }
    try cgroup.validate()
    if let cpuTimeMilliseconds, cpuTimeMilliseconds <= 0 {
      throw .invalidSpec(field: "--cpu-time", value: "\(cpuTimeMilliseconds)ms", reason: "must be positive")
    }
    var limits = Set<String>()
    for limit in confinement.rlimits where !limits.insert(limit.name).inserted {
      throw .invalidSpec(field: "--rlimit", value: limit.name, reason: "given twice")
    }
    if confinement.userNamespace && level != .container {
      throw .invalidSpec(
        field: "--userns", value: nil, reason: "applies to the container level only",
        hint: "drop --userns or use --level container")
    }
    if let seccomp = confinement.seccomp, seccomp.isEmpty {
      throw .invalidSpec(field: "--seccomp", value: seccomp, reason: "empty", hint: "default, unconfined or a file")
    }
    var seen = Set<Int32>()
    for fd in passFDs {
      if fd < 3 {
        throw .invalidSpec(
          field: "--pass-fd", value: "\(fd)", reason: "0, 1 and 2 are always passed",
          hint: "name descriptors from 3 up")
      }
      if !seen.insert(fd).inserted {
        throw .invalidSpec(field: "--pass-fd", value: "\(fd)", reason: "given twice")
      }
    }
    switch level {
    case .task, .thread:
      if workloads.isEmpty {
        throw .invalidSpec(
          field: "--level", value: level.rawValue,
          reason: "the \(level.rawValue) level runs built-in workloads, not commands",
          hint: "name one with --workload (e.g. --workload heartbeat), or use --level process")
      }
      if !namespaces.isEmpty || rootfs != nil || hostView != nil || overlay != nil || !mounts.isEmpty {
        throw .invalidSpec(
          field: "--level", value: level.rawValue, reason: "namespaces and mounts apply to the container level only")
      }
    case .process:
      try validateProcessLevel()
    case .container:
      try validateContainerLevel()
    }
  }

  private func validateProcessLevel() throws(BulkheadError) {
    if !namespaces.isEmpty {
      throw .invalidSpec(
        field: "--level", value: "process",
        reason: "the process level creates no namespaces",
        hint: "drop --share/--unshare or use --level container")
    }
    if rootfs != nil || hostView != nil {
      throw .invalidSpec(
        field: "--rootfs", value: rootfs ?? "host", reason: "applies to the container level only",
        hint: "drop --rootfs or use --level container")
    }
    if overlay != nil {
      throw .invalidSpec(
        field: "--overlay", value: nil, reason: "applies to the container level only",
        hint: "drop --overlay or use --level container")
    }
    if !mounts.isEmpty {
      let flag = mounts.first?.flag ?? "--bind"
      throw .invalidSpec(
        field: flag, value: mounts.first?.target, reason: "applies to the container level only",
        hint: "drop \(flag) or use --level container")
    }
    if let workingDirectory, !workingDirectory.hasPrefix("/") {
      throw .invalidSpec(field: "--cwd", value: workingDirectory, reason: "must be an absolute path")
    }
  }

  private func validateContainerLevel() throws(BulkheadError) {
    if let hostView {
      if rootfs != nil {
        throw .invalidSpec(
          field: "--rootfs", value: rootfs, reason: "a spec has either a rootfs or the host view, not both")
      }
      for path in hostView.directories + hostView.files {
        let normal = MountSpec.normalize(path)
        guard path.hasPrefix("/"), !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }),
          normal != "/"
        else {
          throw .invalidSpec(
            field: "hostView", value: path, reason: "must be an absolute path below / without '.' or '..'")
        }
        if HostView.forbidden.contains(where: { normal == $0 || normal.hasPrefix($0 + "/") }) {
          throw .invalidSpec(
            field: "hostView", value: path, reason: "the host view never exposes secrets or home directories")
        }
      }
    } else {
      guard let rootfs, !rootfs.isEmpty else {
        throw .invalidSpec(
          field: "--rootfs", value: nil, reason: "the container level needs a root filesystem",
          hint: "pass --rootfs DIR, or --rootfs host for the host's own programs")
      }
      if !rootfs.hasPrefix("/") {
        throw .invalidSpec(field: "--rootfs", value: rootfs, reason: "must be an absolute path")
      }
    }
    if overlaySizeBytes != nil && !hasThrowawayLayer {
      throw .invalidSpec(
        field: "--overlay-size", value: nil, reason: "there is no throwaway layer to size",
        hint: "add --overlay or --bind-overlay (--overlay-dir keeps the root's writes in its directory)")
    }
    if let upper = overlay?.upperDirectory, !upper.hasPrefix("/") {
      throw .invalidSpec(field: "--overlay-dir", value: upper, reason: "must be an absolute path")
    }
    if !namespaces.contains(.mnt) {
      throw .invalidSpec(
        field: "--share", value: "mnt", reason: "the container level needs its own mount namespace",
        hint: "use --level process to run without one")
    }
    if namespaces.contains(.uts) {
      if hostname.isEmpty || hostname.utf8.count > 64 || hostname.utf8.contains(0) {
        throw .invalidSpec(
          field: "--hostname", value: hostname, reason: "must be 1 to 64 bytes",
          hint: "for example --hostname sandbox")
      }
    }
    if let workingDirectory, !workingDirectory.hasPrefix("/") {
      throw .invalidSpec(
        field: "--cwd", value: workingDirectory, reason: "must be an absolute path inside the rootfs")
    }
    var targets = Set<String>()
    for mount in mounts {
      let target = mount.target
      let flag = mount.flag
      guard target.hasPrefix("/") else {
        throw .invalidSpec(
          field: flag, value: target, reason: "the target must be an absolute path inside the rootfs",
          hint: "write it from the container's /, e.g. /data")
      }
      let components = target.split(separator: "/")
      if components.isEmpty {
        throw .invalidSpec(field: flag, value: target, reason: "cannot mount over the root itself")
      }
      if components.contains(where: { $0 == ".." || $0 == "." }) {
        throw .invalidSpec(field: flag, value: target, reason: "'.' and '..' are not allowed in a target")
      }
      switch mount {
      case .bind(let source, _, _), .overlay(let source, _):
        if !source.hasPrefix("/") {
          throw .invalidSpec(field: flag, value: source, reason: "the source must be an absolute host path")
        }
      case .tmpfs: break
      }
      if !targets.insert(MountSpec.normalize(target)).inserted {
        throw .invalidSpec(field: flag, value: target, reason: "two mounts on the same target")
      }
    }
  }
}

extension MountSpec {
  /// "/a//b/" -> "/a/b".
  public static func normalize(_ path: String) -> String {
    "/" + path.split(separator: "/").joined(separator: "/")
  }
}

extension Spec {
  /// Whether some writes go to Bulkhead's staging tmpfs and vanish at exit: a root
  /// overlay without --overlay-dir, or a --bind-overlay.
  public var hasThrowawayLayer: Bool {
    (overlay != nil && overlay?.upperDirectory == nil)
      || mounts.contains { if case .overlay = $0 { true } else { false } }
  }
}
