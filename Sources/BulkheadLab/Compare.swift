import BulkheadReports
import BulkheadSpec

/// `bulkhead compare`: the one-page answer to "what does each isolation level buy
/// me, and what does it cost?". Every number and verdict here comes from the
/// scorecard (`inspect`), the crash lab and the cost lab of the same run: this
/// type only sets them side by side.
public struct CompareReport: Codable, Sendable {
  public var schema = "bulkhead.compare/1"
  public var machine: MachineInfo
  /// Wall-clock start, seconds since the epoch, and how long the run took.
  public var startedAt: Double
  public var seconds: Double
  public var quick: Bool
  /// The container level's root flags (`--rootfs host --overlay`); nil: the default root.
  public var containerRoot: String?
  public var scorecard: Scorecard
  public var crash: CrashReport
  public var cost: BenchReport
  /// One per level, in order: the numbers of the one-page table.
  public var levels: [LevelSummary]
  /// The chapter's last rung, from published figures: not measured here.
  public var vm: PublishedVM

  public init(
    machine: MachineInfo, startedAt: Double, seconds: Double, quick: Bool, scorecard: Scorecard, crash: CrashReport,
    cost: BenchReport, containerRoot: String? = nil
  ) {
    self.machine = machine
    self.containerRoot = containerRoot
    self.startedAt = startedAt
    self.seconds = seconds
    self.quick = quick
    self.scorecard = scorecard
    self.crash = crash
    self.cost = cost
    levels = crash.levels.map { LevelSummary(level: $0, scorecard: scorecard, crash: crash, cost: cost) }
    vm = PublishedVM()
  }
}

/// What one level bought and cost in this run.
public struct LevelSummary: Codable, Sendable, Equatable {
  public var level: IsolationLevel
  public var namespacesIsolated: Int
  public var namespacesTotal: Int
  /// Of the privileged operations that compare (verdict not n/a), those denied or
  /// confined to its own instance (VerdictRules.checkCounts); `checksTotal` counts those that compare.
  public var checksDenied: Int
  public var checksTotal: Int
  public var crashContained: Int
  public var crashPartial: Int
  public var crashSpread: Int
  /// The spawn variant that stands for the level, and its p50 and p99 (ns).
  public var spawnVariant: String?
  public var spawnP50: UInt64?
  public var spawnP99: UInt64?
  /// The 1-byte round trip on one core (ns), and its transport.
  public var roundTripTransport: String?
  public var roundTripP50: UInt64?
  /// Streaming throughput on one core (bytes/s, p50).
  public var streamP50: UInt64?
  /// Memory of one idle unit (bytes, p50).
  public var memoryPerUnit: UInt64?
  public var verdict: String

  init(level: IsolationLevel, scorecard: Scorecard, crash: CrashReport, cost: BenchReport) {
    self.level = level
    let rows = scorecard.columns.first { $0.level == level.rawValue }?.rows ?? []
    let namespaces = rows.filter { $0.property.hasSuffix(" namespace") }
    namespacesIsolated = namespaces.filter { $0.verdict == .isolated }.count
    namespacesTotal = namespaces.count
    let counts = VerdictRules.checkCounts(rows)
    checksDenied = counts.denied
    checksTotal = counts.compared
    let cells = crash.cells.filter { $0.level == level && $0.verdict != .notApplicable }
    crashContained = cells.filter { $0.verdict == .contained }.count
    crashPartial = cells.filter { $0.verdict == .partial }.count
    crashSpread = cells.filter { $0.verdict == .spread }.count

    let spawnName = Self.spawnVariants[level]
    let spawn = cost.results.first { $0.kind == "spawn" && $0.level == level.rawValue && $0.name == spawnName }
    spawnVariant = spawn?.distribution != nil ? spawnName : nil
    spawnP50 = spawn?.distribution?.p50
    spawnP99 = spawn?.distribution?.p99
    let ipcLevel = level == .container ? "host-container" : level.rawValue
    let oneCore = cost.results.filter {
      $0.kind == "ipc" && $0.level == ipcLevel && ($0.placement ?? "").hasPrefix("same core")
    }
    let rtt = oneCore.first { $0.metric == "latency" && $0.name.hasSuffix("rtt 1B") && $0.distribution != nil }
    roundTripTransport = rtt.map { String($0.name.split(separator: " ").first ?? "") }
    roundTripP50 = rtt?.distribution?.p50
    streamP50 = oneCore.first { $0.metric == "throughput" && $0.distribution != nil }?.distribution?.p50
    let memoryName = level == .container ? "idle container" : "idle \(level.rawValue)"
    memoryPerUnit =
      cost.results.first { $0.kind == "memory" && $0.level == level.rawValue && $0.name == memoryName }?
      .distribution?.p50
    verdict = ""
    verdict = Self.verdict(self)
  }

