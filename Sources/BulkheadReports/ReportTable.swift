#if canImport(Glibc)
  import Glibc
#endif

/// Plain-text tables for people: columns padded to their widest cell (capped),
/// verdicts coloured only on a terminal and never with NO_COLOR.
public struct ReportTable {
  public var headers: [String]
  public var rows: [[String]]
  public var maxWidth = 34

  public init(headers: [String], rows: [[String]]) {
    self.headers = headers
    self.rows = rows
  }

  public static var useColour: Bool { isatty(1) == 1 && getenv("NO_COLOR") == nil }

  public func render(colour: Bool = ReportTable.useColour) -> String {
    let all = [headers] + rows
    var widths = Array(repeating: 0, count: headers.count)
    for row in all {
      for (i, cell) in row.enumerated() where i < widths.count { widths[i] = min(maxWidth, max(widths[i], cell.count)) }
    }
    func clip(_ s: String, _ w: Int) -> String { s.count <= w ? s : String(s.prefix(w - 1)) + "…" }
    func line(_ row: [String]) -> String {
      row.enumerated().map { i, cell in
        let c = clip(cell, widths[i])
        let padded = c + String(repeating: " ", count: max(0, widths[i] - c.count))
        return colour ? Self.paint(padded, c) : padded
      }.joined(separator: "  ").trimmingTrailingSpaces()
    }
    var out = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
    out += rows.map(line)
    return out.joined(separator: "\n")
  }

  static func paint(_ padded: String, _ word: String) -> String {
    let codes: [String: String] = [
      "isolated": "32", "reduced": "36", "shared": "33", "denied": "32", "allowed": "31", "skipped": "32",
    ]
    guard let code = codes[word] else { return padded }
    return "\u{1B}[\(code)m\(padded)\u{1B}[0m"
  }
}

extension String {
  func trimmingTrailingSpaces() -> String {
    var s = Substring(self)
    while s.last == " " { s = s.dropLast() }
    return String(s)
  }
}
