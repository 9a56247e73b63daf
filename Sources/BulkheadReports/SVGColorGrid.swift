/// A grid of coloured cells with row and column headers: the crash lab's blast-
/// radius matrix (a fault per row, an isolation level per column). Each cell has a
/// verdict (its colour, from a small palette, named in the legend), a short text
/// drawn in it, and a tooltip.
public struct SVGColorGrid {
  public enum Verdict: String, Sendable, CaseIterable, Codable {
    /// The fault stayed inside the unit.
    case contained
    /// Some of it reached beyond (a sibling slowed, a resource shared).
    case partial
    /// It took down or harmed what shared the host.
    case spread
    /// The combination does not apply.
    case notApplicable

    /// Okabe-Ito colours; grey for "not applicable".
    public var fill: String {
      switch self {
      case .contained: "#009E73"
      case .partial: "#E69F00"
      case .spread: "#D55E00"
      case .notApplicable: "#DDDDDD"
      }
    }

    /// Text colour with enough contrast on `fill`.
    public var ink: String {
      switch self {
      case .contained, .spread: "#ffffff"
      case .partial, .notApplicable: "#222222"
      }
    }

    public var legend: String {
      switch self {
      case .contained: "contained"
      case .partial: "partial"
      case .spread: "spread"
      case .notApplicable: "not applicable"
      }
    }
  }

  public struct Cell: Sendable, Equatable {
    public var text: String
    public var verdict: Verdict
    public var tooltip: String?

    public init(text: String, verdict: Verdict, tooltip: String? = nil) {
      self.text = text
      self.verdict = verdict
      self.tooltip = tooltip
    }
  }

  public struct Row: Sendable, Equatable {
    public var header: String
    public var cells: [Cell]

    public init(header: String, cells: [Cell]) {
      self.header = header
      self.cells = cells
    }
  }

  public var title: String
  public var subtitle: String?
  public var columns: [String]
  public var rows: [Row]
  /// The legend: each verdict's colour and the text beside it (defaults: all four,
  /// named as the crash lab names them).
  public var legend: [(Verdict, String)]

  public init(
    title: String, subtitle: String? = nil, columns: [String], rows: [Row], legend: [(Verdict, String)]? = nil
  ) {
    self.title = title
    self.subtitle = subtitle
    self.columns = columns
    self.rows = rows
    self.legend =
      legend ?? [
        (.contained, "contained: the fault stayed inside its unit"),
        (.partial, "partial: it reached part of what shares the host"),
        (.spread, "spread: it took down what shares the host"), (.notApplicable, "not applicable"),
      ]
  }

  static let cellHeight = 30.0

  var cellWidth: Double {
    let widest =
      (rows.flatMap { $0.cells.map { SVGDocument.textWidth($0.text, size: 11) } }
      + columns.map {
        SVGDocument.textWidth($0, size: 12)
      }).max() ?? 0
    return Swift.max(90, widest + 16)
  }

  var headerWidth: Double {
    Swift.max(100, (rows.map { SVGDocument.textWidth($0.header) }.max() ?? 0) + 20)
  }

  public func render() -> String { document().render() }

  public func document() -> SVGDocument {
    let top = 70.0 + (subtitle == nil ? 0 : 16)
    let left = headerWidth + 16
    let columnCount = Swift.max(columns.count, rows.map(\.cells.count).max() ?? 0)
    let width = Swift.max(left + Double(columnCount) * cellWidth + 16, 460)
    let gridBottom = top + Double(rows.count) * Self.cellHeight
    let height = gridBottom + 30 + Double(legend.count) * 20 + 10
    var svg = SVGDocument(
      width: width, height: height, title: title,
      description:
        "A grid: one row per \(rows.isEmpty ? "item" : "row header"), one column per header; each cell's colour is its verdict, named in the legend."
    )
    svg.text(title, x: 16, y: 26, size: 16, bold: true)
    if let subtitle { svg.text(subtitle, x: 16, y: 44, size: 11, fill: SVGPalette.axis) }
    for (i, column) in columns.enumerated() {
      svg.text(column, x: left + (Double(i) + 0.5) * cellWidth, y: top - 10, size: 12, anchor: .middle, bold: true)
    }
    for (r, row) in rows.enumerated() {
      let y = top + Double(r) * Self.cellHeight
      svg.text(row.header, x: left - 10, y: y + Self.cellHeight / 2 + 4, size: 12, anchor: .end)
      for (c, cell) in row.cells.enumerated() {
        let x = left + Double(c) * cellWidth
        let columnName = c < columns.count ? columns[c] : "column \(c + 1)"
        svg.rect(
          x: x + 1, y: y + 1, width: cellWidth - 2, height: Self.cellHeight - 2, fill: cell.verdict.fill,
          stroke: "#ffffff",
          tooltip: cell.tooltip ?? "\(row.header), \(columnName): \(cell.verdict.legend)")
        svg.text(
          cell.text, x: x + cellWidth / 2, y: y + Self.cellHeight / 2 + 4, size: 11, anchor: .middle,
          fill: cell.verdict.ink)
      }
    }
    var y = gridBottom + 26
    for (verdict, meaning) in legend {
      svg.rect(x: 16, y: y - 11, width: 14, height: 14, fill: verdict.fill, stroke: SVGPalette.axis)
      svg.text(meaning, x: 38, y: y, size: 11)
      y += 20
    }
    return svg
  }
}