  /// The spawn variant that is "starting one unit" at each level: for a container,
  /// the rung of the cost ladder that is `bulkhead run`'s default (six namespaces,
  /// the rootfs, the seccomp filter, Docker's 14 capabilities).
  static let spawnVariants: [IsolationLevel: String] = [
    .task: "Task create+await", .thread: "pthread_create+join", .process: "clone3+exec (bulkhead)",
    .container: "+capabilities dropped",
  ]

  static func verdict(_ s: LevelSummary) -> String {
    let crashes = s.crashContained + s.crashPartial + s.crashSpread
    let isolation =
      s.namespacesIsolated == 0
      ? "no namespace of its own"
      : "\(s.namespacesIsolated) of \(s.namespacesTotal) namespaces of its own"
    let faults =
      crashes == 0
      ? "no crash scenario run"
      : s.crashSpread == 0
        ? "every fault stayed inside (\(s.crashPartial) of \(crashes) touched something else)"
        : "\(s.crashSpread) of \(crashes) faults took its neighbours down"
    let cost = [
      s.spawnP50.map { "starts in \(Format.duration($0))" }, s.memoryPerUnit.map { "idles in \(Format.bytes($0))" },
    ].compactMap { $0 }.joined(separator: ", ")
    return "\(isolation); \(faults)" + (cost.isEmpty ? "" : "; \(cost)")
  }
}

/// Firecracker's published figures: the VM rung of the chapter's ladder, shown
/// beside the measured levels and labelled as published.
public struct PublishedVM: Codable, Sendable, Equatable {
  public var name = "Firecracker microVM"
  public var source = "published by the Firecracker project (its specification and paper); not measured here"
  public var boot = "<= 125 ms to guest init"
  public var memoryOverhead = "<= 5 MiB per microVM (VMM)"
  public var isolation = "its own guest kernel behind KVM (hardware virtualization)"
  public var crash = "a guest kernel panic ends that VM only"
  public var verdict = "the strongest wall: a kernel of its own; costs a boot and a guest kernel's memory"
}

/// Numbers as the reports print them.
public enum Format {
  public static func duration(_ ns: UInt64) -> String {
    let value = Double(ns)
    if value < 1_000 { return "\(Int(value)) ns" }
    if value < 1_000_000 { return decimals(value / 1_000) + " us" }
    if value < 1_000_000_000 { return decimals(value / 1_000_000) + " ms" }
    return decimals(value / 1_000_000_000) + " s"
  }

  public static func bytes(_ n: UInt64) -> String {
    let value = Double(n)
    if value < 1024 { return "\(n) B" }
    if value < 1_048_576 { return decimals(value / 1024) + " KiB" }
    if value < 1_073_741_824 { return decimals(value / 1_048_576) + " MiB" }
    return decimals(value / 1_073_741_824) + " GiB"
  }

  public static func rate(_ bytesPerSecond: UInt64) -> String {
    let value = Double(bytesPerSecond)
    if value >= 1e9 { return decimals(value / 1e9) + " GB/s" }
    if value >= 1e6 { return decimals(value / 1e6) + " MB/s" }
    return decimals(value / 1e3) + " kB/s"
  }

