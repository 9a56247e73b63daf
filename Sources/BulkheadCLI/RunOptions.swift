import ArgumentParser
import BulkheadSpec
import BulkheadSystem

/// The flags shared by every command that runs a workload; `makeSpec` is the one
/// place where flags become a `Spec`.
public struct RunOptions: ParsableArguments {
  @Option(name: .long, help: "Isolation level: container (default) or process.")
  public var level: String = IsolationLevel.container.rawValue

  @Option(
    name: .customLong("share"),
    help: ArgumentHelp("Keep one of the host's namespaces (net, ipc, uts, cgroup, pid). Repeatable.",
      valueName: "kind"))
  public var share: [String] = []

  @Option(help: ArgumentHelp("Root filesystem for the container (default: the project's Rootfs/).", valueName: "dir"))
  public var rootfs: String?

  @Flag(help: "Leave the container's root filesystem writable.")
  public var rw = false

  @Option(help: ArgumentHelp("Bind a host path into the container. Repeatable.", valueName: "src:dst[:ro]"))
  public var bind: [String] = []

  @Option(help: ArgumentHelp("Mount an empty tmpfs in the container. Repeatable.", valueName: "dst"))
  public var tmpfs: [String] = []

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

  public init() {}

  /// Builds and validates the spec. `hostEnvironment` and `defaultRootfs` come in as
  /// values so that the mapping is a pure function (unit-tested without a process).
  public func makeSpec(
    command: [String], hostEnvironment: [(name: String, value: String)], defaultRootfs: () -> String?
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
    for text in bind { mounts.append(try MountSpec.parseBind(text)) }
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
    for text in env {
      let variable = try EnvironmentVariable(parsing: text)
      if let i = environment.firstIndex(where: { $0.name == variable.name }) {
        environment[i] = variable
      } else {
        environment.append(variable)
      }
    }

    var resolvedRootfs: String? = nil
    if level == .container {
      if let rootfs {
        resolvedRootfs = rootfs.hasPrefix("/") ? rootfs : Self.absolute(rootfs)
      } else if let found = defaultRootfs() {
        resolvedRootfs = found
      } else {
        throw BulkheadError(
          code: .setupFailed, step: "rootfs", reason: "no default root filesystem found",
          hint: "pass --rootfs DIR, set BULKHEAD_ROOTFS, or run Scripts/rootfs in the project")
      }
    }
    let spec = Spec(
      level: level, command: command,
      namespaces: level == .container ? NamespaceKind.containerDefault.subtracting(shared) : [],
      rootfs: resolvedRootfs, readOnlyRoot: !rw, hostname: hostname ?? "bulkhead",
      workingDirectory: cwd, mounts: mounts, environment: environment, passFDs: passFd,
      graceMilliseconds: try parseDurationMilliseconds(grace, field: "--grace"),
      timeoutMilliseconds: try timeout.map { text throws(BulkheadError) in
        try parseDurationMilliseconds(text, field: "--timeout")
      })
    try spec.validate()
    return spec
  }

  static func absolute(_ path: String) -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buffer, buffer.count) != nil else { return path }
    let length = buffer.firstIndex(of: 0) ?? buffer.count
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
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
