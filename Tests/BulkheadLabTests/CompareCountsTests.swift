import BulkheadReports
import Testing

@testable import BulkheadLab

/// compare's "privileged ops denied N/M", traced from the rows of the issue's cases
/// (#17) to the level summary: each count is the rows', by docs/inspect.md's table.
@Suite struct CompareCountsTests {
  static func report(_ ns: UInt64, root: String, checks: [(String, String, String?)]) throws -> InspectionReport {
    let list = checks.map { c in
      "{\"check\":\"\(c.0)\",\"verdict\":\"\(c.1)\",\"note\":\"\"" + (c.2.map { ",\"reach\":\"\($0)\"" } ?? "") + "}"
    }
    return try InspectionReport.parse(
      "{\"namespaces\":{\"net\":\(ns),\"pid\":\(ns)},\"root\":\"\(root)\",\"checks\":[\(list.joined(separator: ","))]}")
  }

  @Test func theSummaryCountsFollowFromTheCorrectedRows() throws {
    let host = try Self.report(
      4_026_531_833, root: "65024:2",
      checks: [
        ("mount", "allowed", nil), ("kill", "allowed", nil), ("bpf", "allowed", nil),
        ("init_module", "unavailable", nil), ("tiocsti", "skipped", nil), ("proc-1-root", "denied", nil),
        ("raw-socket", "allowed", "net:4026531833"), ("mknod-block", "allowed", "dev:254:0"),
      ])
    let container = try Self.report(
      4_026_532_244, root: "65024:917",
      checks: [
        ("mount", "denied", nil), ("kill", "skipped", nil), ("bpf", "allowed", nil),
        ("init_module", "denied", nil), ("tiocsti", "denied", nil), ("proc-1-root", "allowed", "root:65024:917"),
        ("raw-socket", "allowed", "net:4026532244"), ("mknod-block", "denied", nil),
      ])
    let card = Scorecard(host: host, levels: [("container", container)])
    let verdicts = Dictionary(
      uniqueKeysWithValues: card.columns[0].rows.filter { $0.property.hasPrefix("check: ") }.map {
        (String($0.property.dropFirst(7)), $0.verdict)
      })
    // Row by row, as the table says.
    #expect(verdicts["mount"] == .reduced)  // allowed -> denied
    #expect(verdicts["kill"] == .isolated)  // allowed -> skipped: nothing in view
    #expect(verdicts["bpf"] == .shared)  // allowed -> allowed, target unknown
    #expect(verdicts["init_module"] == .unknown)  // unavailable on the host
    #expect(verdicts["tiocsti"] == .unknown)  // the host had nothing to try it on
    #expect(verdicts["proc-1-root"] == .isolated)  // its own root, not the host's
    #expect(verdicts["raw-socket"] == .isolated)  // its own network namespace
    #expect(verdicts["mknod-block"] == .reduced)  // the node could not be opened
    // Then the summary: 5 of the 6 that compare (2 n/a).
    let empty = BenchReport(
      machine: MachineInfo(cpuModel: "", cpus: 1, kernel: "", memoryBytes: 0, cgroupVersion: nil), startedAt: 0,
      results: [])
    let crash = CrashReport(
      machine: empty.machine, startedAt: 0, siblings: 0, windowMilliseconds: 0, levels: [], faults: [], cells: [])
    let summary = LevelSummary(level: .container, scorecard: card, crash: crash, cost: empty)
    #expect(summary.checksDenied == 5)
    #expect(summary.checksTotal == 6)
    #expect(
      card.columns[0].summary.contains("5 of 6 privileged operations denied or confined to its own instance (2 n/a)"))
    // The same row moved to shared by the target: the host's own network namespace.
    let shared = try Self.report(
      4_026_531_833, root: "65024:917", checks: [("raw-socket", "allowed", "net:4026531833")])
    let row = Scorecard(host: host, levels: [("container", shared)]).columns[0].rows.last
    #expect(row?.property == "check: raw-socket" && row?.verdict == .shared)
  }
}

/// compare's page says what the container's root exposes of the host, beside the
/// host view's: the scorecard's "host paths in view" rows of those two columns.
@Suite struct CompareHostPathTests {
  @Test func theContainerAndTheHostViewColumnsSayWhichHostPathsAreInView() throws {
    let host = try InspectionReport.parse(
      #"{"namespaces":{},"hostPaths":{"/usr":"254:2 rw","/etc/shadow":"254:3 rw","/home":"254:4 rw","/tmp":"254:5 rw"}}"#
    )
    let process = try InspectionReport.parse(
      #"{"namespaces":{},"hostPaths":{"/usr":"254:2 rw","/etc/shadow":"254:3 rw","/home":"254:4 rw","/tmp":"254:5 rw"}}"#
    )
    let busybox = try InspectionReport.parse(
      #"{"namespaces":{},"hostPaths":{"/usr":"absent","/etc/shadow":"absent","/home":"absent","/tmp":"41:7 rw"}}"#)
    let view = try InspectionReport.parse(
      #"{"namespaces":{},"hostPaths":{"/usr":"254:2 ro","/etc/shadow":"absent","/home":"absent","/tmp":"42:1 rw"}}"#)
    let card = Scorecard(host: host, levels: [("process", process), ("container", busybox), ("host view", view)])
    #expect(
      CompareView.hostPathLines(card) == [
        "host paths in view (the host's very own files, of 4 probed):", "  container: none (isolated)",
        "  host view: ro /usr (reduced)", "",
      ])
    // The container's root is named when it is not the default one.
    #expect(
      CompareView.hostPathLines(card, containerRoot: "--rootfs host --overlay")[1]
        == "  container (--rootfs host --overlay): none (isolated)")
    // Without a container column there is nothing to say.
    #expect(CompareView.hostPathLines(Scorecard(host: host, levels: [("process", process)])).isEmpty)
  }
}
