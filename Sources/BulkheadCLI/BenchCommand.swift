import ArgumentParser
import BulkheadLab
import BulkheadReports
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `bulkhead bench`: the cost lab. What each isolation level costs to start, to
/// talk across, and to keep idle, measured on this machine.
public struct BenchCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure what each isolation level costs: spawn time, IPC, memory per idle unit.",
    discussion: """
      Every measurement is a distribution (warm-up dropped, HdrHistogram percentiles), printed \
      with the machine and kernel it was taken on, and a warning when the spread says the \
      machine was noisy. Progress goes to stderr; the table or the JSON (--json, schema \
      bulkhead.bench/1, docs/json-bench.md) to stdout. Run as root: containers and cgroup \
      accounting need it.

      Examples:
        bulkhead bench spawn                    # all levels; containers part by part
        bulkhead bench spawn --levels thread,container --iterations 300
        bulkhead bench memory --svg memory.svg  # memory per idle unit, as bars
        bulkhead bench spawn --svg spawn.svg    # box plots per level
        bulkhead bench all --json > bench.json  # spawn, ipc and memory: one report
      """,
    subcommands: [BenchSpawnCommand.self, BenchIPCCommand.self, BenchMemoryCommand.self, BenchAllCommand.self])

  public init() {}
}

/// The options every `bench` subcommand takes.
public struct BenchReportOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Levels to measure, comma-separated (task,thread,process,container; default: all).", valueName: "levels"))
  public var levels: String?

  @Option(help: ArgumentHelp("Samples per variant (spawn) or rounds (memory).", valueName: "n"))
  public var iterations: Int?

  @Flag(help: "Print the report as JSON (schema bulkhead.bench/1) instead of tables.")
  public var json = false

  @Option(help: ArgumentHelp("Also write the charts as one SVG file.", valueName: "file"))
  public var svg: String?

  public init() {}

  /// The levels asked for, in the order of the levels.
  public func chosenLevels() throws(BulkheadError) -> [IsolationLevel] {
    guard let levels else { return IsolationLevel.allCases }
    let chosen = try parseLevels(levels, field: "--levels")
    return IsolationLevel.allCases.filter(chosen.contains)
  }

  /// `--iterations`, checked, or the default.
  public func iterations(default value: Int, maximum: Int) throws(BulkheadError) -> Int {
    guard let iterations else { return value }
    guard iterations >= 1, iterations <= maximum else {
      throw .invalidSpec(
        field: "--iterations", value: "\(iterations)", reason: "must be between 1 and \(maximum)",
        hint: "the default is \(value)")
    }
    return iterations
  }
}

/// `bulkhead bench spawn`.
public struct BenchSpawnCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "spawn",
    abstract: "Time from the spawn call to the workload's exit, per level, and a container part by part.",
    discussion: """
      task and thread are timed in this process (Task creation + await, pthread_create + join); \
      process as posix_spawn, fork+exec and bulkhead's clone3+exec; container first with a pid \
      namespace only, then one namespace kind at a time, all six, the rootfs (pivot_root), the \
      seccomp filter, dropped capabilities and a cgroup of its own: the table's last column is \
      each step's cost over the one it builds on. Last, the default container and fork+exec \
      from this process with a 1 GiB heap resident and without, alternately. With --count,       N sandboxes under one supervisor thread instead, C at a time (--concurrency), every       outcome collected, the supervisor's own memory and descriptors reported.

      Examples:
        bulkhead bench spawn
        bulkhead bench spawn --levels thread,container --svg spawn.svg
        bulkhead bench spawn --count 1000 --concurrency 50
        bulkhead bench spawn --count 500 --concurrency 500 --hold
      """)

  @OptionGroup public var options: BenchReportOptions

  @OptionGroup public var fleet: FleetOptions

  public init() {}

  public func run() throws {
    if fleet.count != nil { return try fleet.run(options: options) }
    try fleet.refuseWithoutCount()
    let bench = try BenchRun(options: options)
    let results = try bench.spawn(iterations: try options.iterations(default: 80, maximum: 100_000))
    try bench.finish(results)
  }
}

/// `bulkhead bench memory`.
public struct BenchMemoryCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "memory",
    abstract: "Memory an idle unit costs per level, by cgroup accounting, and the supervisor's own per sandbox.",
    discussion: """
      Starts --units idle units per round (block-hang; heartbeat for tasks) and divides the \
      memory charged to their cgroups (and, on cgroup v1, to a cgroup the launching thread joins, \
      which catches what the kernel allocates at clone) by their number. Tasks and threads: one \
      host of N+1 minus one host of 1. Also the growth of bulkhead's own RSS per started and \
      watched sandbox. --iterations is the number of rounds.

      Examples:
        bulkhead bench memory
        bulkhead bench memory --units 8 --svg memory.svg
      """)

  @OptionGroup public var options: BenchReportOptions

  @Option(help: ArgumentHelp("Idle units per round.", valueName: "n"))
  public var units: Int = 16

  public init() {}

  public func run() throws {
    let bench = try BenchRun(options: options)
    let results = try bench.memory(rounds: try options.iterations(default: 10, maximum: 1000), units: units)
    try bench.finish(results)
  }
}

