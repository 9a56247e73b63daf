import Testing

@testable import BulkheadLab

@Suite struct DistributionTests {
  @Test func percentilesAreOrderedAndWithinTheSamples() throws {
    let samples: [UInt64] = (1...1000).map { UInt64($0 * 1000) }
    let d = try #require(Distribution(samples: samples))
    #expect(d.count == 1000)
    #expect(d.min == 1000 && d.max == 1_000_000)
    #expect(d.min <= d.p25 && d.p25 <= d.p50 && d.p50 <= d.p75 && d.p75 <= d.p90 && d.p90 <= d.p99 && d.p99 <= d.max)
    // Three significant digits: the median of 1..1000 ms is 500 ms within 0.1 %.
    #expect(abs(Double(d.p50) - 500_000) / 500_000 < 0.002)
    #expect(abs(Double(d.p99) - 990_000) / 990_000 < 0.002)
    #expect(abs(d.mean - 500_500) < 1)
    #expect(!d.noisy)
  }

  @Test func noneFromNoSamples() {
    #expect(Distribution(samples: []) == nil)
  }

  @Test func aSingleSampleIsEveryPercentile() throws {
    let d = try #require(Distribution(samples: [42]))
    #expect([d.min, d.p25, d.p50, d.p75, d.p90, d.p99, d.max].allSatisfy { $0 == 42 })
  }

  @Test func aLongTailIsCalledNoisy() throws {
    let samples: [UInt64] = Array(repeating: 100, count: 95) + Array(repeating: 10_000, count: 5)
    let d = try #require(Distribution(samples: samples))
    #expect(d.noisy)
  }
}
