import ArgumentParser
import BulkheadCore
import BulkheadLab
import BulkheadReports
import BulkheadSpec
import BulkheadSystem
import BulkheadWorkloads

#if canImport(Glibc)
  import Glibc
#endif

/// `bulkhead bench ipc`: round-trip latency and streaming throughput between two
/// peers at the same level, per transport, waiting style and CPU placement.
public struct BenchIPCCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "ipc",
    abstract: "Round-trip latency and streaming throughput between two peers at each level.",
    discussion: """
      Peers: two async tasks (an async channel), two threads (atomics with spinning, mutex and \
      condition variable, pipe, eventfd), two processes (pipe, socketpair, eventfd, futex, \
      shm-ring), and the host and a container across the namespace boundary (the same, plus a \
      Unix socket by path in a bind-mounted directory, and an abstract Unix socket, which does \
      not cross a network namespace and is reported as unavailable). The responder of a process \
      or container is a real unit: the ipc-peer workload. Styles: blocking calls, non-blocking \
      with epoll, busy polling; a futex or condition variable only blocks, spinning only polls. \
      Both peers are pinned: same core, or different cores, printed with every row (tasks \
      also run once where the cooperative pool puts them, then on executor threads pinned to \
      the CPUs). Each measurement is bounded in time (busy polling on one core costs a time \
      slice per round trip), after a warm-up. The JSON is described in docs/json-bench.md.

      Examples:
        bulkhead bench ipc                         # everything, about 30 s
        bulkhead bench ipc --levels process --transport pipe --sizes 4
        bulkhead bench ipc --levels container --transport shm-ring
        bulkhead bench ipc --levels thread --json > ipc.json
      """)

  @OptionGroup public var options: BenchReportOptions

  @Option(
    name: .customLong("transport"),
    help: ArgumentHelp(
      "Transports, repeatable or comma-separated (\(IPCTransport.allCases.map(\.rawValue).joined(separator: ", "))); default: all of each level.",
      valueName: "name"))
  public var transports: [String] = []

  @Option(
    name: .customLong("style"),
    help: ArgumentHelp(
      "Styles, repeatable or comma-separated (blocking, epoll, busy-poll); default: all.", valueName: "style"))
  public var styles: [String] = []

  @Option(help: ArgumentHelp("Round-trip message sizes in bytes, comma-separated (1 B to 16 MiB).", valueName: "sizes"))
  public var sizes: String = "1,4096,65536"

  @Option(
    help: ArgumentHelp("same-core, different-cores or both (default: both with 2 CPUs or more).", valueName: "where"))
  public var placement: String?

  @Option(help: ArgumentHelp("Milliseconds per measurement at most (default 60).", valueName: "ms"))
  public var budget: Int = 60

  @Flag(help: "Round trips only, no streaming throughput.")
  public var noStream = false

  public init() {}

  public func run() throws {
    // Usage errors first, before the machine line and any measurement.
    var config = try makeConfig(levels: try options.chosenLevels().map(\.rawValue))
    _ = try IPCBench.plan(config)
    // Asked for by default rather than by name, the container level is skipped,
    // and says why, where it cannot run; named, it is an error (125) instead.
    var skipped: [BenchResult] = []
    if options.levels == nil, let reason = Self.containerUnavailable() {
      config.levels.removeAll { $0 == .container }
      skipped.append(
        BenchResult(
          kind: "ipc", level: IPCBench.Level.container.reportName, name: "every transport", metric: "latency",
          unavailable: reason))
    }
    let bench = try BenchRun(options: options)
    let results = try bench.ipc(config) + skipped
    try bench.finishIPC(results)
  }

  /// Why the host-container measurements cannot run here, if they cannot.
  static func containerUnavailable() -> String? {
    if getuid() != 0 { return "needs root (run as root, or pass --levels task,thread,process)" }
    guard Launcher.probe(inRootfs: defaultRootfsLocation()) != nil else {
      return "no Rootfs/ with bin/bulkhead-probe (run Scripts/build and Scripts/rootfs, or set BULKHEAD_ROOTFS)"
    }
    return nil
  }

  /// The flags as an `IPCBench.Config`; usage errors name the flag.
  func makeConfig(levels: [String]) throws(BulkheadError) -> IPCBench.Config {
    var config = IPCBench.Config()
    config.levels = levels.compactMap(IPCBench.Level.init(rawValue:))
    config.transports = try Self.list(transports, flag: "--transport", IPCTransport.init(rawValue:))
    config.styles = try Self.list(styles, flag: "--style", IPCStyle.init(rawValue:))
    var parsed: [Int] = []
    for word in sizes.split(separator: ",") {
      guard let n = Int(word.trimmingCharacters(in: " ")), n >= 1, n <= 16 << 20 else {
        throw .invalidSpec(
          field: "--sizes", value: String(word), reason: "a size is a byte count from 1 to 16777216",
          hint: "for example --sizes 1,4096,65536")
      }
      parsed.append(n)
    }
    guard !parsed.isEmpty else { throw .invalidSpec(field: "--sizes", value: sizes, reason: "no size given") }
    config.sizes = parsed
    config.iterations = try options.iterations(default: 2000, maximum: 1_000_000)
    switch placement {
    case nil: config.placements = nil
    case "both": config.placements = [.sameCore, .differentCores]
    case let text?:
      guard let kind = IPCBench.PlacementKind(rawValue: text) else {
        throw .invalidSpec(
          field: "--placement", value: text, reason: "unknown placement",
          hint: "choose same-core, different-cores or both")
      }
      config.placements = [kind]
    }
    guard budget >= 1, budget <= 600_000 else {
      throw .invalidSpec(field: "--budget", value: "\(budget)", reason: "must be between 1 and 600000 ms")
    }
    config.budgetMilliseconds = budget
    config.stream = !noStream
    return config
  }

  /// Parses repeated and comma-separated names; nil when none was given.
  static func list<T>(_ values: [String], flag: String, _ make: (String) -> T?) throws(BulkheadError) -> [T]? {
    let words = values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: " ") } }
    guard !words.isEmpty else { return nil }
    var out: [T] = []
    for word in words {
      guard let value = make(word) else {
        throw .invalidSpec(field: flag, value: word, reason: "unknown name", hint: "see 'bulkhead bench ipc --help'")
      }
      out.append(value)
    }
    return out
  }
}

