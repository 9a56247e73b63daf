#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The pieces the charts share: an SVG document builder that escapes every text
/// it is given, a colour-blind-friendly palette, number formatting and the axis
/// scale. Pure Swift with no Foundation, and deterministic: the same input gives
/// the same bytes (coordinates are written with one decimal, never through a
/// locale), so charts can be compared and checked in.
public struct SVGDocument {
  public var width: Double
  public var height: Double
  /// Read by screen readers and shown as the document's title.
  public var title: String
  public var description: String?
  private var body: [String] = []

  public init(width: Double, height: Double, title: String, description: String? = nil) {
    self.width = width
    self.height = height
    self.title = title
    self.description = description
  }

  /// Escapes text for XML character data and attribute values (both quotes too).
  public static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&apos;"
      default:
        // XML 1.0 allows tab, newline, CR and nothing else below 0x20.
        if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r" {
          out += "\u{FFFD}"
        } else if scalar.value == 0xFFFE || scalar.value == 0xFFFF {
          out += "\u{FFFD}"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out
  }

  /// A number for a coordinate or a length: one decimal at most, "." always.
  public static func number(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let tenths = (value * 10).rounded()
    let negative = tenths < 0
    let magnitude = Int64(Swift.min(abs(tenths), 1e15))
    let text = magnitude % 10 == 0 ? "\(magnitude / 10)" : "\(magnitude / 10).\(magnitude % 10)"
    return negative && magnitude != 0 ? "-" + text : text
  }

  /// Appends raw markup built by the helpers below.
  public mutating func append(_ markup: String) { body.append(markup) }

  public mutating func rect(
    x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil,
    tooltip: String? = nil, rx: Double = 0
  ) {
    var attributes =
      "x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(Swift.max(0, width)))\" height=\"\(Self.number(Swift.max(0, height)))\" fill=\"\(Self.escape(fill))\""
    if let stroke { attributes += " stroke=\"\(Self.escape(stroke))\"" }
    if rx > 0 { attributes += " rx=\"\(Self.number(rx))\"" }
    if let tooltip {
      body.append("<rect \(attributes)><title>\(Self.escape(tooltip))</title></rect>")
    } else {
      body.append("<rect \(attributes)/>")
    }
  }

  public mutating func line(
    x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, dashed: Bool = false
  ) {
    body.append(
      "<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" y2=\"\(Self.number(y2))\" stroke=\"\(Self.escape(stroke))\" stroke-width=\"\(Self.number(width))\""
        + (dashed ? " stroke-dasharray=\"3 3\"" : "") + "/>")
  }

  public mutating func circle(cx: Double, cy: Double, r: Double, fill: String, tooltip: String? = nil) {
    let attributes =
      "cx=\"\(Self.number(cx))\" cy=\"\(Self.number(cy))\" r=\"\(Self.number(r))\" fill=\"\(Self.escape(fill))\""
    if let tooltip {
      body.append("<circle \(attributes)><title>\(Self.escape(tooltip))</title></circle>")
    } else {
      body.append("<circle \(attributes)/>")
    }
  }

  public enum Anchor: String {
    case start, middle, end
  }

  public mutating func text(
    _ content: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start, bold: Bool = false,
    fill: String = SVGPalette.ink, rotate: Double? = nil
  ) {
    var attributes =
      "x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" font-size=\"\(Self.number(size))\""
    if anchor != .start { attributes += " text-anchor=\"\(anchor.rawValue)\"" }
    if bold { attributes += " font-weight=\"bold\"" }
    if fill != SVGPalette.ink { attributes += " fill=\"\(Self.escape(fill))\"" }
    if let rotate {
      attributes += " transform=\"rotate(\(Self.number(rotate)) \(Self.number(x)) \(Self.number(y)))\""
    }
    body.append("<text \(attributes)>\(Self.escape(content))</text>")
  }

  /// The whole document, with an XML declaration.
  public func render() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + renderElement()
  }

  /// The `<svg>` element alone, to inline in HTML.
  public func renderElement() -> String {
    var out =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" role=\"img\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n"
    out += "<title>\(Self.escape(title))</title>\n"
    if let description { out += "<desc>\(Self.escape(description))</desc>\n" }
    out +=
      "<rect x=\"0\" y=\"0\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" fill=\"#ffffff\"/>\n"
    for element in body { out += element + "\n" }
    out += "</svg>\n"
    return out
  }

  /// Several documents one under the other, each kept whole as a nested `<svg>`.
  public static func stacked(_ parts: [SVGDocument], title: String, gap: Double = 16) -> SVGDocument {
    let width = parts.map(\.width).max() ?? 400
    var document = SVGDocument(
      width: width, height: 0, title: title, description: parts.map(\.title).joined(separator: "; "))
    var y = 0.0
    for part in parts {
      var element = part.renderElement()
      // Place it: x/y on the nested element (its first tag).
      if let space = element.firstIndex(of: " ") {
        element.insert(contentsOf: " x=\"0\" y=\"\(number(y))\"", at: space)
      }
      document.append(element.trimmingSuffixNewlines())
      y += part.height + gap
    }
    document.height = Swift.max(1, y - gap)
    return document
  }

  /// A rough width of `text` at `size` px in a sans-serif font, for layout.
  public static func textWidth(_ text: String, size: Double = 12) -> Double {
    Double(text.count) * size * 0.6
  }
}

