import Foundation
import Testing

@testable import BulkheadReports

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// Parses `text` as XML; returns the element names in document order, or nil when
/// it is not well-formed.
func parseXML(_ text: String) -> [String]? {
  final class Collector: NSObject, XMLParserDelegate {
    var names: [String] = []
    func parser(
      _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
      attributes: [String: String] = [:]
    ) {
      names.append(elementName)
    }
  }
  let parser = XMLParser(data: Data(text.utf8))
  let collector = Collector()
  parser.delegate = collector
  return parser.parse() ? collector.names : nil
}

/// The character data of every `<text>`, `<title>` and `<desc>` element, unescaped
/// by the parser: what a reader sees.
func visibleTexts(_ text: String) -> [String] {
  final class Collector: NSObject, XMLParserDelegate {
    var texts: [String] = []
    var current: String? = nil
    func parser(
      _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
      attributes: [String: String] = [:]
    ) {
      if ["text", "title", "desc"].contains(elementName) { current = "" }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { current? += string }
    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
      if let current, ["text", "title", "desc"].contains(elementName) { texts.append(current) }
      current = nil
    }
  }
  let parser = XMLParser(data: Data(text.utf8))
  let collector = Collector()
  parser.delegate = collector
  _ = parser.parse()
  return collector.texts
}

@Suite struct SVGTests {
  static let hostile = "<b>&\"quotes\" 'and' ]]> \u{1}"

  static func boxes() -> [SVGBoxPlot.Box] {
    [
      .init(
        label: "pthread_create+join", group: "thread", min: 9_000, p25: 11_000, p50: 12_000, p75: 14_000, p90: 18_000,
        p99: 40_000, max: 90_000),
      .init(
        label: "posix_spawn", group: "process", min: 300_000, p25: 350_000, p50: 380_000, p75: 420_000, p90: 500_000,
        p99: 900_000, max: 2_000_000),
      .init(
        label: hostile, group: "container", min: 2_000_000, p25: 2_400_000, p50: 2_600_000, p75: 2_900_000,
        p90: 3_200_000, p99: 5_000_000, max: 9_000_000),
    ]
  }

  @Test func escapingCoversTheFiveEntitiesAndControlCharacters() {
    #expect(SVGDocument.escape("a<b>&\"c\"'d'") == "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;")
    #expect(SVGDocument.escape("bell\u{7}") == "bell\u{FFFD}")
    #expect(SVGDocument.escape("tab\tline\n") == "tab\tline\n")
  }

  @Test func numbersAreDeterministicWithOneDecimal() {
    #expect(SVGDocument.number(12) == "12")
    #expect(SVGDocument.number(12.345) == "12.3")
    #expect(SVGDocument.number(-0.04) == "0")
    #expect(SVGDocument.number(-1.25) == "-1.3" || SVGDocument.number(-1.25) == "-1.2")
    #expect(SVGDocument.number(.nan) == "0")
  }

  @Test func unitsFormatInTheirNaturalScale() {
    #expect(SVGUnit.nanoseconds.format(12_345) == "12.3 µs")
    #expect(SVGUnit.nanoseconds.format(2_500_000) == "2.5 ms")
    #expect(SVGUnit.nanoseconds.format(850) == "850 ns")
    #expect(SVGUnit.bytes.format(480 * 1024) == "480 KiB")
    #expect(SVGUnit.bytes.format(1.5 * 1_048_576) == "1.5 MiB")
    #expect(SVGUnit.bytesPerSecond.format(2 * 1_073_741_824) == "2 GiB/s")
    #expect(SVGUnit.significant(0.01234) == "0.0123")
  }

