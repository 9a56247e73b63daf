/// What to run, at which isolation level, under which limits: one declarative value,
/// built once (from flags or a file), validated once, then handed to a launcher.
public struct Spec: Sendable, Codable, Equatable {
  public var level: IsolationLevel
  /// argv of the workload. `command[0]` is searched in the sandbox's PATH when it has no '/'.
  /// Empty when `workloads` names built-in workloads instead.
  public var command: [String]
  /// Built-in workloads ("NAME ARGS..."), run by `bulkhead-probe` at the process and
  /// container levels and inside one host process at the thread and task levels.
  public var workloads: [String]
  /// The namespaces to create (container level); every other kind is shared with the host.
  public var namespaces: Set<NamespaceKind>
  /// The root filesystem (container level): an absolute host path.
  public var rootfs: String?
  /// The host's own programs as the root instead of `rootfs` (`--rootfs host`).
  public var hostView: HostView?
  /// An overlayfs over the root (`--overlay`, `--overlay-dir`): writes go to its upper layer.
  public var overlay: RootOverlay?
  /// The size in bytes of the tmpfs that holds throwaway writes (`--overlay`,
  /// `--bind-overlay`; `--overlay-size`); nil: `LaunchPlan.overlaySize` (512 MiB).
  public var overlaySizeBytes: UInt64?
  public var readOnlyRoot: Bool
  public var hostname: String
  /// The working directory inside; nil: "/" in a container, the caller's at the process level.
  public var workingDirectory: String?
  public var mounts: [MountSpec]
  /// The environment, in order, exactly as the workload receives it.
  public var environment: [EnvironmentVariable]
  /// Descriptors passed through besides 0, 1 and 2.
  public var passFDs: [Int32]
  /// Delay between the forwarded signal (or the timeout's SIGTERM) and SIGKILL.
  public var graceMilliseconds: Int
  /// Wall-clock limit; nil: none.
  public var timeoutMilliseconds: Int?
  /// seccomp, capabilities, identity, rlimits, user namespace.
  public var confinement: Confinement
  /// Memory, pids and CPU limits through a cgroup of the sandbox's own.
  public var cgroup: CgroupRequest
  /// CPU-time limit (user + system); then SIGTERM, and SIGKILL after the grace.
  public var cpuTimeMilliseconds: Int?
  /// A pty of the sandbox's own as the workload's controlling terminal and stdio,
  /// relayed to bulkhead's (`-t`; the default when stdin is a terminal).
  public var terminal: Bool

  public init(
    level: IsolationLevel = .container,
    command: [String],
    workloads: [String] = [],
    namespaces: Set<NamespaceKind>? = nil,
    rootfs: String? = nil,
    hostView: HostView? = nil,
    overlay: RootOverlay? = nil,
    overlaySizeBytes: UInt64? = nil,
    readOnlyRoot: Bool = true,
    hostname: String = "bulkhead",
    workingDirectory: String? = nil,
    mounts: [MountSpec] = [],
    environment: [EnvironmentVariable] = [],
    passFDs: [Int32] = [],
    graceMilliseconds: Int = 1000,
    timeoutMilliseconds: Int? = nil,
    confinement: Confinement = Confinement(),
    cgroup: CgroupRequest = CgroupRequest(),
    cpuTimeMilliseconds: Int? = nil,
    terminal: Bool = false
  ) {
    self.level = level
    self.command = command
    self.workloads = workloads
    self.namespaces = namespaces ?? (level == .container ? NamespaceKind.containerDefault : [])
    self.rootfs = rootfs
    self.hostView = hostView
    self.overlay = overlay
    self.overlaySizeBytes = overlaySizeBytes
    self.readOnlyRoot = readOnlyRoot
    self.hostname = hostname
    self.workingDirectory = workingDirectory
    self.mounts = mounts
    self.environment = environment
    self.passFDs = passFDs
    self.graceMilliseconds = graceMilliseconds
    self.timeoutMilliseconds = timeoutMilliseconds
    self.confinement = confinement
    self.cgroup = cgroup
    self.cpuTimeMilliseconds = cpuTimeMilliseconds
    self.terminal = terminal
  }
}

