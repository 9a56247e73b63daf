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
        bulkhead compare --rootfs host --overlay   # the container level on the host's own programs

      --rootfs, --overlay and --overlay-dir apply to the container level of the scorecard \
      and the crash matrix, as in 'bulkhead run' (the crash matrix's containers get a \
      throwaway overlay for either flag: they are many); the cost is measured on the busybox root.
      """)

  @Flag(help: "A smaller run: fewer faults, siblings and samples.")
  var quick = false

  @Option(
    help: ArgumentHelp("Write the full report as JSON (schema bulkhead.compare/1) to this file.", valueName: "file"))
  var json: String?

  @Option(help: ArgumentHelp("Write a self-contained HTML report with its charts to this file.", valueName: "file"))
  var html: String?

  @Option(
    help: ArgumentHelp(
      "The container level's root, as in 'bulkhead run': a directory, or 'host' for the host view.",
      valueName: "dir|host"))
  var rootfs: String?

  @Flag(help: "The container level under a throwaway overlay, as in 'bulkhead run --overlay'.")
  var overlay = false

  @Option(
    help: ArgumentHelp(
      "The scorecard's container under an overlay whose writes are kept in DIR/upper, as in 'bulkhead run'.",
      valueName: "dir"))
  var overlayDir: String?

  /// The container level's flags: the default ones with the root chosen here.
  var containerFlags: RunFlags {
    var flags = RunFlags()
    flags.rootfs = rootfs
    flags.overlay = overlay
    flags.overlayDir = overlayDir
    return flags
  }

  func run() throws {
    guard geteuid() == 0 else {
      throw BulkheadError(
        code: .unsupported, step: "compare",
        reason: "the comparison needs root: containers, cgroups, the crash lab's box",
        hint: "run it as root (sudo bulkhead compare)")
    }
    if let json { try checkWritable(json, field: "--json") }
    // Contradicting flags are refused now; a root that is not there at the scorecard's
    // first container, a few seconds in (before the crash matrix and the cost).
    _ = try containerFlags.makeSpec(
      command: ["true"], hostEnvironment: hostEnvironment(), defaultRootfs: defaultRootfsLocation)
    unblockForwardedSignals()
    if let html { try checkWritable(html, field: "--html") }
    let report = try Self.measure(quick: quick, container: containerFlags) { printError("bulkhead: compare: \($0)") }
    if let json { try writeJSON(report, to: json, field: "--json") }
    if let html { try writeText(CompareView.html(report), to: html, field: "--html") }
    print(CompareView.text(report))
    if let html { printError("bulkhead: compare: the HTML report is \(html)") }
  }

  /// The container level's root flags as given, for the page; nil: the default root.
  static func describeRoot(_ flags: RunFlags) -> String? {
    let parts = [
      flags.rootfs.map { "--rootfs \($0)" }, flags.overlay ? "--overlay" : nil,
      flags.overlayDir.map { "--overlay-dir \($0)" },
    ].compactMap { $0 }
    return parts.isEmpty ? nil : parts.joined(separator: " ")
  }

  /// The whole comparison: scorecard, crash matrix, cost. `container` carries the
  /// container level's root (rootfs, overlay); the cost uses the default root.
  static func measure(quick: Bool, container: RunFlags = RunFlags(), progress: @escaping (String) -> Void)
    throws(BulkheadError) -> CompareReport
  {
    let started = monotonicNanoseconds()
    let startedAt = Double(wallClockNanoseconds()) / 1e9
    let machine = MachineInfo.current(cgroupVersion: Cgroups.current?.version.rawValue)
    progress("machine: \(machine.line)")
    let levels = IsolationLevel.allCases

    progress("1/3 the isolation scorecard")
    let runner = InspectRunner(probePath: probeLocation(), hostExecutable: currentExecutablePath())
    let scorecard = try InspectCommand.scorecard(
      host: try InspectRunner.host(), levels: levels, flags: container, runner: runner, progress: progress)

    progress("2/3 the crash matrix")
    var crash = CrashLab.Config()
    crash.levels = levels
    crash.faults = quick ? [.segv, .oom, .forkBomb, .orphan] : [.segv, .trap, .oom, .forkBomb, .orphan, .busyHang]
    if quick {
      crash.siblings = 2
      crash.windowMilliseconds = 400
    }
    let cells = try CrashCommand.lab(
      crash, rootfs: container.rootfs, overlay: container.overlay || container.overlayDir != nil, progress: progress
    ).run()
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
      scorecard: scorecard, crash: crashReport, cost: cost, containerRoot: Self.describeRoot(container))
  }
}
