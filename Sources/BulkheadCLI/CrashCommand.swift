import ArgumentParser
import BulkheadCore
import BulkheadLab
import BulkheadReports
import BulkheadSpec
import BulkheadSystem

/// `bulkhead crash`: the blast-radius matrix.
struct CrashCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crash",
    abstract: "Inject faults among healthy siblings at each level and report the blast radius (root).",
    discussion: """
      For each level and fault, K heartbeat siblings and one faulty workload start the same \
      way (one host process for tasks and threads, separate processes, separate containers), \
      inside an outer safety cgroup (memory, pids and CPU capped). A canary process of the \
      same user forks and allocates beside them. The matrix says how many siblings kept \
      beating, whether the host survived, what was left behind, and how long the supervisor \
      took to learn how the fault ended.

      Examples:
        bulkhead crash
        bulkhead crash --levels thread,container --faults segv,oom,fork-bomb
        bulkhead crash --json > crash.json
        bulkhead crash --svg crash.svg
        bulkhead crash --levels container --rootfs host --overlay   # the host view's containers
      """)

  @Option(help: "Comma-separated levels (task, thread, process, container).")
  var levels: String?

  @Option(help: "Comma-separated faults (\(CrashFault.allCases.map(\.rawValue).joined(separator: ", "))).")
  var faults: String?

  @Option(help: "Healthy heartbeat siblings beside the faulty workload (1-16).")
  var siblings = 3

  @Option(help: "The longest observation after a fault fires (e.g. 600ms, 2s).")
  var window = "600ms"

  @Flag(help: "Print the whole report as JSON (schema bulkhead.crash/1) instead of the matrix.")
  var json = false

  @Option(help: "Also write the matrix as an SVG colour grid to this file.")
  var svg: String?

  @Option(
    help: ArgumentHelp(
      "The container level's root, as in 'bulkhead run': a directory, or 'host' for the host view.",
      valueName: "dir|host"))
  var rootfs: String?

  @Flag(help: "The container level under an overlay, as in 'bulkhead run --overlay'.")
  var overlay = false

  func run() throws {
    let config = try makeConfig()
    unblockForwardedSignals()
    if let svg { try checkWritable(svg, field: "--svg") }
    let lab = Self.lab(config, rootfs: rootfs, overlay: overlay) { printError($0) }
    let started = wallClockNanoseconds()
    let cells = try lab.run()
    let report = CrashReport(
      machine: MachineInfo.current(cgroupVersion: Cgroups.current?.version.rawValue),
      startedAt: Double(started) / 1e9, siblings: config.siblings, windowMilliseconds: config.windowMilliseconds,
      levels: config.levels, faults: config.faults, cells: cells)
    if let svg { try writeText(CrashMatrix.svg(report), to: svg, field: "--svg") }
    if json { return try printJSON(report) }
    print(CrashMatrix.text(report))
  }

  /// The lab with the CLI's defaults: each unit's spec made the way `run` makes it.
  /// `rootfs` and `overlay` apply to the container level only.
  static func lab(
    _ config: CrashLab.Config, rootfs: String? = nil, overlay: Bool = false, progress: @escaping (String) -> Void
  ) -> CrashLab {
    CrashLab(
      config: config, probePath: probeLocation(), hostExecutable: currentExecutablePath(),
      makeSpec: { level, workloads throws(BulkheadError) in
        var flags = RunFlags()
        flags.level = level.rawValue
        flags.workload = workloads
        if level == .container {
          flags.rootfs = rootfs
          flags.overlay = overlay
        }
        return try flags.makeSpec(command: [], hostEnvironment: hostEnvironment(), defaultRootfs: defaultRootfsLocation)
      }, progress: progress)
  }

  func makeConfig() throws(BulkheadError) -> CrashLab.Config {
    var config = CrashLab.Config()
    if let levels { config.levels = try parseLevels(levels, field: "--levels") }
    if let faults {
      config.faults = try faults.split(separator: ",").map { name throws(BulkheadError) in
        guard let fault = CrashFault(rawValue: String(name).lowercased()) else {
          throw BulkheadError.invalidSpec(
            field: "--faults", value: String(name), reason: "unknown fault",
            hint: "choose from \(CrashFault.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return fault
      }
      if config.faults.isEmpty {
        throw BulkheadError.invalidSpec(
          field: "--faults", value: faults, reason: "no fault named", hint: "e.g. --faults segv,oom")
      }
    }
    guard (1...16).contains(siblings) else {
      throw BulkheadError.invalidSpec(
        field: "--siblings", value: "\(siblings)", reason: "out of range", hint: "choose 1 to 16 siblings")
    }
    config.siblings = siblings
    let ms = try parseDurationMilliseconds(window, field: "--window")
    guard (100...60_000).contains(ms) else {
      throw BulkheadError.invalidSpec(
        field: "--window", value: window, reason: "out of range", hint: "choose between 100ms and 60s")
    }
    config.windowMilliseconds = ms
    return config
  }
}

/// "task, container" -> levels in the order given, each once, with a one-line
/// error naming the bad one: the one parser of every --levels.
func parseLevels(_ text: String, field: String) throws(BulkheadError) -> [IsolationLevel] {
  var levels: [IsolationLevel] = []
  for part in text.split(separator: ",") {
    let name = part.filter { $0 != " " }.lowercased()
    guard let level = IsolationLevel(rawValue: name) else {
      throw BulkheadError.invalidSpec(
        field: field, value: name, reason: "unknown level", hint: "choose from task, thread, process, container")
    }
    if !levels.contains(level) { levels.append(level) }
  }
  if levels.isEmpty {
    throw BulkheadError.invalidSpec(
      field: field, value: text, reason: "no level named", hint: "e.g. \(field) thread,container")
  }
  return levels
}
