import BulkheadSeccomp
import BulkheadWorkloads
import Foundation
import Testing

@testable import BulkheadCore

@Suite("Workload invocations and reports")
struct WorkloadParsingTests {
  @Test func invocationsParseNameArgumentsAndDelay() throws {
    let plain = try #require(WorkloadInvocation(parsing: "heartbeat 50 10"))
    #expect(plain.name == .heartbeat && plain.arguments == ["50", "10"] && plain.delayMilliseconds == 0)
    let delayed = try #require(WorkloadInvocation(parsing: "after=200 segv"))
    #expect(delayed.name == .segv && delayed.delayMilliseconds == 200)
    #expect(delayed.text == "after=200 segv")
    #expect(WorkloadInvocation(parsing: "bogus") == nil)
    #expect(WorkloadInvocation(parsing: "after=-1 segv") == nil)
    #expect(WorkloadInvocation(parsing: "after=200") == nil)
    #expect(WorkloadInvocation(parsing: "") == nil)
  }

  @Test func everyNameRoundTripsAndIsSummarised() {
    for name in WorkloadName.allCases {
      #expect(WorkloadInvocation(parsing: name.rawValue)?.name == name)
      #expect(!name.summary.isEmpty)
    }
    #expect(WorkloadName.allCases.filter(\.isFault).count == 12)
  }

  @Test func sizesParseWithBinarySuffixes() {
    #expect(Workloads.parseSize("512M") == 512 << 20)
    #expect(Workloads.parseSize("1g") == 1 << 30)
    #expect(Workloads.parseSize("4096") == 4096)
    #expect(Workloads.parseSize("lots") == nil)
  }

  @Test func hostReportLinesUpdateStatuses() {
    var statuses = [InProcessStatus(index: 0, name: "segv"), InProcessStatus(index: 1, name: "heartbeat")]
    InProcessStatus.apply("start 1 heartbeat", to: &statuses, atSeconds: 0.1)
    InProcessStatus.apply("end 1 0", to: &statuses, atSeconds: 0.2)
    InProcessStatus.apply("start 0 segv", to: &statuses, atSeconds: 0.3)
    InProcessStatus.apply("end 7 0", to: &statuses, atSeconds: 0.4)  // out of range: ignored
    InProcessStatus.apply("garbage", to: &statuses, atSeconds: 0.5)
    #expect(statuses[0].started && statuses[0].returned == nil)
    #expect(statuses[1].started && statuses[1].returned == 0 && statuses[1].returnedAfterSeconds == 0.2)
  }

  @Test func trySyscallReportsAnUnknownNameAsInvalid() {
    let result = TrySyscall.attempt(["no-such-call"])
    #expect(result.verdict == "invalid")
    #expect(!result.allowed)
  }

  @Test func trySyscallGetpidIsAllowedAndItsLineIsJSON() throws {
    let result = TrySyscall.attempt(["getpid"])
    #expect(result.allowed)
    let object = try JSONSerialization.jsonObject(with: Data(result.line.utf8)) as? [String: Any]
    #expect(object?["verdict"] as? String == "allowed")
  }

  @Test func jsonStringsEscapeControlCharacters() throws {
    let text = "a\"b\\c\nd\u{1}"
    let decoded = try JSONSerialization.jsonObject(with: Data("[\(jsonString(text))]".utf8)) as? [String]
    #expect(decoded == [text])
  }

  @Test func inspectionIsOneValidJSONObject() throws {
    let json = Inspection.current(level: "test").json
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    #expect(object["pid"] as? Int == Int(getpid()))
    #expect(object["level"] as? String == "test")
    #expect((object["namespaces"] as? [String: Any])?.keys.contains("pid") == true)
  }
}

@Suite("The default filter's on-disk cache")
struct SeccompFilterCacheTests {
  @Test func aStoredFilterReadsBackEqualAndACorruptOneIsIgnored() throws {
    let path = NSTemporaryDirectory() + "bulkhead-cache-\(UInt32.random(in: 0...UInt32.max)).bpf"
    defer { unlink(path) }
    let filter = SeccompFilter(instructions: [0x0000_0004_0000_0020, 0x7fff_0000_0000_0006], flags: 2)
    SeccompFilterCache.write(filter, to: path)
    #expect(SeccompFilterCache.read(path) == filter)
    // Flip one byte of an instruction: the checksum refuses it.
    let fd = open(path, O_WRONLY)
    var byte: UInt8 = 0xff
    _ = pwrite(fd, &byte, 1, 40)
    close(fd)
    #expect(SeccompFilterCache.read(path) == nil)
    #expect(SeccompFilterCache.read(path + ".missing") == nil)
  }
}
