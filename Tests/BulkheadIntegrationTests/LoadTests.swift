import Foundation
import Testing

/// Many sandboxes under one supervisor thread (`bench spawn --count`): every
/// outcome collected, memory and descriptors bounded, nothing left.
@Suite(
  "Load: hundreds of sandboxes under one supervisor",
  .enabled(if: Harness.canRunWorkloads, Harness.workloadReason), .serialized)
struct LoadTests {
  func fleet(_ args: [String]) throws -> [String: Any] {
    let r = try Harness.run(["bench", "spawn", "--json"] + args)
    #expect(r.status == 0, "\(r.stderr)")
    return try #require(try Harness.json(r.stdout)["fleet"] as? [String: Any])
  }

  @Test func fiveHundredContainersAliveAtOnceAreAllCollected() throws {
    let f = try fleet(["--count", "500", "--concurrency", "500", "--hold"])
    #expect(f["collected"] as? Int == 500)
    #expect(f["outcomes"] as? [String: Int] == ["signal SIGKILL": 500], "released together by the supervisor")
    #expect(f["peakRunning"] as? Int == 500)
    let before = try #require(f["descriptorsBefore"] as? Int)
    #expect(f["descriptorsAfter"] as? Int == before, "one pidfd per sandbox, all closed")
    #expect((f["descriptorsPeak"] as? Int ?? 0) <= before + 500 + 16)
    // Bounded: the supervisor's own memory per sandbox it watched at once (the
    // issue's target is 16 KiB; the bound here leaves room for a noisy allocator).
    let rssBefore = try #require(f["rssBeforeKiB"] as? Int)
    let rssPeak = try #require(f["rssPeakKiB"] as? Int)
    #expect(rssPeak - rssBefore <= 500 * 64, "\(rssPeak - rssBefore) KiB for 500 sandboxes")
  }

  @Test func threeHundredShortSandboxesInWavesOfFiftyLoseNone() throws {
    let f = try fleet(["--count", "300", "--concurrency", "50"])
    #expect(f["collected"] as? Int == 300)
    #expect(f["outcomes"] as? [String: Int] == ["exit 0": 300])
    #expect(f["descriptorsAfter"] as? Int == f["descriptorsBefore"] as? Int)
  }

  @Test func processLevelFleetsToo() throws {
    let f = try fleet(["--count", "100", "--concurrency", "20", "--level", "process", "--workload", "exit 7"])
    #expect(f["outcomes"] as? [String: Int] == ["exit 7": 100])
    #expect(f["descriptorsAfter"] as? Int == f["descriptorsBefore"] as? Int, "tracking cgroups hold no descriptor")
  }
}