extension Spec {
  enum CodingKeys: String, CodingKey {
    case level, command, workloads, namespaces, rootfs, hostView, overlay, overlaySizeBytes, readOnlyRoot, hostname,
      workingDirectory,
      mounts, environment
    case passFDs, graceMilliseconds, timeoutMilliseconds, confinement, cgroup, cpuTimeMilliseconds, terminal
  }

  /// Decodes like the synthesized form; fields added later (`terminal`) may be absent.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      level: try c.decode(IsolationLevel.self, forKey: .level),
      command: try c.decode([String].self, forKey: .command),
      workloads: try c.decode([String].self, forKey: .workloads),
      namespaces: try c.decode(Set<NamespaceKind>.self, forKey: .namespaces),
      rootfs: try c.decodeIfPresent(String.self, forKey: .rootfs),
      hostView: try c.decodeIfPresent(HostView.self, forKey: .hostView),
      overlay: try c.decodeIfPresent(RootOverlay.self, forKey: .overlay),
      readOnlyRoot: try c.decode(Bool.self, forKey: .readOnlyRoot),
      hostname: try c.decode(String.self, forKey: .hostname),
      workingDirectory: try c.decodeIfPresent(String.self, forKey: .workingDirectory),
      mounts: try c.decode([MountSpec].self, forKey: .mounts),
      environment: try c.decode([EnvironmentVariable].self, forKey: .environment),
      passFDs: try c.decode([Int32].self, forKey: .passFDs),
      graceMilliseconds: try c.decode(Int.self, forKey: .graceMilliseconds),
      timeoutMilliseconds: try c.decodeIfPresent(Int.self, forKey: .timeoutMilliseconds),
      confinement: try c.decode(Confinement.self, forKey: .confinement),
      cgroup: try c.decode(CgroupRequest.self, forKey: .cgroup),
      cpuTimeMilliseconds: try c.decodeIfPresent(Int.self, forKey: .cpuTimeMilliseconds),
      terminal: try c.decodeIfPresent(Bool.self, forKey: .terminal) ?? false)
  }

  /// Encodes like the synthesized form, with `namespaces` sorted so that the
  /// JSON is the same from run to run.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(level, forKey: .level)
    try c.encode(command, forKey: .command)
    try c.encode(workloads, forKey: .workloads)
    try c.encode(namespaces.sorted(), forKey: .namespaces)
    try c.encodeIfPresent(rootfs, forKey: .rootfs)
    try c.encodeIfPresent(hostView, forKey: .hostView)
    try c.encodeIfPresent(overlay, forKey: .overlay)
    try c.encodeIfPresent(overlaySizeBytes, forKey: .overlaySizeBytes)
    try c.encode(readOnlyRoot, forKey: .readOnlyRoot)
    try c.encode(hostname, forKey: .hostname)
    try c.encodeIfPresent(workingDirectory, forKey: .workingDirectory)
    try c.encode(mounts, forKey: .mounts)
    try c.encode(environment, forKey: .environment)
    try c.encode(passFDs, forKey: .passFDs)
    try c.encode(graceMilliseconds, forKey: .graceMilliseconds)
    try c.encodeIfPresent(timeoutMilliseconds, forKey: .timeoutMilliseconds)
    try c.encode(confinement, forKey: .confinement)
    try c.encode(cgroup, forKey: .cgroup)
    try c.encodeIfPresent(cpuTimeMilliseconds, forKey: .cpuTimeMilliseconds)
    try c.encode(terminal, forKey: .terminal)
  }
}

/// One `NAME=value` entry of the workload's environment.
public struct EnvironmentVariable: Sendable, Codable, Equatable {
  public var name: String
  public var value: String

  public init(name: String, value: String) {
    self.name = name
    self.value = value
  }

  /// Parses `NAME=value` as written after `--env`.
  public init(parsing text: String) throws(BulkheadError) {
    guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
      throw .invalidSpec(
        field: "--env", value: text, reason: "expected NAME=VALUE", hint: "for example --env LANG=C")
    }
    self.init(name: String(text[..<eq]), value: String(text[text.index(after: eq)...]))
  }

  /// The entry as `execve` wants it.
  public var assignment: String { "\(name)=\(value)" }
}
