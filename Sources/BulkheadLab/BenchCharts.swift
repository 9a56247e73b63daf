import BulkheadReports

/// The cost lab's results as text tables and SVG charts: one place, so that
/// `bench` and a later `compare` draw them alike.
public enum BenchCharts {
  /// Kinds in the order they are shown.
  public static let kinds = ["spawn", "ipc", "memory"]

  /// One chart per kind and metric present: box plots of latency and throughput
  /// distributions grouped by level, a bar chart of memory per unit (its median).
  public static func charts(for report: BenchReport) -> [SVGDocument] {
    var out: [SVGDocument] = []
    let subtitle = report.machine.line
    for kind in kinds {
      let results = report.results.filter { $0.kind == kind && $0.distribution != nil }
      for metric in ["latency", "throughput"] {
        let chosen = results.filter { $0.metric == metric }
        guard !chosen.isEmpty else { continue }
        let boxes = chosen.map { r in
          let d = r.distribution!
          // Names repeat across placements (same core, different cores): say which.
          return SVGBoxPlot.Box(
            label: r.placement.map { "\(r.name), \($0)" } ?? r.name, group: r.level, min: Double(d.min),
            p25: Double(d.p25), p50: Double(d.p50),
            p75: Double(d.p75), p90: Double(d.p90), p99: Double(d.p99), max: Double(d.max))
        }
        let title =
          kind == "spawn"
          ? "Spawn: from the spawn call to the workload's exit, per level"
          : "\(kind.uppercased()) \(metric) per level"
        out.append(
          SVGBoxPlot(
            title: title, subtitle: subtitle, unit: metric == "latency" ? .nanoseconds : .bytesPerSecond,
            boxes: boxes
          ).document())
      }
      let memory = results.filter { $0.metric == "memory" }
      if !memory.isEmpty {
        out.append(
          SVGBarChart(
            title: "Memory: what one more idle unit costs (median of the rounds)", subtitle: subtitle, unit: .bytes,
            bars: memory.map { SVGBarChart.Bar(label: $0.name, value: Double($0.distribution!.p50), group: $0.level) }
          ).document())
      }
    }
    return out
  }

  /// All charts of the report in one SVG, one under the other.
  public static func svg(for report: BenchReport) -> String {
    let parts = charts(for: report)
    return SVGDocument.stacked(parts, title: "bulkhead bench: " + report.machine.line).render()
  }

  /// The text tables, one per kind (of `kinds`, default all), as `bench` prints them.
  public static func tables(for report: BenchReport, kinds: [String] = BenchCharts.kinds) -> String {
    var out: [String] = []
    for kind in kinds {
      let results = report.results.filter { $0.kind == kind }
      guard !results.isEmpty else { continue }
      var rows: [[String]] = []
      let memory = kind == "memory"
      for r in results {
        let unit: SVGUnit = r.metric == "memory" ? .bytes : r.metric == "throughput" ? .bytesPerSecond : .nanoseconds
        guard let d = r.distribution else {
          // The reason is long: it goes to the warnings, under the table.
          rows.append([r.level, r.name, "n/a (see warnings)"])
          continue
        }
        var row = [r.level, r.name, unit.format(Double(d.p50))]
        if memory {
          row += [unit.format(Double(d.min)), unit.format(Double(d.max)), "\(d.count)"]
        } else {
          row += [unit.format(Double(d.p90)), unit.format(Double(d.p99)), unit.format(Double(d.max)), "\(d.count)"]
          if kind == "spawn" {
            row.append(
              SpawnBench.marginal(of: r, in: report.results).map {
                ($0.nanoseconds >= 0 ? "+" : "-") + SVGUnit.nanoseconds.format(Double(abs($0.nanoseconds)))
              } ?? "")
          }
        }
        rows.append(row)
      }
      let headers: [String]
      switch kind {
      case "spawn": headers = ["level", "variant", "p50", "p90", "p99", "max", "n", "vs ref (p50)"]
      case "memory": headers = ["level", "unit", "per unit (p50)", "min", "max", "rounds"]
      default: headers = ["level", "measure", "p50", "p90", "p99", "max", "n"]
      }
      var table = ReportTable(headers: headers, rows: rows)
      table.maxWidth = 60
      out.append(table.render(colour: false))
    }
    return out.joined(separator: "\n\n")
  }

  /// The reference each spawn variant's marginal cost is taken against, as lines
  /// for under the table.
  public static func referenceLines(for report: BenchReport) -> [String] {
    var lines: [String] = []
    for r in report.results where r.kind == "spawn" {
      if let m = SpawnBench.marginal(of: r, in: report.results) { lines.append("\(r.name): vs '\(m.reference)'") }
    }
    return lines
  }

  /// Warnings from the samples: a distribution whose tail is far from its middle.
  public static func noiseWarnings(_ results: [BenchResult]) -> [String] {
    results.compactMap { r in
      guard let d = r.distribution, d.noisy, d.p50 > 0 else { return nil }
      let ratio = Double(d.p99) / Double(d.p50)
      return
        "noisy: \(r.kind) \(r.level) '\(r.name)': p99 is \(SVGUnit.significant(ratio))x p50, p25-p75 \(d.p25)-\(d.p75) \(d.unit): other load on the machine? compare medians only"
    }
  }

  /// The large-supervisor verdict: how much more a container spawn costs from a
  /// supervisor with the heap resident, against the 0.1 ms target. The verdict is
  /// "met" or "missed" only when every round falls on the same side of the target;
  /// a machine whose noise is larger than the target cannot say, and the line says so.
  public static func heapVerdict(_ results: [BenchResult], targetNanoseconds: Int64 = 100_000) -> String? {
    guard
      let big = results.first(where: {
        $0.kind == "spawn" && $0.level == "container" && $0.name.hasSuffix(" supervisor")
          && $0.name != "small supervisor"
      }),
      let m = SpawnBench.marginal(of: big, in: results)
    else { return nil }
    let fork = results.first {
      $0.kind == "spawn" && $0.name.hasPrefix("fork+exec, ") && !$0.name.hasSuffix("small supervisor")
    }
    let forkDelta = fork.flatMap { SpawnBench.marginal(of: $0, in: results) }
    func signed(_ ns: Int64) -> String { (ns >= 0 ? "+" : "-") + SVGUnit.nanoseconds.format(Double(abs(ns))) }
    let rounds = SpawnBench.roundDeltas(of: big)
    let verdict: String
    if !rounds.isEmpty && rounds.allSatisfy({ $0 <= targetNanoseconds }) {
      verdict = "met in every round"
    } else if !rounds.isEmpty && rounds.allSatisfy({ $0 > targetNanoseconds }) {
      verdict = "missed in every round"
    } else if rounds.isEmpty {
      verdict = m.nanoseconds <= targetNanoseconds ? "met" : "missed"
    } else {
      verdict = "inconclusive: the rounds fall on both sides, the machine's noise is larger than the target"
    }
    var line =
      "large supervisor: a container spawn from a supervisor with \(big.name.dropLast(" supervisor".count)) resident costs \(signed(m.nanoseconds)) at p50 (target at most \(signed(targetNanoseconds)): \(verdict))"
    if !rounds.isEmpty { line += "; per round: " + rounds.map(signed).joined(separator: ", ") }
    if let forkDelta { line += "; fork+exec: \(signed(forkDelta.nanoseconds)) (copies the page tables)" }
    return line
  }
}
