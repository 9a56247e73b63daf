import ArgumentParser
import BulkheadCore
import BulkheadSpec
import BulkheadSystem

/// The flags shared by every command that runs a workload; `makeSpec` is the one
/// place where flags become a `Spec`.
public struct RunOptions: ParsableArguments {
  @Option(
    name: .long, help: "Isolation level: container (default), process, thread or task (the last two run --workload).")
  public var level: String = IsolationLevel.container.rawValue

  @Option(
    name: .customLong("share"),
    help: ArgumentHelp(
      "Keep one of the host's namespaces (net, ipc, uts, cgroup, pid). Repeatable.",
      valueName: "kind"))
  public var share: [String] = []

  @Option(
    help: ArgumentHelp(
      "Root filesystem for the container (default: the project's Rootfs/), or 'host': the host's own /usr, /bin, /lib* read-only and a few /etc files, nothing else (a directory named host: ./host).",
      valueName: "dir|host"))
  public var rootfs: String?

  @Flag(help: "Leave the container's root filesystem writable.")
  public var rw = false

  @Flag(help: "An overlayfs over the root: the workload may write anywhere; the writes (on a tmpfs) vanish at exit.")
  public var overlay = false

  @Option(
    help: ArgumentHelp(
      "Like --overlay, but keep the writes: they land in DIR/upper (DIR/work is overlayfs's).", valueName: "dir"))
  public var overlayDir: String?

  @Option(
    help: ArgumentHelp(
      "The size of the tmpfs that holds --overlay and --bind-overlay writes (default 512M; memory, counted under --memory).",
      valueName: "size"))
  public var overlaySize: String?

  @Option(help: ArgumentHelp("Bind a host path into the container. Repeatable.", valueName: "src:dst[:ro]"))
  public var bind: [String] = []

  @Option(help: ArgumentHelp("Mount an empty tmpfs in the container. Repeatable.", valueName: "dst"))
  public var tmpfs: [String] = []

  @Option(
    help: ArgumentHelp(
      "A copy-on-write view of a host tree: writes at DST go to a tmpfs and vanish, SRC is untouched. Repeatable.",
      valueName: "src:dst"))
  public var bindOverlay: [String] = []

  @Flag(help: "Bind the current directory read-write at the same path inside, and start there.")
  public var bindCwd = false

  @Flag(help: "Bind the current directory read-only at the same path inside, and start there.")
  public var bindCwdRo = false

  @Option(help: "Hostname inside the container's UTS namespace.")
  public var hostname: String?

  @Option(help: ArgumentHelp("Working directory inside.", valueName: "dir"))
  public var cwd: String?

  @Option(help: ArgumentHelp("Set a variable in the workload's environment. Repeatable.", valueName: "name=value"))
  public var env: [String] = []

  @Flag(help: "Pass bulkhead's whole environment (default: only PATH, HOME, TERM).")
  public var keepEnv = false

  @Option(help: ArgumentHelp("Keep descriptor N open in the workload. Repeatable.", valueName: "n"))
  public var passFd: [Int32] = []

  @Option(help: ArgumentHelp("Delay before a forwarded signal or timeout escalates to SIGKILL.", valueName: "duration"))
  public var grace: String = "1s"

  @Option(help: ArgumentHelp("Wall-clock limit; then SIGTERM, and SIGKILL after --grace.", valueName: "duration"))
  public var timeout: String?

  @Option(
    help: ArgumentHelp(
      "Run a built-in workload instead of a command ('NAME ARGS', e.g. 'heartbeat 100 5'). Repeatable at the thread and task levels; see 'bulkhead workloads'.",
      valueName: "workload"))
  public var workload: [String] = []

  @Option(
    help: ArgumentHelp(
      "seccomp profile: default (in a container), unconfined (for a process), or an OCI/Docker JSON file.",
      valueName: "profile"))
  public var seccomp: String?

  @Option(help: ArgumentHelp("Add a capability (net_admin, CAP_SYS_PTRACE, all). Repeatable.", valueName: "cap"))
  public var capAdd: [String] = []