extension BenchRun {
  /// The IPC measurements, with the probe and rootfs found as `run` finds them.
  func ipc(_ config: IPCBench.Config) throws(BulkheadError) -> [BenchResult] {
    var config = config
    config.probePath = config.probePath ?? probeLocation()
    config.rootfs = config.rootfs ?? defaultRootfsLocation()
    return try IPCBench.run(config, progress: progress)
  }

  /// The IPC report: JSON, or the machine line, one table with the placement of
  /// every row, and the warnings.
  func finishIPC(_ results: [BenchResult]) throws(BulkheadError) {
    // A busy poller preempted by another program waits whole time slices, evenly:
    // a spread check does not see that, the load average does.
    let warnings = Self.warnings(for: results, machine: machine, loadNote: " (busy polling suffers most)")
    let report = BenchReport(machine: machine, startedAt: startedAt, results: results, warnings: warnings)
    if let svg = options.svg {
      try writeText(BenchCharts.svg(for: report), to: svg, field: "--svg")
      progress("wrote \(svg)")
    }
    if options.json { return try printJSON(report) }
    print(machine.line)
    print("")
    print(IPCTable.render(results))
    if let target = IPCBench.ringTarget(results) {
      print("")
      print(
        "target: host-container shm-ring streaming >= \(IPCTable.throughput(IPCBench.ringTargetBytesPerSecond)): "
          + "\(IPCTable.throughput(target.result.distribution!.p50)) (p50, \(target.result.placement ?? "")): "
          + (target.met ? "met" : "missed"))
    }
    if !warnings.isEmpty {
      print("")
      for warning in warnings { print("warning: \(warning)") }
    }
  }
}

/// The `bench ipc` table: one row per measurement, its placement beside it.
enum IPCTable {
  static func render(_ results: [BenchResult]) -> String {
    var rows: [[String]] = []
    for r in results {
      let head: [String] = [r.level, r.name, r.placement ?? ""]
      guard let d = r.distribution else {
        // The reason is long: it is printed with the warnings under the table.
        rows.append(head + ["unavailable", "", "", "", ""])
        continue
      }
      let values: [UInt64] = [d.p50, d.p90, d.p99, d.max]
      let cells: [String] = values.map { r.metric == "throughput" ? throughput($0) : latency($0) }
      rows.append(head + cells + [String(d.count)])
    }
    var table = ReportTable(headers: ["level", "measure", "placement", "p50", "p90", "p99", "max", "n"], rows: rows)
    table.maxWidth = 120
    return table.render(colour: false)
  }

  /// Throughput's p90 is read as "90 % of the samples were at most this", as for
  /// latency: for throughput the low end is the bad one, so look at p50 and the spread.
  static func throughput(_ v: UInt64) -> String {
    let value = Double(v)
    if value >= 1e9 { return format(value / 1e9) + " GB/s" }
    if value >= 1e6 { return format(value / 1e6) + " MB/s" }
    return format(value / 1e3) + " kB/s"
  }

  static func latency(_ v: UInt64) -> String {
    let value = Double(v)
    if value >= 1e6 { return format(value / 1e6) + " ms" }
    if value >= 1e3 { return format(value / 1e3) + " µs" }
    return "\(v) ns"
  }

  /// Three significant digits.
  static func format(_ x: Double) -> String {
    let digits = x >= 100 ? 0 : x >= 10 ? 1 : 2
    var scaled = x
    for _ in 0..<digits { scaled *= 10 }
    let whole = Int(scaled.rounded())
    if digits == 0 { return "\(whole)" }
    var text = String(whole)
    while text.count <= digits { text = "0" + text }
    text.insert(".", at: text.index(text.endIndex, offsetBy: -digits))
    return text
  }
}

extension Substring {
  fileprivate func trimmingCharacters(in set: Character) -> String {
    String(drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
  }
}