/// Okabe and Ito's palette, distinguishable with every common colour-vision
/// deficiency; the verdict colours add a text label in every cell and the legend,
/// so no meaning rests on colour alone.
public enum SVGPalette {
  public static let ink = "#222222"
  public static let grid = "#dddddd"
  public static let axis = "#555555"
  /// Series colours, in order: blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow.
  public static let series = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"]

  public static func series(_ index: Int) -> String { series[((index % series.count) + series.count) % series.count] }
}

/// How the values of a chart are written: durations (from ns), sizes (from bytes),
/// rates (from bytes/s), or plain numbers with a unit.
public enum SVGUnit: Sendable, Equatable {
  case nanoseconds
  case bytes
  case bytesPerSecond
  case plain(String)

  /// `value` in the unit's natural scale, three significant digits: "12.3 µs", "480 KiB".
  public func format(_ value: Double) -> String {
    switch self {
    case .nanoseconds:
      let steps: [(Double, String)] = [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1, "ns")]
      for (scale, name) in steps where abs(value) >= scale || scale == 1 {
        return SVGUnit.significant(value / scale) + " " + name
      }
    case .bytes, .bytesPerSecond:
      let suffix = self == .bytes ? "" : "/s"
      let steps: [(Double, String)] = [
        (1_099_511_627_776, "TiB"), (1_073_741_824, "GiB"), (1_048_576, "MiB"), (1024, "KiB"), (1, "B"),
      ]
      for (scale, name) in steps where abs(value) >= scale || scale == 1 {
        return SVGUnit.significant(value / scale) + " " + name + suffix
      }
    case .plain(let unit):
      return SVGUnit.significant(value) + (unit.isEmpty ? "" : " " + unit)
    }
    return SVGUnit.significant(value)
  }

  /// The base a linear axis is made round in for values up to `maximum`: the
  /// power of 1024 it is written in for sizes, 1 otherwise.
  public func roundingBase(maximum: Double) -> Double {
    switch self {
    case .bytes, .bytesPerSecond:
      var base = 1.0
      while base * 1024 <= maximum { base *= 1024 }
      return base
    case .nanoseconds, .plain: return 1
    }
  }

  /// The axis title's unit ("time", "memory", ...).
  public var axisName: String {
    switch self {
    case .nanoseconds: "time"
    case .bytes: "memory"
    case .bytesPerSecond: "throughput"
    case .plain(let unit): unit
    }
  }

  /// Three significant digits, no exponent: 0.0123, 1.23, 12.3, 123, 1234.
  public static func significant(_ value: Double) -> String {
    guard value.isFinite else { return "?" }
    if value == 0 { return "0" }
    let magnitude = abs(value)
    let decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : magnitude >= 0.1 ? 3 : 4
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int64((magnitude * scale).rounded())
    var digits = String(scaled)
    if decimals > 0 {
      while digits.count <= decimals { digits = "0" + digits }
      let cut = digits.index(digits.endIndex, offsetBy: -decimals)
      var fraction = String(digits[cut...])
      while fraction.last == "0" { fraction.removeLast() }
      digits = String(digits[..<cut]) + (fraction.isEmpty ? "" : "." + fraction)
    }
    return (value < 0 ? "-" : "") + digits
  }
}

