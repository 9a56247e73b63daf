import BulkheadSpec

/// Parses durations as users write them: `1.5s`, `500ms`, `2m`, `1h`, or a bare
/// number of seconds. Returns milliseconds.
public func parseDurationMilliseconds(_ text: String, field: String) throws(BulkheadError) -> Int {
  let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
  var number = Substring(text)
  var scale = 1000.0
  for (suffix, factor) in units where text.hasSuffix(suffix) {
    number = text.dropLast(suffix.count)
    scale = factor
    break
  }
  guard let value = Double(number), value.isFinite, value >= 0, value * scale < 1e12 else {
    throw .invalidSpec(
      field: field, value: text, reason: "not a duration", hint: "write e.g. 500ms, 2s, 1.5m or 1h")
  }
  return Int((value * scale).rounded())
}