  @Option(help: ArgumentHelp("Drop a capability (or all). Repeatable.", valueName: "cap"))
  public var capDrop: [String] = []

  @Option(help: ArgumentHelp("Run as this uid (and gid) inside.", valueName: "uid[:gid]"))
  public var user: String?

  @Option(
    help: ArgumentHelp(
      "A resource limit: as, core, cpu, data, fsize, memlock, nofile, nproc, stack. Repeatable.",
      valueName: "name=soft[:hard]"))
  public var rlimit: [String] = []

  @Flag(help: "Map root inside to an unprivileged host range through a user namespace (automatic when not root).")
  public var userns = false

  @Option(help: ArgumentHelp("Memory limit through the sandbox's cgroup (e.g. 256M).", valueName: "size"))
  public var memory: String?

  @Option(help: ArgumentHelp("Memory plus swap limit, as in Docker (needs --memory).", valueName: "size"))
  public var memorySwap: String?

  @Option(help: ArgumentHelp("Limit on the number of processes and threads (cgroup pids.max).", valueName: "n"))
  public var pids: Int?

  @Option(help: ArgumentHelp("CPU bandwidth in CPUs (e.g. 0.5).", valueName: "cpus"))
  public var cpus: Double?

  @Option(help: ArgumentHelp("CPU-time limit; then SIGTERM, and SIGKILL after --grace.", valueName: "duration"))
  public var cpuTime: String?

  public init() {}

  /// The parsed values, as the plain `RunFlags` that `makeSpec` maps.
  public var flags: RunFlags {
    RunFlags(
      level: level, share: share, rootfs: rootfs, rw: rw, bind: bind, tmpfs: tmpfs, bindOverlay: bindOverlay,
      bindCwd: bindCwd, bindCwdRo: bindCwdRo, overlay: overlay, overlayDir: overlayDir, overlaySize: overlaySize,
      hostname: hostname, cwd: cwd,
      env: env, keepEnv: keepEnv, passFd: passFd, grace: grace, timeout: timeout, workload: workload,
      seccomp: seccomp, capAdd: capAdd, capDrop: capDrop, user: user, rlimit: rlimit, userns: userns,
      memory: memory, memorySwap: memorySwap, pids: pids, cpus: cpus, cpuTime: cpuTime)
  }

  /// Builds and validates the spec (see `RunFlags.makeSpec`).
  public func makeSpec(
    command: [String], hostEnvironment: [(name: String, value: String)], defaultRootfs: () -> String?
  ) throws(BulkheadError) -> Spec {
    try flags.makeSpec(command: command, hostEnvironment: hostEnvironment, defaultRootfs: defaultRootfs)
  }
}

#if canImport(Glibc)
  import Glibc
#endif

/// Where the project's `Rootfs/` is: `$BULKHEAD_ROOTFS`, else the nearest
/// `Rootfs/` above the running executable (a build inside the checkout).
public func defaultRootfsLocation() -> String? {
  if let env = getenv("BULKHEAD_ROOTFS") {
    let path = String(cString: env)
    if !path.isEmpty { return path }
  }
  guard var dir = currentExecutablePath() else { return nil }
  for _ in 0..<8 {
    guard let slash = dir.lastIndex(of: "/"), slash != dir.startIndex else { return nil }
    dir = String(dir[..<slash])
    let candidate = dir + "/Rootfs"
    if isDirectory(candidate + "/bin") { return candidate }
  }
  return nil
}

/// Where `bulkhead-probe` is on the host: `$BULKHEAD_PROBE`, else beside the
/// running executable (a build directory), else in the default rootfs.
public func probeLocation() -> String? {
  if let env = getenv("BULKHEAD_PROBE") {
    let path = String(cString: env)
    if !path.isEmpty { return path }
  }
  if let exe = currentExecutablePath(), let slash = exe.lastIndex(of: "/") {
    let sibling = exe[..<slash] + "/bulkhead-probe"
    if access(String(sibling), X_OK) == 0 { return String(sibling) }
  }
  return Launcher.probe(inRootfs: defaultRootfsLocation())
}