/// Maps values to horizontal positions, linearly from zero or logarithmically,
/// over "nice" bounds, and gives the ticks to draw.
public struct SVGScale: Sendable, Equatable {
  public var low: Double
  public var high: Double
  public var logarithmic: Bool
  /// The unit linear bounds and steps are made round in (1024^k for bytes, so that
  /// ticks read 64 KiB and not 62.5 KiB).
  public var base: Double = 1
  /// The pixel range.
  public var start: Double
  public var end: Double

  /// A scale covering `values`: from 0 (linear) or the decade at or below the
  /// smallest positive value (log) to a nice bound at or above the largest.
  public init(covering values: [Double], logarithmic: Bool, start: Double, end: Double, base: Double = 1) {
    self.logarithmic = logarithmic
    self.base = base > 0 ? base : 1
    self.start = start
    self.end = end
    let finite = values.filter { $0.isFinite }
    let top = finite.max() ?? 1
    if logarithmic {
      let positive = finite.filter { $0 > 0 }
      let bottom = positive.min() ?? 1
      low = SVGScale.decade(atOrBelow: bottom)
      high = Swift.max(SVGScale.decade(atOrBelow: Swift.max(top, bottom)) * 10, low * 10)
      // Drop an empty top decade: 1..1000 for a maximum of 400, not 1..10000.
      if high / 10 >= Swift.max(top, bottom) && high / 10 > low { high /= 10 }
    } else {
      low = 0
      high = SVGScale.niceCeiling(Swift.max(top, 0) / self.base) * self.base
    }
  }

  public init(low: Double, high: Double, logarithmic: Bool, start: Double, end: Double) {
    self.low = low
    self.high = high
    self.logarithmic = logarithmic
    self.start = start
    self.end = end
  }

  /// The x of `value`, clamped to the range.
  public func position(of value: Double) -> Double {
    let fraction: Double
    if logarithmic {
      let v = Swift.min(Swift.max(value, low), high)
      fraction = (log10(v) - log10(low)) / Swift.max(1e-12, log10(high) - log10(low))
    } else {
      let v = Swift.min(Swift.max(value, low), high)
      fraction = (v - low) / Swift.max(1e-12, high - low)
    }
    return start + fraction * (end - start)
  }

  /// Tick values: 1, 2, 5 per decade on a log scale (1 per decade when there are
  /// many decades), five to ten steps on a linear one.
  public var ticks: [Double] {
    if logarithmic {
      var out: [Double] = []
      var decade = low
      let decades = Int((log10(high) - log10(low)).rounded())
      let multipliers: [Double] = decades > 4 ? [1] : [1, 2, 5]
      while decade <= high * 1.0000001 {
        for m in multipliers where decade * m <= high * 1.0000001 { out.append(decade * m) }
        decade *= 10
      }
      return out
    }
    let step = SVGScale.niceStep((high - low) / base) * base
    var out: [Double] = []
    var v = low
    while v <= high + step * 1e-9 {
      out.append(v)
      v += step
    }
    return out
  }

  static func decade(atOrBelow value: Double) -> Double {
    guard value > 0 else { return 1 }
    var d = 1.0
    while d > value { d /= 10 }
    while d * 10 <= value { d *= 10 }
    return d
  }

  /// The smallest of 1, 2, 2.5, 5, 10 times a power of ten at or above `value`.
  static func niceCeiling(_ value: Double) -> Double {
    guard value > 0 else { return 1 }
    let d = decade(atOrBelow: value)
    for m in [1.0, 2, 2.5, 5, 10] where d * m >= value { return d * m }
    return d * 10
  }

  static func niceStep(_ span: Double) -> Double {
    guard span > 0 else { return 1 }
    let d = decade(atOrBelow: span)
    for m in [0.1, 0.2, 0.25, 0.5, 1] where span / (d * m) <= 10 { return d * m }
    return d
  }
}

extension String {
  func trimmingSuffixNewlines() -> String {
    var s = Substring(self)
    while s.last == "\n" { s = s.dropLast() }
    return String(s)
  }
}