  @Test func boxPlotIsWellFormedAndNamesEveryLabel() throws {
    let plot = SVGBoxPlot(title: "Spawn & <exit>", subtitle: "machine", unit: .nanoseconds, boxes: Self.boxes())
    let svg = plot.render()
    let names = try #require(parseXML(svg), "not well-formed XML")
    #expect(names.first == "svg")
    #expect(names.contains("rect") && names.contains("line") && names.contains("circle"))
    let texts = visibleTexts(svg)
    for box in Self.boxes() {
      // The parser gives back exactly the label: escaping lost nothing (but the
      // control character, which XML cannot carry).
      #expect(texts.contains(box.label.replacingOccurrences(of: "\u{1}", with: "\u{FFFD}")), "\(box.label)")
      #expect(texts.contains(box.group))
    }
    #expect(texts.contains("Spawn & <exit>"))
    #expect(texts.contains { $0.hasPrefix("time (log scale)") })
    #expect(texts.contains { $0.contains("whiskers: min to p99") })
    #expect(!svg.contains("http://") || svg.components(separatedBy: "http://").count == 2)  // the xmlns only
  }

  @Test func logScaleIsChosenForWideSpreadsAndIsMonotonic() {
    let plot = SVGBoxPlot(title: "t", unit: .nanoseconds, boxes: Self.boxes())
    #expect(plot.logarithmic)
    let scale = plot.scale
    #expect(scale.low <= 9_000 && scale.high >= 9_000_000)
    var previous = -Double.infinity
    for value in stride(from: 1.0, through: 1e8, by: 997.0) {
      let x = scale.position(of: value)
      #expect(x >= previous)
      previous = x
    }
    // Equal ratios, equal distances.
    let a = scale.position(of: 10_000)
    let b = scale.position(of: 100_000)
    let c = scale.position(of: 1_000_000)
    #expect(abs((b - a) - (c - b)) < 0.001)
    // Ticks inside the range and increasing.
    let ticks = scale.ticks
    #expect(!ticks.isEmpty && ticks == ticks.sorted())
    #expect(ticks.allSatisfy { $0 >= scale.low && $0 <= scale.high * 1.0001 })
    let narrow = SVGBoxPlot(title: "t", unit: .nanoseconds, boxes: [Self.boxes()[0]])
    #expect(!narrow.logarithmic)
  }

  @Test func linearScaleStartsAtZeroAndCoversTheMaximum() {
    let scale = SVGScale(covering: [3, 470], logarithmic: false, start: 100, end: 600)
    #expect(scale.low == 0 && scale.high == 500)
    #expect(scale.position(of: 0) == 100 && scale.position(of: 500) == 600)
    #expect(scale.position(of: 250) == 350)
    #expect(scale.ticks.first == 0 && scale.ticks.last == 500)
  }

  @Test func aSizeAxisIsRoundInKibibytes() {
    let top = 248.0 * 1024
    let scale = SVGScale(
      covering: [3000, top], logarithmic: false, start: 0, end: 100, base: SVGUnit.bytes.roundingBase(maximum: top))
    #expect(scale.high == 250 * 1024)
    #expect(scale.ticks.allSatisfy { $0.truncatingRemainder(dividingBy: 1024) == 0 })
    #expect(scale.ticks.map { SVGUnit.bytes.format($0) }.contains("100 KiB"))
  }

  @Test func colourGridHasACellPerVerdictTooltipsAndALegend() throws {
    let grid = SVGColorGrid(
      title: "Blast radius", columns: ["task", "thread", "process", "container"],
      rows: [
        .init(
          header: "segv",
          cells: [
            .init(text: "host died", verdict: .spread, tooltip: "all 3 siblings died"),
            .init(text: "host died", verdict: .spread),
            .init(text: "contained", verdict: .contained),
            .init(text: "contained", verdict: .contained),
          ]),
        .init(
          header: Self.hostile,
          cells: [
            .init(text: "slowed", verdict: .partial), .init(text: "n/a", verdict: .notApplicable),
            .init(text: "<ok>", verdict: .contained), .init(text: "ok", verdict: .contained),
          ]),
      ])
    let svg = grid.render()
    #expect(parseXML(svg) != nil, "not well-formed XML")
    let texts = visibleTexts(svg)
    for label in ["task", "thread", "process", "container", "segv", "host died", "slowed", "<ok>", "Blast radius"] {
      #expect(texts.contains(label), "\(label)")
    }
    #expect(texts.contains("all 3 siblings died"))
    #expect(texts.contains("segv, thread: spread"))  // the default tooltip names row, column, verdict
    // The default legend names every verdict; a caller's legend is drawn in its words.
    for verdict in SVGColorGrid.Verdict.allCases {
      #expect(svg.contains("fill=\"\(verdict.fill)\""))
      #expect(texts.contains { $0.hasPrefix(verdict.legend) })
    }
    var scorecard = grid
    scorecard.legend = [(.contained, "isolated"), (.spread, "shared")]
    let custom = visibleTexts(scorecard.render())
    #expect(custom.contains("isolated") && custom.contains("shared"))
    #expect(!custom.contains { $0.hasPrefix("partial") })
  }

