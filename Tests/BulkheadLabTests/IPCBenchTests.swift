import BulkheadSpec
import BulkheadWorkloads
import Foundation
import Testing

@testable import BulkheadLab

/// Small real runs of every transport at every level: the results must be sane
/// (present, positive, percentiles in order) and ordered where physics orders
/// them. No speed is asserted.
@Suite(.serialized) struct IPCBenchTests {
  static let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  static var rootfs: String {
    ProcessInfo.processInfo.environment["BULKHEAD_ROOTFS"].flatMap { $0.isEmpty ? nil : $0 }
      ?? packageRoot + "/Rootfs"
  }

  /// The probe with the ipc-peer workload: $BULKHEAD_PROBE, beside $BULKHEAD_BIN,
  /// or the Rootfs's.
  static var probe: String? {
    let env = ProcessInfo.processInfo.environment
    var candidates: [String] = []
    if let p = env["BULKHEAD_PROBE"], !p.isEmpty { candidates.append(p) }
    if let bin = env["BULKHEAD_BIN"], !bin.isEmpty {
      candidates.append(URL(fileURLWithPath: bin).deletingLastPathComponent().path + "/bulkhead-probe")
    }
    candidates.append(rootfs + "/bin/bulkhead-probe")
    return candidates.first { knowsIPCPeer($0) }
  }