  /// Three significant digits at most.
  static func decimals(_ value: Double) -> String {
    let places = value >= 100 ? 0 : value >= 10 ? 1 : 2
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    if places == 0 { return "\(Int(rounded))" }
    let whole = Int(rounded)
    let fraction = Int(((rounded - Double(whole)) * scale).rounded())
    let digits = String(fraction)
    return "\(whole)." + String(repeating: "0", count: max(0, places - digits.count)) + digits
  }
}

/// The terminal page and the HTML report of a comparison.
public enum CompareView {
  static let vmColumn = "VM (published)"

  /// The rows of the one-page table: the levels as columns, VM last.
  public static func rows(_ report: CompareReport) -> (headers: [String], rows: [[String]]) {
    let levels = report.levels
    func row(_ name: String, _ value: (LevelSummary) -> String, vm: String) -> [String] {
      [name] + levels.map(value) + [vm]
    }
    var rows: [[String]] = []
    rows.append(
      row("namespaces of its own", { "\($0.namespacesIsolated)/\($0.namespacesTotal)" }, vm: "a kernel of its own"))
    rows.append(row("privileged ops denied", { "\($0.checksDenied)/\($0.checksTotal)" }, vm: "all (guest only)"))
    for fault in report.crash.faults {
      rows.append(
        row(
          "crash: \(fault.rawValue)",
          { s in
            guard let cell = report.crash.cell(fault, s.level) else { return "" }
            return cell.verdict == .notApplicable
              ? "n/a" : "\(cell.verdict.rawValue) \(cell.siblingsAlive)/\(cell.siblings)"
          }, vm: fault == report.crash.faults.first ? "guest only" : ""))
    }
    rows.append(row("spawn p50", { $0.spawnP50.map(Format.duration) ?? "n/a" }, vm: report.vm.boot))
    rows.append(row("spawn p99", { $0.spawnP99.map(Format.duration) ?? "n/a" }, vm: ""))
    rows.append(
      row("round trip 1 B (p50)", { s in s.roundTripP50.map { Format.duration($0) } ?? "n/a" }, vm: "n/a"))
    rows.append(row("  through", { $0.roundTripTransport ?? "" }, vm: ""))
    rows.append(row("streaming (p50)", { $0.streamP50.map(Format.rate) ?? "n/a" }, vm: "n/a"))
    rows.append(
      row("memory per idle unit", { $0.memoryPerUnit.map(Format.bytes) ?? "n/a" }, vm: report.vm.memoryOverhead))
    return ([""] + levels.map(\.level.rawValue) + [vmColumn], rows)
  }

  /// The terminal page.
  public static func text(_ report: CompareReport) -> String {
    let table = rows(report)
    var lines = [
      "What each isolation level buys and costs on this machine (\(report.quick ? "quick run, " : "")\(Format.decimals(report.seconds)) s)",
      "machine: \(report.machine.line)",
      "",
      ReportTable(headers: table.headers, rows: table.rows).render(),
      "",
    ]
    for s in report.levels { lines.append("\(s.level.rawValue): \(s.verdict)") }
    lines.append("VM: \(report.vm.verdict); \(report.vm.source)")
    lines.append("")
    lines += hostPathLines(report.scorecard, containerRoot: report.containerRoot)
    lines.append(
      "crash cells: verdict and siblings still beating; spawn: from the call to the unit's exit; round trip and "
        + "streaming on one core (peers pinned to cpu 0); memory by cgroup accounting.")
    let left = report.crash.leftoversTotal
    lines.append(
      left == 0
        ? "Nothing was left behind by any crash scenario (processes, mounts, cgroups, namespaces, temp files, descriptors)."
        : "Left behind by the crash scenarios: \(left) items (see the JSON: crash.cells[].leftovers).")
    if !report.cost.warnings.isEmpty {
      for warning in report.cost.warnings { lines.append("warning: \(warning)") }
    }
    return lines.joined(separator: "\n")
  }

