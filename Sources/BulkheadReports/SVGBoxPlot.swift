/// Horizontal box plots of distributions, grouped (by isolation level): a box from
/// p25 to p75, a line at p50, whiskers from the minimum to p99, a tick at p90 and a
/// dot at the maximum. Values come in plain (no dependency on the lab's types).
public struct SVGBoxPlot {
  public struct Box: Sendable, Equatable {
    public var label: String
    /// The group it is drawn under and coloured by ("process", "container").
    public var group: String
    public var min: Double
    public var p25: Double
    public var p50: Double
    public var p75: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    public init(
      label: String, group: String, min: Double, p25: Double, p50: Double, p75: Double, p90: Double, p99: Double,
      max: Double
    ) {
      self.label = label
      self.group = group
      self.min = min
      self.p25 = p25
      self.p50 = p50
      self.p75 = p75
      self.p90 = p90
      self.p99 = p99
      self.max = max
    }
  }

  public var title: String
  public var subtitle: String?
  public var unit: SVGUnit
  public var boxes: [Box]
  /// Log scale: right when the values span more than a decade or two.
  public var logarithmic: Bool
  public var width: Double = 900

  public init(title: String, subtitle: String? = nil, unit: SVGUnit, boxes: [Box], logarithmic: Bool? = nil) {
    self.title = title
    self.subtitle = subtitle
    self.unit = unit
    self.boxes = boxes
    self.logarithmic = logarithmic ?? Self.spansDecades(boxes)
  }

  /// Whether the medians lie more than 30 times apart.
  public static func spansDecades(_ boxes: [Box]) -> Bool {
    let medians = boxes.map(\.p50).filter { $0 > 0 }
    guard let low = medians.min(), let high = medians.max() else { return false }
    return high / low > 30
  }

  static let rowHeight = 22.0
  static let groupGap = 22.0

  /// The groups in order of first appearance, each with its boxes.
  var groups: [(name: String, boxes: [Box])] {
    var order: [String] = []
    var members: [String: [Box]] = [:]
    for box in boxes {
      if members[box.group] == nil { order.append(box.group) }
      members[box.group, default: []].append(box)
    }
    return order.map { ($0, members[$0]!) }
  }

  /// The scale the boxes are drawn on.
  public var scale: SVGScale {
    let left = labelWidth + 20
    let values = boxes.flatMap { [$0.min, $0.max] }
    return SVGScale(
      covering: values, logarithmic: logarithmic, start: left, end: width - 100,
      base: unit.roundingBase(maximum: values.max() ?? 1))
  }

  var labelWidth: Double {
    Swift.max(120, (boxes.map { SVGDocument.textWidth($0.label) }.max() ?? 0) + 10)
  }

  public func render() -> String { document().render() }

