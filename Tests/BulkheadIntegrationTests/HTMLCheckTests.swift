import BulkheadReports
import Foundation
import Testing

/// `Scripts/check-html` on pages it must pass and pages it must fail: a report
/// page built with `HTMLPage` and an inline SVG chart, an empty page, a page cut
/// off inside its chart, a chart with a NaN, and a page that loads an image from
/// the network. Each check renders in headless Chromium (a few seconds).
@Suite(.enabled(if: HTMLCheck.toolsPresent, HTMLCheck.missingReason))
struct HTMLCheckTests {
  @Test func aReportPageWithAChartPasses() throws {
    let result = try HTMLCheck.run(HTMLCheck.reportPage(), name: "report")
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.hasPrefix("check-html: OK"), "\(result.output)")
    #expect(result.output.contains(" 1 <svg>"), "\(result.output)")
    #expect(result.png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "no PNG written")
  }

  @Test func anEmptyPageFailsAsBlank() throws {
    let result = try HTMLCheck.run("<html></html>\n", name: "empty")
    #expect(result.status == 1, "\(result.output)")
    #expect(result.output.contains("FAIL") && result.output.contains("blank render"), "\(result.output)")
  }

  /// A report whose writer stopped inside the chart's start tag: the text above it
  /// still renders, so only the <svg> count finds it.
  @Test func aPageCutOffInsideItsChartFails() throws {
    let page = HTMLCheck.reportPage()
    let chart = try #require(page.range(of: "<svg"))
    let cut = String(page[..<page.index(chart.lowerBound, offsetBy: 20)])
    let result = try HTMLCheck.run(cut, name: "truncated")
    #expect(result.status == 1, "\(result.output)")
    #expect(result.output.contains("1 of 1 <svg> elements did not survive parsing"), "\(result.output)")
  }

  /// What a division by zero would write into a chart; the browser drops the shape.
  @Test func aChartWithANaNFails() throws {
    let page = HTMLCheck.reportPage().replacingOccurrences(
      of: "</svg>", with: "<rect x=\"nan\" y=\"10\" width=\"40\" height=\"20\" fill=\"#0072B2\"/>\n</svg>")
    let result = try HTMLCheck.run(page, name: "nan")
    #expect(result.status == 1, "\(result.output)")
    #expect(result.output.contains("broken chart: <rect x=\"nan\">"), "\(result.output)")
  }

  @Test func aPageThatLoadsFromTheNetworkFails() throws {
    let page = HTMLCheck.reportPage().replacingOccurrences(
      of: "</h1>", with: "</h1>\n<img src=\"https://example.com/logo.png\" alt=\"logo\">")
    let result = try HTMLCheck.run(page, name: "remote")
    #expect(result.status == 1, "\(result.output)")
    #expect(result.output.contains("not self-contained"), "\(result.output)")
  }
}

enum HTMLCheck {
  static let script = Harness.packageRoot + "/Scripts/check-html"

  static func onPath(_ name: String) -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
  }

  static var toolsPresent: Bool { onPath("chromium") && onPath("python3") }
  static let missingReason: Comment = "needs chromium and python3 on PATH (Scripts/setup installs both)"

  /// A page as `bulkhead compare --html` writes them: a title, a paragraph, a table
  /// and a bar chart, all inline.
  static func reportPage() -> String {
    let chart = SVGBarChart(
      title: "Memory per idle unit", subtitle: "proportional set size, median of 5", unit: .bytes,
      bars: [
        .init(label: "task", value: 9_216, group: "in-process"),
        .init(label: "thread", value: 73_728, group: "in-process"),
        .init(label: "process", value: 1_153_434, group: "separate"),
        .init(label: "container", value: 1_572_864, group: "separate"),
      ])
    var page = HTMLPage(title: "Bulkhead: the four levels side by side")
    page.add(
      .init(
        heading: "What each level costs",
        blocks: [
          .paragraph("Each unit idles; the figure is what the machine pays to keep it."),
          .table(
            headers: ["level", "memory"],
            rows: [["task", "9 KiB"], ["thread", "72 KiB"], ["process", "1.1 MiB"], ["container", "1.5 MiB"]]),
          .svg(chart.render()),
        ]))
    return page.render()
  }

  struct Result {
    var status: Int32
    var output: String
    /// The PNG the script wrote (empty when none).
    var png: Data
  }

  /// Writes `page` to a fresh directory and runs the script on it.
  static func run(_ page: String, name: String) throws -> Result {
    let dir = NSTemporaryDirectory() + "bulkhead-html-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let html = "\(dir)/\(name).html"
    let png = "\(dir)/\(name).png"
    try page.write(toFile: html, atomically: true, encoding: .utf8)
    let result = try Harness.runExecutable(script, [html, png], environment: nil)
    return Result(
      status: result.status, output: result.stdout + result.stderr,
      png: FileManager.default.contents(atPath: png) ?? Data())
  }
}
