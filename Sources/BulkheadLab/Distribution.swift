import Histogram

/// A set of samples summarised the way the cost lab reports them: an HDR histogram
/// (3 significant digits) for the percentiles, the exact minimum and maximum, and a
/// spread check that says when the machine was too noisy to trust the numbers.
public struct Distribution: Sendable, Codable, Equatable {
  /// What was measured ("ns", "B/s", "KiB"): values are integers in this unit.
  public var unit: String
  public var count: Int
  public var min: UInt64
  public var p50: UInt64
  public var p90: UInt64
  public var p99: UInt64
  public var max: UInt64
  public var mean: Double
  /// p25 and p75, for box plots.
  public var p25: UInt64
  public var p75: UInt64

  /// Builds the summary from raw samples (warm-up already dropped); nil when there are none.
  public init?(samples: [UInt64], unit: String = "ns") {
    guard !samples.isEmpty else { return nil }
    let highest = Swift.max(2, samples.max()!)
    var histogram = Histogram<UInt64>(highestTrackableValue: highest, numberOfSignificantValueDigits: .three)
    var total = 0.0
    for value in samples {
      _ = histogram.record(value)
      total += Double(value)
    }
    self.unit = unit
    let lowest = samples.min()!
    let top = samples.max()!
    count = samples.count
    min = lowest
    max = top
    mean = total / Double(samples.count)
    // The histogram's values are the highest equivalent of their bucket; clamp into
    // the exact range so that min <= p25 <= ... <= max always holds.
    func at(_ percentile: Double) -> UInt64 {
      Swift.min(top, Swift.max(lowest, histogram.valueAtPercentile(percentile)))
    }
    p25 = at(25)
    p50 = at(50)
    p75 = at(75)
    p90 = at(90)
    p99 = at(99)
  }

  /// The machine was noisy when the tail is far from the middle: p99 more than ten
  /// times p50, or the middle half wider than the median itself.
  public var noisy: Bool {
    guard p50 > 0 else { return false }
    return p99 > p50 * 10 || (p75 - p25) > p50
  }
}