  public func document() -> SVGDocument {
    let groups = self.groups
    let top = 58.0 + (subtitle == nil ? 0 : 16)
    let plotHeight = Double(boxes.count) * Self.rowHeight + Double(groups.count) * Self.groupGap
    let legendTop = top + plotHeight + 48
    let height = legendTop + 40
    var svg = SVGDocument(
      width: width, height: height, title: title,
      description: "Box plots: box p25 to p75, line at p50, whiskers min to p99, tick at p90, dot at max; "
        + (logarithmic ? "logarithmic" : "linear") + " axis in \(unit.axisName).")
    svg.text(title, x: 16, y: 26, size: 16, bold: true)
    if let subtitle { svg.text(subtitle, x: 16, y: 44, size: 11, fill: SVGPalette.axis) }
    let scale = self.scale
    let bottom = top + plotHeight

    // Grid and axis.
    for tick in scale.ticks {
      let x = scale.position(of: tick)
      svg.line(x1: x, y1: top - 6, x2: x, y2: bottom, stroke: SVGPalette.grid)
      svg.text(unit.format(tick), x: x, y: bottom + 16, size: 10, anchor: .middle, fill: SVGPalette.axis)
    }
    svg.line(x1: scale.start, y1: bottom, x2: scale.end, y2: bottom, stroke: SVGPalette.axis)
    svg.text("p50", x: width - 12, y: top - 10, size: 11, anchor: .end, bold: true)
    svg.text(
      "\(unit.axisName) (\(logarithmic ? "log scale" : "linear scale"))", x: (scale.start + scale.end) / 2,
      y: bottom + 34, size: 11, anchor: .middle, fill: SVGPalette.axis)

    var y = top
    for (index, group) in groups.enumerated() {
      let colour = SVGPalette.series(index)
      svg.text(group.name, x: 16, y: y + 14, size: 12, bold: true, fill: colour)
      y += Self.groupGap
      for box in group.boxes {
        let mid = y + Self.rowHeight / 2
        svg.text(box.label, x: scale.start - 10, y: mid + 4, size: 12, anchor: .end)
        let tooltip =
          "\(group.name) \(box.label): p50 \(unit.format(box.p50)), p25 \(unit.format(box.p25)), p75 \(unit.format(box.p75)), p90 \(unit.format(box.p90)), p99 \(unit.format(box.p99)), min \(unit.format(box.min)), max \(unit.format(box.max))"
        // Whisker min..p99, caps at both ends.
        let lo = scale.position(of: box.min)
        let hi = scale.position(of: box.p99)
        svg.line(x1: lo, y1: mid, x2: hi, y2: mid, stroke: SVGPalette.axis)
        svg.line(x1: lo, y1: mid - 5, x2: lo, y2: mid + 5, stroke: SVGPalette.axis)
        svg.line(x1: hi, y1: mid - 5, x2: hi, y2: mid + 5, stroke: SVGPalette.axis)
        let x25 = scale.position(of: box.p25)
        let x75 = scale.position(of: box.p75)
        svg.rect(
          x: x25, y: mid - 7, width: Swift.max(1.5, x75 - x25), height: 14, fill: colour, stroke: SVGPalette.ink,
          tooltip: tooltip)
        let x50 = scale.position(of: box.p50)
        svg.line(x1: x50, y1: mid - 8, x2: x50, y2: mid + 8, stroke: SVGPalette.ink, width: 2.5)
        let x90 = scale.position(of: box.p90)
        svg.line(x1: x90, y1: mid - 3, x2: x90, y2: mid + 3, stroke: SVGPalette.ink, width: 1.5)
        svg.circle(
          cx: scale.position(of: box.max), cy: mid, r: 2.5, fill: SVGPalette.ink, tooltip: "max \(unit.format(box.max))"
        )
        // The median, in a column of its own at the right.
        svg.text(unit.format(box.p50), x: width - 12, y: mid + 4, size: 11, anchor: .end)
        y += Self.rowHeight
      }
    }

    // Legend: how to read a box.
    let lx = 16.0
    let ly = legendTop
    svg.text("How to read:", x: lx, y: ly + 4, size: 11, bold: true)
    svg.line(x1: lx + 90, y1: ly, x2: lx + 190, y2: ly, stroke: SVGPalette.axis)
    svg.line(x1: lx + 90, y1: ly - 5, x2: lx + 90, y2: ly + 5, stroke: SVGPalette.axis)
    svg.line(x1: lx + 190, y1: ly - 5, x2: lx + 190, y2: ly + 5, stroke: SVGPalette.axis)
    svg.rect(x: lx + 115, y: ly - 7, width: 45, height: 14, fill: "#bbbbbb", stroke: SVGPalette.ink)
    svg.line(x1: lx + 135, y1: ly - 8, x2: lx + 135, y2: ly + 8, stroke: SVGPalette.ink, width: 2.5)
    svg.circle(cx: lx + 205, cy: ly, r: 2.5, fill: SVGPalette.ink)
    svg.text(
      "whiskers: min to p99; box: p25 to p75; thick line: median (p50, printed at the right); tick: p90; dot: max",
      x: lx + 220, y: ly + 4, size: 11)
    svg.text(
      "colour: " + groups.map(\.name).joined(separator: ", ") + " (also the group headings)", x: lx, y: ly + 24,
      size: 11, fill: SVGPalette.axis)
    return svg
  }
}
