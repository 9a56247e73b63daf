import BulkheadSpec
import BulkheadSystem
import BulkheadWorkloads

#if canImport(Glibc)
  import Glibc
#endif

/// The values of the run flags, plain: what both the ArgumentParser definition
/// (`RunOptions`, which also gives help, completion and errors) and the fast path
/// (`FastRunParser`) produce. `makeSpec` is the one place where flags become a `Spec`.
public struct RunFlags: Sendable, Equatable {
  public var level: String = IsolationLevel.container.rawValue
  public var share: [String] = []
  public var rootfs: String? = nil
  public var rw = false
  public var bind: [String] = []
  public var tmpfs: [String] = []
  public var bindOverlay: [String] = []
  public var bindCwd = false
  public var bindCwdRo = false
  public var overlay = false
  public var overlayDir: String? = nil
  public var overlaySize: String? = nil
  public var hostname: String? = nil
  public var cwd: String? = nil
  public var env: [String] = []
  public var keepEnv = false
  public var passFd: [Int32] = []
  public var grace: String = "1s"
  public var timeout: String? = nil
  public var workload: [String] = []
  public var seccomp: String? = nil
  public var capAdd: [String] = []
  public var capDrop: [String] = []
  public var user: String? = nil
  public var rlimit: [String] = []
  public var userns = false
  public var memory: String? = nil
  public var memorySwap: String? = nil
  public var pids: Int? = nil
  public var cpus: Double? = nil
  public var cpuTime: String? = nil
  /// `run -t`/`--tty` (true), `--no-tty` (false); nil: a pty when stdin is a terminal.
  public var tty: Bool? = nil

  public init(
    level: String = IsolationLevel.container.rawValue, share: [String] = [], rootfs: String? = nil, rw: Bool = false,
    bind: [String] = [], tmpfs: [String] = [], bindOverlay: [String] = [], bindCwd: Bool = false,
    bindCwdRo: Bool = false, overlay: Bool = false, overlayDir: String? = nil, overlaySize: String? = nil,
    hostname: String? = nil,
    cwd: String? = nil, env: [String] = [],
    keepEnv: Bool = false, passFd: [Int32] = [], grace: String = "1s", timeout: String? = nil,
    workload: [String] = [], seccomp: String? = nil, capAdd: [String] = [], capDrop: [String] = [],
    user: String? = nil, rlimit: [String] = [], userns: Bool = false, memory: String? = nil,
    memorySwap: String? = nil, pids: Int? = nil, cpus: Double? = nil, cpuTime: String? = nil
  ) {
    self.level = level
    self.share = share
    self.rootfs = rootfs
    self.rw = rw
    self.bind = bind
    self.tmpfs = tmpfs
    self.bindOverlay = bindOverlay
    self.bindCwd = bindCwd
    self.bindCwdRo = bindCwdRo
    self.overlay = overlay
    self.overlayDir = overlayDir
    self.overlaySize = overlaySize
    self.hostname = hostname
    self.cwd = cwd
    self.env = env
    self.keepEnv = keepEnv
    self.passFd = passFd
    self.grace = grace
    self.timeout = timeout
    self.workload = workload
    self.seccomp = seccomp
    self.capAdd = capAdd
    self.capDrop = capDrop
    self.user = user
    self.rlimit = rlimit
    self.userns = userns
    self.memory = memory
    self.memorySwap = memorySwap
    self.pids = pids
    self.cpus = cpus
    self.cpuTime = cpuTime
  }

  /// Builds and validates the spec. `hostEnvironment` and `defaultRootfs` come in as
  /// values so that the mapping is a pure function (unit-tested without a process).
  /// The `--rootfs` value that names the host view instead of a directory (a
  /// directory called `host` is `./host`).
  public static let hostViewName = "host"