  /// What the container level's root exposes of the host, beside the host view's
  /// (the scorecard's "host paths in view" row of every column past the levels:
  /// the container, and "host view" when the container had another root).
  static func hostPathLines(_ card: Scorecard, containerRoot: String? = nil) -> [String] {
    let rows = card.columns.filter {
      $0.level == IsolationLevel.container.rawValue || IsolationLevel(rawValue: $0.level) == nil
    }.compactMap { column in column.rows.first { $0.property == "host paths in view" }.map { (column.level, $0) } }
    guard let first = rows.first?.1 else { return [] }
    return ["host paths in view (the host's very own files, of \(first.host)):"]
      + rows.map { level, row in
        let label =
          level == IsolationLevel.container.rawValue ? containerRoot.map { "\(level) (\($0))" } ?? level : level
        return "  \(label): \(row.workload) (\(row.verdict.rawValue))"
      } + [""]
  }

  /// The self-contained HTML report: the table, the verdicts, and the charts.
  public static func html(_ report: CompareReport) -> String {
    let costCharts = BenchCharts.charts(for: report.cost).map { $0.renderElement() }
    var page = HTMLPage(title: "Bulkhead: what each isolation level buys and costs")
    let table = rows(report)
    page.add(
      HTMLPage.Section(
        heading: "The comparison",
        blocks: [
          .paragraph(
            "Measured on \(report.machine.line), in \(Format.decimals(report.seconds)) s\(report.quick ? " (quick run)" : ""). The VM column is Firecracker's published figures, not measured here."
          ),
          .table(headers: table.headers.map { $0.isEmpty ? "property" : $0 }, rows: table.rows),
          .table(
            headers: ["level", "verdict"],
            rows: report.levels.map { [$0.level.rawValue, $0.verdict] } + [["VM", report.vm.verdict]]),
        ]))
    page.add(
      HTMLPage.Section(
        heading: "What the workload sees: the isolation scorecard",
        blocks: [
          .paragraph(
            "Each property of the workload's view against the host's: isolated (its own), reduced (less than the host's), shared (the host's)."
          ),
          .svg(scorecardGrid(report.scorecard).document().renderElement()),
        ]))
    page.add(
      HTMLPage.Section(
        heading: "Blast radius: what else a fault took down",
        blocks: [
          .paragraph(
            "\(report.crash.siblings) heartbeat siblings beside one faulty workload per cell, all in a safety cgroup with a canary process beside them."
          ),
          .svg(CrashMatrix.grid(report.crash).document().renderElement()),
          .table(
            headers: ["fault", "level", "verdict", "why"],
            rows: report.crash.cells.filter { $0.verdict != .notApplicable }.map {
              [$0.fault.rawValue, $0.level.rawValue, $0.verdict.rawValue, $0.explanation]
            }),
        ]))
    page.add(
      HTMLPage.Section(
        heading: "What it costs: the distributions",
        blocks: [.paragraph("Spawn, IPC and memory per level, as measured in this run.")] + costCharts.map { .svg($0) })
    )
    return page.render()
  }

  /// The scorecard as a colour grid: a row per property, a column per level.
  static func scorecardGrid(_ card: Scorecard) -> SVGColorGrid {
    let properties = card.columns.first?.rows.map(\.property) ?? []
    let rows = properties.enumerated().map { index, property in
      SVGColorGrid.Row(
        header: property,
        cells: card.columns.map { column in
          guard column.rows.indices.contains(index) else {
            return SVGColorGrid.Cell(text: "n/a", verdict: .notApplicable)
          }
          let row = column.rows[index]
          let verdict: SVGColorGrid.Verdict =
            switch row.verdict {
            case .isolated: .contained
            case .reduced: .partial
            case .shared: .spread
            case .unknown: .notApplicable
            }
          return SVGColorGrid.Cell(text: row.verdict.rawValue, verdict: verdict, tooltip: row.reason ?? row.workload)
        })
    }
    return SVGColorGrid(
      title: "Isolation scorecard", subtitle: "what each level's workload sees and may do, against the host",
      columns: card.columns.map(\.level), rows: rows,
      legend: [
        (.contained, "isolated: its own"), (.partial, "reduced: less than the host's"),
        (.spread, "shared: the host's"), (.notApplicable, "n/a: not known"),
      ])
  }
}
