import ArgumentParser
import BulkheadCore
import BulkheadLab
import BulkheadReports
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `bulkhead compare`: the scorecard, the blast radius and the cost of every level,
/// on one page. Nothing is computed here that `inspect`, `crash` and `bench` do not
/// compute: this command runs them and sets their results side by side.
struct CompareCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compare",
    abstract: "What each isolation level buys and costs on this machine, on one page (root).",
    discussion: """
      Runs, for task, thread, process and container: the isolation scorecard (inspect \
      --all-levels), a crash matrix over the faults that tell the story, and a cost \
      summary (spawn p50/p99, the 1-byte round trip and streaming through a pipe on \
      one core, memory per idle unit). A VM column gives Firecracker's published \
      figures, labelled as such. About 30 s on two cores; --quick about 25 s.

      Examples:
        bulkhead compare
        bulkhead compare --quick
        bulkhead compare --html report.html --json report.json
      """)

  @Flag(help: "A smaller run: fewer faults, siblings and samples.")
  var quick = false

  @Option(
    help: ArgumentHelp("Write the full report as JSON (schema bulkhead.compare/1) to this file.", valueName: "file"))
  var json: String?

  @Option(help: ArgumentHelp("Write a self-contained HTML report with its charts to this file.", valueName: "file"))
  var html: String?

  func run() throws {
    guard geteuid() == 0 else {
      throw BulkheadError(
        code: .unsupported, step: "compare",
        reason: "the comparison needs root: containers, cgroups, the crash lab's box",
        hint: "run it as root (sudo bulkhead compare)")
    }
    if let json { try checkWritable(json, field: "--json") }
    unblockForwardedSignals()
    if let html { try checkWritable(html, field: "--html") }
    let report = try Self.measure(quick: quick) { printError("bulkhead: compare: \($0)") }
    if let json { try writeJSON(report, to: json, field: "--json") }
    if let html { try writeText(CompareView.html(report), to: html, field: "--html") }
    print(CompareView.text(report))
    if let html { printError("bulkhead: compare: the HTML report is \(html)") }
  }

  /// The whole comparison: scorecard, crash matrix, cost.
  static func measure(quick: Bool, progress: @escaping (String) -> Void) throws(BulkheadError) -> CompareReport {
    let started = monotonicNanoseconds()
    let startedAt = Double(wallClockNanoseconds()) / 1e9
    let machine = MachineInfo.current(cgroupVersion: Cgroups.current?.version.rawValue)
    progress("machine: \(machine.line)")
    let levels = IsolationLevel.allCases

    progress("1/3 the isolation scorecard")
    let runner = InspectRunner(probePath: probeLocation(), hostExecutable: currentExecutablePath())
    let scorecard = try InspectCommand.scorecard(
      host: try InspectRunner.host(), levels: levels, flags: RunFlags(), runner: runner, progress: progress)

    progress("2/3 the crash matrix")
    var crash = CrashLab.Config()
    crash.levels = levels
    crash.faults = quick ? [.segv, .oom, .forkBomb, .orphan] : [.segv, .trap, .oom, .forkBomb, .orphan, .busyHang]
    if quick {
      crash.siblings = 2
      crash.windowMilliseconds = 400
    }
    let cells = try CrashCommand.lab(crash, progress: progress).run()
    let crashReport = CrashReport(
      machine: machine, startedAt: startedAt, siblings: crash.siblings, windowMilliseconds: crash.windowMilliseconds,
      levels: levels, faults: crash.faults, cells: cells)

    progress("3/3 the cost")
    let rootfs = defaultRootfsLocation()
    var results = try SpawnBench.run(
      SpawnBench.Config(levels: levels, iterations: quick ? 12 : 30, warmup: 3, rootfs: rootfs, heapBytes: 0),
      progress: progress)
    results += try IPCBench.run(
      IPCBench.Config(
        levels: IPCBench.Level.allCases, transports: [.pipe, .asyncChannel], styles: [.blocking], sizes: [1],
        iterations: quick ? 300 : 1500, placements: [.sameCore], stream: true, probePath: probeLocation(),
        rootfs: rootfs), progress: progress)
    results += try MemoryBench.run(
      MemoryBench.Config(
        levels: levels, units: quick ? 4 : 8, rounds: quick ? 2 : 4, probePath: probeLocation(),
        hostExecutable: currentExecutablePath(), rootfs: rootfs), progress: progress)
    let cost = BenchReport(
      machine: machine, startedAt: startedAt, results: results,
      warnings: BenchRun.warnings(for: results, machine: machine))
    return CompareReport(
      machine: machine, startedAt: startedAt, seconds: Double(monotonicNanoseconds() - started) / 1e9, quick: quick,
      scorecard: scorecard, crash: crashReport, cost: cost)
  }
}