/// `bulkhead bench all`.
public struct BenchAllCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "all",
    abstract: "spawn, ipc and memory in one report.",
    discussion: """
      --iterations applies to spawn; ipc and memory keep their defaults (bulkhead bench ipc \
      and bulkhead bench memory take their own options). About a minute on two cores.

      Examples:
        bulkhead bench all
        bulkhead bench all --json > bench.json
      """)

  @OptionGroup public var options: BenchReportOptions

  public init() {}

  public func run() throws {
    let bench = try BenchRun(options: options)
    var results = try bench.spawn(iterations: try options.iterations(default: 80, maximum: 100_000))
    let ipcLevels = bench.levels.compactMap { IPCBench.Level(rawValue: $0.rawValue) }
    if !ipcLevels.isEmpty { results += try bench.ipc(IPCBench.Config(levels: ipcLevels)) }
    results += try bench.memory(rounds: 10, units: 16)
    try bench.finish(results)
  }
}

/// One `bench` invocation: the options checked before anything runs, the machine
/// read, progress on stderr, then the report on stdout (and the SVG).
struct BenchRun {
  var options: BenchReportOptions
  var levels: [IsolationLevel]
  var startedAt: Double
  var machine: MachineInfo

  init(options: BenchReportOptions) throws(BulkheadError) {
    self.options = options
    levels = try options.chosenLevels()
    if let svg = options.svg { try checkWritable(svg, field: "--svg") }
    startedAt = Double(wallClockNanoseconds()) / 1e9
    machine = MachineInfo.current(cgroupVersion: Cgroups.current?.version.rawValue)
    // The machine is named in the report itself (the table's first line, the
    // JSON's `machine`): stderr stays free for progress, and a refusal is one line.
    unblockForwardedSignals()
  }

  func progress(_ line: String) { printError("bulkhead: bench: \(line)") }

  func spawn(iterations: Int) throws(BulkheadError) -> [BenchResult] {
    let config = SpawnBench.Config(levels: levels, iterations: iterations, rootfs: defaultRootfsLocation())
    return try SpawnBench.run(config, progress: progress)
  }

  func memory(rounds: Int, units: Int) throws(BulkheadError) -> [BenchResult] {
    let config = MemoryBench.Config(
      levels: levels, units: units, rounds: rounds, probePath: probeLocation(),
      hostExecutable: currentExecutablePath(), rootfs: defaultRootfsLocation())
    return try MemoryBench.run(config, progress: progress)
  }

  /// What the reader must know about `results`: noisy distributions, a loaded
  /// machine (`loadNote` says what suffers most), what could not be measured.
  static func warnings(for results: [BenchResult], machine: MachineInfo, loadNote: String = "") -> [String] {
    var warnings = BenchCharts.noiseWarnings(results)
    if let load = CgroupFiles.read("/proc/loadavg")?.split(separator: " ").first, let value = Double(load),
      value > Double(machine.cpus) / 2
    {
      warnings.append(
        "load average \(load) on \(machine.cpus) CPUs when the bench ended: other work shared the machine\(loadNote)")
    }
    for r in results where r.unavailable != nil {
      warnings.append("not measured: \(r.kind) \(r.level) '\(r.name)': \(r.unavailable!)")
    }
    return warnings
  }

  /// Prints the report (tables or JSON) and writes the SVG.
  func finish(_ results: [BenchResult]) throws(BulkheadError) {
    let warnings = Self.warnings(for: results, machine: machine)
    let report = BenchReport(machine: machine, startedAt: startedAt, results: results, warnings: warnings)
    if let svg = options.svg {
      try writeText(BenchCharts.svg(for: report), to: svg, field: "--svg")
      progress("wrote \(svg)")
    }
    if options.json { return try printJSON(report) }
    print(machine.line)
    for kind in BenchCharts.kinds where results.contains(where: { $0.kind == kind }) {
      print("")
      if kind == "ipc" {
        print(IPCTable.render(results.filter { $0.kind == "ipc" }))
      } else {
        print(BenchCharts.tables(for: report, kinds: [kind]))
      }
    }
    let references = BenchCharts.referenceLines(for: report)
    if !references.isEmpty {
      print("")
      print("vs ref: the median's difference from the variant each one adds to:")
      for line in references { print("  \(line)") }
    }
    if let heap = BenchCharts.heapVerdict(results) {
      print("")
      print(heap)
    }
    let notes = results.flatMap { r in
      r.notes.filter { !$0.hasPrefix("marginal over") }.map { "\(r.kind) \(r.level) '\(r.name)': \($0)" }
    }
    if !notes.isEmpty {
      print("")
      print("notes:")
      for note in notes { print("  \(note)") }
    }
    if !warnings.isEmpty {
      print("")
      for warning in warnings { print("warning: \(warning)") }
    }
  }
}
