import Testing

@testable import BulkheadSeccomp

@Suite("JSON parser")
struct JSONParserTests {
  func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

  @Test func valuesAreParsed() throws {
    let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\u00e9\ud83d\ude00\n"} "#)
    #expect(
      value
        == .object([
          ("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null])),
          ("b", .string("x\"é😀\n")),
        ]))
  }

  @Test func largeNumbersKeepTheirText() throws {
    #expect(try parse("18446744073709551615") == .number("18446744073709551615"))
  }

  @Test(arguments: [
    ("{\"a\" 1}", 1, 6), ("[1,]", 1, 4), ("[01]", 1, 2), ("\"abc", 1, 1), ("{\n\n  x", 3, 3), ("[1] [2]", 1, 5),
    ("\"a\tb\"", 1, 3), ("", 1, 1), ("[-]", 1, 3), ("tru", 1, 1),
  ])
  func errorsGiveTheirPosition(_ text: String, _ line: Int, _ column: Int) {
    do {
      _ = try parse(text)
      Issue.record("parsed \(text)")
    } catch {
      #expect(error.line == line && error.column == column, "\(error)")
    }
  }

  @Test func deepNestingIsRefusedNotACrash() {
    #expect(throws: JSONSyntaxError.self) { try parse(String(repeating: "[", count: 100_000)) }
  }
}
