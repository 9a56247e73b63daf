import ArgumentParser
import BulkheadCore
import BulkheadLab
import BulkheadReports
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `bench spawn --count N --concurrency C [--hold]`: many sandboxes under one
/// supervisor thread (`FleetBench`), every outcome collected.
public struct FleetOptions: ParsableArguments {
  @Option(help: ArgumentHelp("Start this many sandboxes under one supervisor thread.", valueName: "n"))
  public var count: Int?

  @Option(help: ArgumentHelp("With --count: how many run at once (default 50).", valueName: "n"))
  public var concurrency: Int?

  @Flag(help: "With --count: hold each wave until all of it runs, then end it together (for never-ending workloads).")
  public var hold = false

  @Option(help: ArgumentHelp("With --count: the level of every sandbox (default container).", valueName: "level"))
  public var level: String?

  @Option(
    help: ArgumentHelp(
      "With --count: the built-in workload each runs (default 'exit 0'; 'block-hang' with --hold).",
      valueName: "workload"))
  public var workload: String?

  public init() {}

  /// The fleet options mean nothing without --count: say so rather than ignore them.
  func refuseWithoutCount() throws(BulkheadError) {
    let given = [
      ("--concurrency", concurrency != nil), ("--hold", hold), ("--level", level != nil),
      ("--workload", workload != nil),
    ]
    if let (flag, _) = given.first(where: { $0.1 }) {
      throw .invalidSpec(field: flag, value: nil, reason: "only applies with --count", hint: "add --count N")
    }
  }

  func run(options: BenchReportOptions) throws(BulkheadError) {
    guard let count, (1...100_000).contains(count) else {
      throw .invalidSpec(
        field: "--count", value: "\(count ?? 0)", reason: "must be between 1 and 100000", hint: "e.g. --count 1000")
    }
    let concurrency = self.concurrency ?? min(50, count)
    guard (1...4096).contains(concurrency) else {
      throw .invalidSpec(
        field: "--concurrency", value: "\(concurrency)", reason: "must be between 1 and 4096",
        hint: "e.g. --concurrency 50")
    }
    if options.svg != nil || options.levels != nil || options.iterations != nil {
      throw .invalidSpec(
        field: options.svg != nil ? "--svg" : options.levels != nil ? "--levels" : "--iterations", value: nil,
        reason: "does not apply with --count", hint: "use --level and --concurrency with --count")
    }
    var flags = RunFlags()
    flags.level = level ?? IsolationLevel.container.rawValue
    flags.workload = [workload ?? (hold ? "block-hang" : "exit 0")]
    let spec = try flags.makeSpec(command: [], hostEnvironment: hostEnvironment(), defaultRootfs: defaultRootfsLocation)
    // What the sandboxes print is not the benchmark's output.
    let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
    defer { close(null) }
    let launcher = Launcher(probePath: probeLocation(), hostExecutable: currentExecutablePath(), stdoutFD: null)
    let machine = MachineInfo.current(cgroupVersion: Cgroups.current?.version.rawValue)
    let result = try FleetBench.run(
      spec, config: FleetBench.Config(count: count, concurrency: concurrency, hold: hold), launcher: launcher
    ) { printError("bulkhead: \($0)") }
    if options.json { return try printJSON(FleetReport(machine: machine, fleet: result)) }
    print(machine.line)
    print(FleetReport.text(result))
  }
}

/// `bench spawn --count --json` (schema bulkhead.bench-fleet/1, docs/json-bench.md).
struct FleetReport: Encodable {
  var schema = "bulkhead.bench-fleet/1"
  var machine: MachineInfo
  var fleet: FleetBench.Result

  static func text(_ r: FleetBench.Result) -> String {
    func ms(_ ns: UInt64?) -> String { ns.map { String(format2: Double($0) / 1e6) + " ms" } ?? "n/a" }
    let outcomes = r.outcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    let lines = [
      "\(r.count) \(r.level) sandboxes (\(r.workload)), up to \(r.concurrency) at once\(r.held ? ", each wave held and released together" : ""), one supervisor thread",
      "collected:     \(r.collected) of \(r.count) outcomes (\(outcomes))\(r.collected == r.count ? "" : "  MISSING \(r.count - r.collected)")",
      "peak running:  \(r.peakRunning) at once",
      "time:          \(String(format2: r.seconds)) s (\(String(format2: Double(r.count) / max(r.seconds, 1e-9))) sandboxes/s)",
      "spawn:         p50 \(ms(r.spawn?.p50))  p99 \(ms(r.spawn?.p99))  max \(ms(r.spawn?.max))",
      "supervisor:    RSS \(r.rssBeforeKiB) KiB before, \(r.rssPeakKiB) at the peak, \(r.rssAfterKiB) after: "
        + "\(String(format2: r.rssPerConcurrentSandboxKiB)) KiB per sandbox alive at the peak (\(r.peakRunning)), "
        + "\(String(format2: r.rssGrowthPerSandboxKiB)) KiB kept per sandbox over the run (target <= 16)",
      "descriptors:   \(r.descriptorsBefore) before, \(r.descriptorsPeak) at the peak, \(r.descriptorsAfter) after",
    ]
    return lines.joined(separator: "\n")
  }
}

extension String {
  /// Two decimals, without Foundation.
  init(format2 value: Double) {
    let hundredths = Int((value * 100).rounded())
    let sign = hundredths < 0 ? "-" : ""
    let a = abs(hundredths)
    self = "\(sign)\(a / 100).\(a % 100 < 10 ? "0" : "")\(a % 100)"
  }
}
