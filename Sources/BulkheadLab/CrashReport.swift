import BulkheadReports
import BulkheadSpec

/// The crash lab's JSON document (schema "bulkhead.crash/1", docs/json-crash.md).
public struct CrashReport: Codable, Sendable {
  public var schema = "bulkhead.crash/1"
  public var machine: MachineInfo
  /// Wall-clock start, seconds since the epoch.
  public var startedAt: Double
  public var siblings: Int
  public var windowMilliseconds: Int
  public var levels: [IsolationLevel]
  public var faults: [CrashFault]
  /// One per fault and level, faults in order, levels in order within each.
  public var cells: [CrashCell]

  public init(
    machine: MachineInfo, startedAt: Double, siblings: Int, windowMilliseconds: Int, levels: [IsolationLevel],
    faults: [CrashFault], cells: [CrashCell]
  ) {
    self.machine = machine
    self.startedAt = startedAt
    self.siblings = siblings
    self.windowMilliseconds = windowMilliseconds
    self.levels = levels
    self.faults = faults
    self.cells = cells
  }

  public func cell(_ fault: CrashFault, _ level: IsolationLevel) -> CrashCell? {
    cells.first { $0.fault == fault && $0.level == level }
  }

  /// Every leftover of every cell, added up: the lab's own cleanliness.
  public var leftoversTotal: Int { cells.reduce(0) { $0 + $1.leftovers.total } }
}

/// Renders the blast-radius matrix: rows are faults, columns are levels.
public enum CrashMatrix {
  static let marks: [BlastVerdict: String] = [.contained: "ok", .partial: "~", .spread: "XX", .notApplicable: ""]

  /// The terminal page: the matrix, a legend, and each cell's mechanism.
  public static func text(_ report: CrashReport) -> String {
    var lines: [String] = []
    lines.append("Blast radius: \(report.siblings) heartbeat siblings beside one faulty workload, per level")
    lines.append("machine: \(report.machine.line)")
    lines.append("")
    let rows = report.faults.map { fault in
      [fault.rawValue]
        + report.levels.map { level in
          guard let cell = report.cell(fault, level) else { return "" }
          let mark = marks[cell.verdict] ?? ""
          return mark.isEmpty ? cell.summary : "\(mark) \(cell.summary)"
        }
    }
    lines.append(ReportTable(headers: ["fault"] + report.levels.map(\.rawValue), rows: rows).render())
    lines.append("")
    lines.append(
      "cells: siblings still beating/total, what else happened, time until the supervisor knew how the fault ended")
    lines.append(
      "ok = contained, ~ = siblings lived but something else was touched, XX = spread to the siblings or their host")
    lines.append("")
    lines.append("Why:")
    for fault in report.faults {
      for level in report.levels {
        guard let cell = report.cell(fault, level), cell.verdict != .notApplicable else { continue }
        lines.append("  \(fault.rawValue) / \(level.rawValue): \(cell.explanation)")
      }
    }
    let left = report.leftoversTotal
    lines.append("")
    lines.append(
      left == 0
        ? "Left behind after teardown, all cells: nothing (processes, mounts, cgroups, namespaces, temp files, descriptors)."
        : "Left behind after teardown: \(left) items (see --json: cells[].leftovers).")
    return lines.joined(separator: "\n")
  }

  /// The matrix as a colour grid that reads at a glance; each cell's tooltip is
  /// its mechanism.
  public static func svg(_ report: CrashReport) -> String { grid(report).render() }

  public static func grid(_ report: CrashReport) -> SVGColorGrid {
    let rows = report.faults.map { fault in
      SVGColorGrid.Row(
        header: fault.rawValue,
        cells: report.levels.map { level in
          guard let cell = report.cell(fault, level) else {
            return SVGColorGrid.Cell(text: "", verdict: .notApplicable)
          }
          return SVGColorGrid.Cell(
            text: cell.summary, verdict: gridVerdict(cell.verdict),
            tooltip: "\(cell.faultyOutcome): \(cell.explanation)")
        })
    }
    return SVGColorGrid(
      title: "Blast radius: what else a fault took down",
      subtitle:
        "\(report.siblings) heartbeat siblings per cell; siblings alive/total, time until the supervisor knew; \(report.machine.line)",
      columns: report.levels.map(\.rawValue), rows: rows,
      legend: [
        (.contained, "contained: only the faulty workload"),
        (.partial, "partial: the siblings lived; something else was touched"),
        (.spread, "spread: siblings or their host died"),
        (.notApplicable, "n/a: needs a confinement the level lacks"),
      ])
  }

  static func gridVerdict(_ verdict: BlastVerdict) -> SVGColorGrid.Verdict {
    switch verdict {
    case .contained: .contained
    case .partial: .partial
    case .spread: .spread
    case .notApplicable: .notApplicable
    }
  }
}
