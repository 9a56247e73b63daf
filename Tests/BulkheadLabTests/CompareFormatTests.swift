import Testing

@testable import BulkheadLab

@Suite struct CompareFormatTests {
  @Test func durationsReadAtTheirScale() {
    #expect(Format.duration(601) == "601 ns")
    #expect(Format.duration(89_215) == "89.2 us")
    #expect(Format.duration(3_209_215) == "3.21 ms")
    #expect(Format.duration(125_000_000) == "125 ms")
    #expect(Format.duration(2_500_000_000) == "2.50 s")
  }

  @Test func bytesAndRates() {
    #expect(Format.bytes(512) == "512 B")
    #expect(Format.bytes(3676) == "3.59 KiB")
    #expect(Format.bytes(5 << 20) == "5.00 MiB")
    #expect(Format.rate(13_400_000_000) == "13.4 GB/s")
    #expect(Format.rate(2_490_000_000) == "2.49 GB/s")
    #expect(Format.rate(870_000_000) == "870 MB/s")
  }
}
