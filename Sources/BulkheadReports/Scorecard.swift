/// The isolation scorecard: one column per level, one row per property and check.
public struct Scorecard: Sendable, Codable, Equatable {
  public struct Column: Sendable, Codable, Equatable {
    public var level: String
    public var report: InspectionReport
    public var rows: [ComparisonRow]
    /// One line: what the level isolated, reduced and denied.
    public var summary: String
  }

  public var host: InspectionReport
  public var columns: [Column]

  public init(host: InspectionReport, levels: [(String, InspectionReport)]) {
    self.host = host
    columns = levels.map { level, report in
      let rows = IsolationComparison.rows(host: host, workload: report)
      return Column(level: level, report: report, rows: rows, summary: Self.summary(rows))
    }
  }

  static func summary(_ rows: [ComparisonRow]) -> String {
    let namespaces = rows.filter { $0.property.hasSuffix(" namespace") }
    let isolated = namespaces.filter { $0.verdict == .isolated }.map { $0.property.split(separator: " ")[0] }
    let counts = VerdictRules.checkCounts(rows)
    let caps = rows.first { $0.property == "capabilities (effective)" }?.workload ?? "n/a"
    return "\(isolated.count) of \(namespaces.count) namespaces isolated"
      + (isolated.isEmpty ? "" : " (\(isolated.joined(separator: ", ")))")
      + "; \(counts.denied) of \(counts.compared) privileged operations denied or confined to its own instance"
      + (counts.compared < counts.total ? " (\(counts.total - counts.compared) n/a)" : "") + "; \(caps) effective"
  }
}