  public func makeSpec(
    command: [String], hostEnvironment: [(name: String, value: String)], defaultRootfs: () -> String?,
    currentDirectory: () -> String? = currentWorkingDirectory, hostTerminal: Bool = false
  ) throws(BulkheadError) -> Spec {
    guard let level = IsolationLevel(rawValue: level.lowercased()) else {
      throw .invalidSpec(
        field: "--level", value: level, reason: "unknown level",
        hint: "choose one of \(IsolationLevel.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    var shared = Set<NamespaceKind>()
    for text in share {
      guard let kind = NamespaceKind(userText: text) else {
        throw .invalidSpec(
          field: "--share", value: text, reason: "unknown namespace kind",
          hint: "choose from pid, net, ipc, uts, cgroup")
      }
      if kind == .mnt || kind == .user || kind == .time {
        throw .invalidSpec(
          field: "--share", value: text, reason: "the \(kind.rawValue) namespace cannot be shared here",
          hint: kind == .mnt ? "use --level process to run in the host's mount namespace" : nil)
      }
      shared.insert(kind)
    }
    if level != .container {
      let containerOnly: [(String, Bool)] = [
        ("--share", !share.isEmpty), ("--rootfs", rootfs != nil), ("--rw", rw),
        ("--bind", !bind.isEmpty), ("--tmpfs", !tmpfs.isEmpty), ("--hostname", hostname != nil),
        ("--bind-overlay", !bindOverlay.isEmpty), ("--bind-cwd", bindCwd), ("--bind-cwd-ro", bindCwdRo),
        ("--overlay", overlay), ("--overlay-dir", overlayDir != nil),
        ("--overlay-size", overlaySize != nil),
      ]
      if let (flag, _) = containerOnly.first(where: { $0.1 }) {
        throw .invalidSpec(
          field: flag, value: nil, reason: "applies to the container level only",
          hint: "drop \(flag) or use --level container")
      }
    }
    if hostname != nil && shared.contains(.uts) {
      throw .invalidSpec(
        field: "--hostname", value: hostname, reason: "conflicts with --share uts",
        hint: "a shared UTS namespace keeps the host's name")
    }
    var mounts: [MountSpec] = []
    var workingDirectory = cwd
    if bindCwd || bindCwdRo {
      if bindCwd && bindCwdRo {
        throw .invalidSpec(
          field: "--bind-cwd-ro", value: nil, reason: "conflicts with --bind-cwd", hint: "give one of the two")
      }
      guard let here = currentDirectory() else {
        throw .setupFailed(step: "--bind-cwd", value: nil, errno: ENOENT, hint: "run it from an existing directory")
      }
      if here == "/" {
        throw .invalidSpec(
          field: bindCwd ? "--bind-cwd" : "--bind-cwd-ro", value: here, reason: "cannot bind the host's own /",
          hint: "cd into the project directory first")
      }
      mounts.append(.bind(source: here, target: here, readOnly: bindCwdRo))
      if workingDirectory == nil { workingDirectory = here }
    }
    for text in bind { mounts.append(try MountSpec.parseBind(text)) }
    for text in bindOverlay { mounts.append(try MountSpec.parseOverlay(text)) }
    for target in tmpfs { mounts.append(.tmpfs(target: target)) }

    var environment: [EnvironmentVariable] = []
    if keepEnv {
      environment = hostEnvironment.map { EnvironmentVariable(name: $0.name, value: $0.value) }
    } else {
      for name in Spec.keptEnvironmentNames {
        if let value = hostEnvironment.last(where: { $0.name == name })?.value {
          environment.append(EnvironmentVariable(name: name, value: value))
        } else if name == "PATH" {
          environment.append(EnvironmentVariable(name: "PATH", value: Spec.defaultPath))
        }
      }
    }
    for text in workload {
      guard let invocation = WorkloadInvocation(parsing: text) else {
        throw .invalidSpec(
          field: "--workload", value: text, reason: "unknown workload",
          hint: "choose one of \(WorkloadName.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      _ = invocation
    }
    if !workload.isEmpty {
      // Swift's crash backtracer would add tens of milliseconds (and pages of text)
      // before a faulting workload dies: switched off, and recorded in the spec.
      environment.append(EnvironmentVariable(name: "SWIFT_BACKTRACE", value: "enable=no"))
      environment.append(EnvironmentVariable(name: "BULKHEAD_LEVEL", value: level.rawValue))
    }
    for text in env {
      let variable = try EnvironmentVariable(parsing: text)
      if let i = environment.firstIndex(where: { $0.name == variable.name }) {
        environment[i] = variable
      } else {
        environment.append(variable)
      }
    }

    var resolvedRootfs: String? = nil
    var hostView: HostView? = nil
    if level == .container {
      if rootfs == Self.hostViewName {
        hostView = .standard(sharesNetwork: shared.contains(.net))
      } else if let rootfs {
        resolvedRootfs = rootfs.hasPrefix("/") ? rootfs : absolutePath(rootfs)
      } else if let found = defaultRootfs() {
        resolvedRootfs = found
      } else {
        throw BulkheadError(
          code: .setupFailed, step: "rootfs", reason: "no default root filesystem found",
          hint: "pass --rootfs DIR, set BULKHEAD_ROOTFS, or run Scripts/rootfs in the project")
      }
    }
    var rlimits: [ResourceLimit] = []
    for text in rlimit { rlimits.append(try ResourceLimit(parsing: text)) }
    // Names are checked here, so that a typo is a usage error and not a setup failure.
    if !capAdd.isEmpty || !capDrop.isEmpty { _ = try Capabilities.resolve(base: [], add: capAdd, drop: capDrop) }
    if let seccomp, seccomp != "default", seccomp != "unconfined", !seccomp.contains("/"), !seccomp.hasSuffix(".json") {
      throw .invalidSpec(
        field: "--seccomp", value: seccomp, reason: "not a profile name or a file",
        hint: "use default, unconfined, or the path of an OCI or Docker JSON profile")
    }
    let confinement = Confinement(
      seccomp: seccomp, capAdd: capAdd, capDrop: capDrop,
      user: try user.map { text throws(BulkheadError) in
        try UserIdentity(parsing: text)
      }, rlimits: rlimits, userNamespace: userns)
    let spec = Spec(
      level: level, command: command, workloads: workload,
      namespaces: level == .container ? NamespaceKind.containerDefault.subtracting(shared) : [],
      rootfs: resolvedRootfs, hostView: hostView,
      overlay: overlay || overlayDir != nil
        ? RootOverlay(upperDirectory: overlayDir.map { $0.hasPrefix("/") ? $0 : absolutePath($0) }) : nil,
      overlaySizeBytes: try overlaySize.map { text throws(BulkheadError) in
        try CgroupRequest.parseSize(text, field: "--overlay-size")
      },
      readOnlyRoot: !rw, hostname: hostname ?? "bulkhead",
      workingDirectory: workingDirectory, mounts: mounts, environment: environment, passFDs: passFd,
      graceMilliseconds: try parseDurationMilliseconds(grace, field: "--grace"),
      timeoutMilliseconds: try timeout.map { text throws(BulkheadError) in
        try parseDurationMilliseconds(text, field: "--timeout")
      }, confinement: confinement,
      cgroup: CgroupRequest(
        memoryBytes: try memory.map { text throws(BulkheadError) in try CgroupRequest.parseSize(text, field: "--memory")
        },
        memorySwapBytes: try memorySwap.map { text throws(BulkheadError) in
          try CgroupRequest.parseSize(text, field: "--memory-swap")
        }, pids: pids, cpus: cpus),
      cpuTimeMilliseconds: try cpuTime.map { text throws(BulkheadError) in
        try parseDurationMilliseconds(text, field: "--cpu-time")
      }, terminal: tty ?? hostTerminal)
    try spec.validate()
    return spec
  }

}

/// `path` made absolute against the working directory.
func absolutePath(_ path: String) -> String {
  guard let here = currentWorkingDirectory() else { return path }
  return (here == "/" ? "" : here) + "/" + path
}

/// getcwd(3), nil when the directory is gone.
public func currentWorkingDirectory() -> String? {
  var buffer = [CChar](repeating: 0, count: 4096)
  guard getcwd(&buffer, buffer.count) != nil else { return nil }
  let length = buffer.firstIndex(of: 0) ?? buffer.count
  return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
