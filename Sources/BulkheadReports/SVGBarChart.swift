/// A horizontal bar chart: one bar per label, its value printed at its end, on a
/// linear axis from zero (bars on a log axis would misstate ratios). For memory per
/// unit and throughput.
public struct SVGBarChart {
  public struct Bar: Sendable, Equatable {
    public var label: String
    public var value: Double
    /// The bar's colour group ("container"); bars of a group share a colour.
    public var group: String?

    public init(label: String, value: Double, group: String? = nil) {
      self.label = label
      self.value = value
      self.group = group
    }
  }

  public var title: String
  public var subtitle: String?
  public var unit: SVGUnit
  public var bars: [Bar]
  public var width: Double = 900

  public init(title: String, subtitle: String? = nil, unit: SVGUnit, bars: [Bar]) {
    self.title = title
    self.subtitle = subtitle
    self.unit = unit
    self.bars = bars
  }

  static let rowHeight = 26.0

  var labelWidth: Double { Swift.max(120, (bars.map { SVGDocument.textWidth($0.label) }.max() ?? 0) + 10) }

  public var scale: SVGScale {
    SVGScale(
      covering: bars.map(\.value), logarithmic: false, start: labelWidth + 20, end: width - 110,
      base: unit.roundingBase(maximum: bars.map(\.value).max() ?? 1))
  }

  public func render() -> String { document().render() }

  public func document() -> SVGDocument {
    let top = 58.0 + (subtitle == nil ? 0 : 16)
    let bottom = top + Double(bars.count) * Self.rowHeight
    var groups: [String] = []
    for bar in bars { if let g = bar.group, !groups.contains(g) { groups.append(g) } }
    let height = bottom + 50 + (groups.isEmpty ? 0 : 22)
    var svg = SVGDocument(
      width: width, height: height, title: title,
      description: "Horizontal bars, linear axis from zero in \(unit.axisName); each value is printed at its bar's end."
    )
    svg.text(title, x: 16, y: 26, size: 16, bold: true)
    if let subtitle { svg.text(subtitle, x: 16, y: 44, size: 11, fill: SVGPalette.axis) }
    let scale = self.scale
    for tick in scale.ticks {
      let x = scale.position(of: tick)
      svg.line(x1: x, y1: top - 4, x2: x, y2: bottom, stroke: SVGPalette.grid)
      svg.text(unit.format(tick), x: x, y: bottom + 16, size: 10, anchor: .middle, fill: SVGPalette.axis)
    }
    svg.line(x1: scale.start, y1: bottom, x2: scale.end, y2: bottom, stroke: SVGPalette.axis)
    svg.text(
      "\(unit.axisName) (linear scale)", x: (scale.start + scale.end) / 2, y: bottom + 34, size: 11, anchor: .middle,
      fill: SVGPalette.axis)
    for (i, bar) in bars.enumerated() {
      let y = top + Double(i) * Self.rowHeight
      let colour = bar.group.flatMap { groups.firstIndex(of: $0) }.map(SVGPalette.series) ?? SVGPalette.series(0)
      svg.text(bar.label, x: scale.start - 10, y: y + Self.rowHeight / 2 + 4, size: 12, anchor: .end)
      let end = scale.position(of: Swift.max(0, bar.value))
      svg.rect(
        x: scale.start, y: y + 4, width: Swift.max(1, end - scale.start), height: Self.rowHeight - 8, fill: colour,
        tooltip: "\(bar.label): \(unit.format(bar.value))")
      svg.text(unit.format(bar.value), x: end + 6, y: y + Self.rowHeight / 2 + 4, size: 11)
    }
    if !groups.isEmpty {
      var x = 16.0
      let y = bottom + 56
      for (i, group) in groups.enumerated() {
        svg.rect(x: x, y: y - 11, width: 14, height: 14, fill: SVGPalette.series(i))
        svg.text(group, x: x + 20, y: y, size: 11)
        x += 40 + SVGDocument.textWidth(group, size: 11)
      }
    }
    return svg
  }
}