  @Test func barChartPrintsEveryValueWithItsUnit() throws {
    let chart = SVGBarChart(
      title: "Memory per idle unit", unit: .bytes,
      bars: [
        .init(label: "idle task", value: 2048, group: "task"),
        .init(label: "idle container", value: 600 * 1024, group: "container"),
      ])
    let svg = chart.render()
    #expect(parseXML(svg) != nil)
    let texts = visibleTexts(svg)
    #expect(texts.contains("2 KiB") && texts.contains("600 KiB"))
    #expect(texts.contains("idle task") && texts.contains("idle container"))
    #expect(texts.contains("memory (linear scale)"))
    // Longer values, longer bars.
    let scale = chart.scale
    #expect(scale.position(of: 2048) < scale.position(of: 600 * 1024))
  }

  @Test func outputIsDeterministic() {
    let a = SVGBoxPlot(title: "t", unit: .nanoseconds, boxes: Self.boxes()).render()
    let b = SVGBoxPlot(title: "t", unit: .nanoseconds, boxes: Self.boxes()).render()
    #expect(a == b)
  }

  @Test func stackedDocumentsStayWellFormed() throws {
    let parts = [
      SVGBoxPlot(title: "one", unit: .nanoseconds, boxes: Self.boxes()).document(),
      SVGBarChart(title: "two", unit: .bytes, bars: [.init(label: "x", value: 1)]).document(),
    ]
    let stacked = SVGDocument.stacked(parts, title: "both")
    let names = try #require(parseXML(stacked.render()))
    #expect(names.filter { $0 == "svg" }.count == 3)
    #expect(stacked.height == parts[0].height + 16 + parts[1].height)
  }

  @Test func htmlPageIsSelfContainedAndEscaped() {
    var page = HTMLPage(title: "Compare <levels>")
    page.add(
      .init(
        heading: "Spawn & memory",
        blocks: [
          .paragraph("p50 < p99"), .table(headers: ["level", "p50"], rows: [["thread", "12 µs"], ["<x>", "1"]]),
          .svg(SVGBarChart(title: "m", unit: .bytes, bars: [.init(label: "a", value: 1)]).render()),
          .preformatted("a & b"),
        ]))
    let html = page.render()
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(html.contains("<title>Compare &lt;levels&gt;</title>"))
    #expect(html.contains("<h2>Spawn &amp; memory</h2>"))
    #expect(html.contains("<td>&lt;x&gt;</td>"))
    #expect(html.contains("<td class=\"n\">12 µs</td>"))
    #expect(!html.contains("<?xml"))
    #expect(html.contains("<svg "))
    // No reference to the network: no src, no link, no http(s) but the SVG namespace.
    #expect(!html.contains("src=") && !html.contains("<link") && !html.contains("<script"))
    let urls = html.components(separatedBy: "http").count - 1
    #expect(urls == html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
    // The page without its doctype parses as XML (every tag closed, text escaped).
    let body = html.replacingOccurrences(of: "<!DOCTYPE html>\n", with: "")
      .replacingOccurrences(of: "<meta charset=\"utf-8\">", with: "<meta charset=\"utf-8\"/>")
      .replacingOccurrences(
        of: "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        with: "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>")
    #expect(parseXML(body) != nil)
  }
}
