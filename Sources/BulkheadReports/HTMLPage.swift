/// A self-contained HTML5 page: inline CSS, sections with headings, paragraphs,
/// tables, preformatted text and inline SVG charts; no script, no stylesheet or
/// font from the network, so the file reads the same offline and in ten years.
public struct HTMLPage {
  public enum Block: Sendable, Equatable {
    case paragraph(String)
    case table(headers: [String], rows: [[String]])
    case preformatted(String)
    /// An `<svg>` element (from `SVGDocument.renderElement()`), inlined as is.
    case svg(String)
  }

  public struct Section: Sendable, Equatable {
    public var heading: String
    public var blocks: [Block]

    public init(heading: String, blocks: [Block] = []) {
      self.heading = heading
      self.blocks = blocks
    }
  }

  public var title: String
  public var sections: [Section] = []

  public init(title: String, sections: [Section] = []) {
    self.title = title
    self.sections = sections
  }

  public mutating func add(_ section: Section) { sections.append(section) }

  static let style = """
    body{font-family:DejaVu Sans,Verdana,sans-serif;margin:2em auto;max-width:960px;color:#222;line-height:1.4}
    h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
    table{border-collapse:collapse;margin:1em 0;font-size:.9em}
    th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}
    td.n{text-align:right;font-variant-numeric:tabular-nums}
    pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
    figure{margin:1em 0}svg{max-width:100%;height:auto}
    """

  public func render() -> String {
    var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    out += "<title>\(SVGDocument.escape(title))</title>\n<style>\n\(Self.style)\n</style>\n</head>\n<body>\n"
    out += "<h1>\(SVGDocument.escape(title))</h1>\n"
    for section in sections {
      out += "<section>\n<h2>\(SVGDocument.escape(section.heading))</h2>\n"
      for block in section.blocks { out += Self.render(block) }
      out += "</section>\n"
    }
    out += "</body>\n</html>\n"
    return out
  }

  static func render(_ block: Block) -> String {
    switch block {
    case .paragraph(let text):
      return "<p>\(SVGDocument.escape(text))</p>\n"
    case .preformatted(let text):
      return "<pre>\(SVGDocument.escape(text))</pre>\n"
    case .svg(let markup):
      // An XML declaration is not allowed inside HTML: keep the element only.
      var element = Substring(markup)
      if element.hasPrefix("<?xml"), let end = element.firstIndex(of: ">") {
        element = element[element.index(after: end)...]
      }
      return "<figure>\n\(element.drop(while: { $0 == "\n" }))</figure>\n"
    case .table(let headers, let rows):
      var out = "<table>\n<thead><tr>"
      for header in headers { out += "<th>\(SVGDocument.escape(header))</th>" }
      out += "</tr></thead>\n<tbody>\n"
      for row in rows {
        out += "<tr>"
        for cell in row {
          let numeric = cell.first.map { $0.isNumber || $0 == "+" || $0 == "-" } ?? false
          out += (numeric ? "<td class=\"n\">" : "<td>") + SVGDocument.escape(cell) + "</td>"
        }
        out += "</tr>\n"
      }
      return out + "</tbody>\n</table>\n"
    }
  }
}