  static func knowsIPCPeer(_ path: String) -> Bool {
    guard FileManager.default.isExecutableFile(atPath: path) else { return false }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = ["--list"]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).contains("ipc-peer")
  }

  static var rootfsProbeReady: Bool { knowsIPCPeer(rootfs + "/bin/bulkhead-probe") }
  static var twoCPUs: Bool { IPCBench.allowedCPUs().count >= 2 }

  /// A short configuration: two sizes, few samples, 15 ms per measurement.
  static func quick(_ levels: [IPCBench.Level], transports: [IPCTransport]? = nil, styles: [IPCStyle]? = nil)
    -> IPCBench.Config
  {
    IPCBench.Config(
      levels: levels, transports: transports, styles: styles, sizes: [1, 65536], iterations: 200,
      placements: [twoCPUs ? .differentCores : .sameCore], budgetMilliseconds: 15, probePath: probe,
      rootfs: rootfs)
  }

  /// Every case gave a latency per size and a throughput, each sane.
  static func checkSane(_ results: [BenchResult], cases: Int, sizes: Int = 2) {
    #expect(results.count == cases * (sizes + 1), "\(results.map { "\($0.name): \($0.unavailable ?? "ok")" })")
    for r in results {
      #expect(r.kind == "ipc")
      #expect(r.unavailable == nil, "\(r.level) \(r.name): \(r.unavailable ?? "")")
      guard let d = r.distribution else { continue }
      #expect(d.count >= 1 && d.min > 0, "\(r.name)")
      #expect(d.min <= d.p50 && d.p50 <= d.p90 && d.p90 <= d.p99 && d.p99 <= d.max, "\(r.name)")
      #expect(d.unit == (r.metric == "latency" ? "ns" : "B/s"), "\(r.name)")
      #expect(r.metric == "throughput" ? r.name.hasSuffix(" stream") : r.name.contains(" rtt "), "\(r.name)")
    }
  }

  /// The fastest sample: what the mechanism allows, least touched by other load
  /// (a preempted busy poller waits a time slice; its fastest round trip does not).
  static func fastest(_ results: [BenchResult], _ name: String) -> UInt64? {
    results.first { $0.name == name }?.distribution?.min
  }

  @Test func namesSizesAndPlansTheCases() throws {
    #expect(IPCBench.sizeLabel(1) == "1B")
    #expect(IPCBench.sizeLabel(4096) == "4KiB")
    #expect(IPCBench.sizeLabel(65536) == "64KiB")
    #expect(IPCBench.sizeLabel(1 << 20) == "1MiB")
    let cases = try IPCBench.plan(IPCBench.Config(placements: [.sameCore]))
    // task: the pool's choice and the placement = 2; thread: spin, mutex-cond, pipe x3,
    // eventfd x3 = 8; process: 3+3+3+1+1 = 11; container: 11 + unix-path x3 +
    // unix-abstract once (it does not connect) = 15.
    #expect(cases.count == 2 + 8 + 11 + 15)
    #expect(cases.filter { $0.level == .task }.map { $0.placement == nil } == [true, false])
    #expect(cases.filter { $0.placement != nil }.allSatisfy { $0.placement?.initiator == $0.placement?.responder })
    #expect(!cases.contains { $0.transport == .futex && $0.style != .blocking })
    #expect(!cases.contains { $0.transport == .shmRing && $0.style != .busyPoll })
    // A transport no requested level has is a usage error, not an empty report.
    #expect(throws: BulkheadError.self) {
      try IPCBench.plan(IPCBench.Config(levels: [.thread], transports: [.unixPath]))
    }
    #expect(throws: BulkheadError.self) { try IPCBench.plan(IPCBench.Config(sizes: [0])) }
  }

  @Test func thePeerRefusesBadArguments() {
    let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
    defer { close(null) }
    let context = WorkloadContext(level: "process", outputFD: null)
    #expect(IPCPeer.run(["pipe", "blocking"], context: context) == 2)
    #expect(IPCPeer.run(["carrier-pigeon", "blocking", "-1", "3"], context: context) == 2)
    #expect(IPCPeer.run(["pipe", "blocking", "-1", "3"], context: context) == 2)
    // Nothing listens there: the connection fails, with its own code.
    #expect(IPCPeer.run(["unix-path", "blocking", "-1", "/nonexistent/bulkhead-socket"], context: context) == 3)
  }

  @Test func tasksExchangeThroughAnAsyncChannel() throws {
    let results = try IPCBench.run(Self.quick([.task]))
    // The pool's placement, and executors pinned to the chosen CPUs.
    Self.checkSane(results, cases: 2)
    #expect(results.allSatisfy { $0.level == "task" })
    #expect(results.filter { $0.placement?.hasPrefix("not pinned") == true }.count == 3)
    #expect(results.filter { $0.placement?.contains("executor thread") == true }.count == 3)
  }

  @Test func threadsExchangeThroughEveryTransport() throws {
    let results = try IPCBench.run(Self.quick([.thread]))
    Self.checkSane(results, cases: 8)
    // On two cores (on one, a spinning peer waits for a time slice whatever the
    // size): copying 64 KiB each way costs more than copying 1 byte where nothing
    // but the copy and the cache lines moves (spinning on a ring), and spinning
    // answers faster than two system calls and a wake-up.
    if Self.twoCPUs {
      let small = try #require(Self.fastest(results, "spin busy-poll rtt 1B"))
      let large = try #require(Self.fastest(results, "spin busy-poll rtt 64KiB"))
      #expect(large > small)
      let pipe = try #require(Self.fastest(results, "pipe blocking rtt 1B"))
      #expect(small < pipe)
    }
  }

  @Test(.enabled(if: probe != nil, "needs a bulkhead-probe with the ipc-peer workload (Scripts/build)"))
  func processesExchangeThroughEveryTransport() throws {
    let results = try IPCBench.run(Self.quick([.process], styles: [.blocking, .busyPoll]))
    // pipe, socketpair, eventfd in two styles; futex blocking; shm-ring busy-poll.
    Self.checkSane(results, cases: 8)
    #expect(results.allSatisfy { $0.level == "process" && $0.placement != nil })
    if Self.twoCPUs {
      let small = try #require(Self.fastest(results, "shm-ring busy-poll rtt 1B"))
      let large = try #require(Self.fastest(results, "shm-ring busy-poll rtt 64KiB"))
      #expect(large > small)
    }
  }

  @Test(
    .enabled(
      if: getuid() == 0 && rootfsProbeReady,
      "needs root and a Rootfs whose bulkhead-probe has the ipc-peer workload (Scripts/build, Scripts/rootfs)"))
  func hostAndContainerExchangeAcrossTheBoundary() throws {
    let before = Self.temporaryDirectories()
    let transports: [IPCTransport] = [.pipe, .socketpair, .unixPath, .eventfd, .futex, .shmRing]
    let results = try IPCBench.run(Self.quick([.container], transports: transports, styles: [.blocking, .busyPoll]))
    Self.checkSane(results, cases: 2 + 2 + 2 + 2 + 1 + 1)
    #expect(results.allSatisfy { $0.level == "host-container" })
    // The ring's target is judged on one of its stream results (not asserted: speed).
    #expect(IPCBench.ringTarget(results)?.result.name == "shm-ring busy-poll stream")
    // The abstract socket is an answer, not a number.
    let abstract = try IPCBench.run(Self.quick([.container], transports: [.unixAbstract], styles: [.blocking]))
    #expect(abstract.count == 1)
    #expect(abstract.first?.distribution == nil)
    #expect(abstract.first?.unavailable?.contains("network namespace") == true)
    // Nothing left behind: the socket directories are gone.
    #expect(Self.temporaryDirectories() == before)
  }

  static func temporaryDirectories() -> Set<String> {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
    return Set(names.filter { $0.hasPrefix("bulkhead-ipc-") })
  }
}
