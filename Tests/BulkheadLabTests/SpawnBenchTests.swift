import BulkheadSpec
import Foundation
import Testing

@testable import BulkheadLab

/// Where the real binaries and rootfs are (as the integration tests find them).
enum LabEnvironment {
  static let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  static var rootfs: String {
    if let dir = ProcessInfo.processInfo.environment["BULKHEAD_ROOTFS"], !dir.isEmpty { return dir }
    return packageRoot + "/Rootfs"
  }

  /// The bulkhead binary (its `_host` entry runs tasks and threads).
  static var bulkhead: String? {
    guard let bin = ProcessInfo.processInfo.environment["BULKHEAD_BIN"], !bin.isEmpty,
      FileManager.default.isExecutableFile(atPath: bin)
    else { return nil }
    return bin
  }

  static var probe: String? {
    if let bin = bulkhead {
      let sibling = URL(fileURLWithPath: bin).deletingLastPathComponent().appendingPathComponent("bulkhead-probe").path
      if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
    }
    let inRootfs = rootfs + "/bin/bulkhead-probe"
    return FileManager.default.isExecutableFile(atPath: inRootfs) ? inRootfs : nil
  }

  static var isRoot: Bool { getuid() == 0 }
  static var rootfsReady: Bool {
    FileManager.default.isExecutableFile(atPath: rootfs + "/bin/busybox")
      && FileManager.default.isExecutableFile(atPath: rootfs + "/bin/bulkhead-probe")
  }
  static var canSpawnContainers: Bool { isRoot && rootfsReady }
  static var canMeasureMemory: Bool { isRoot && rootfsReady && bulkhead != nil && probe != nil }

  /// The `run-*` cgroups of this process below its memory cgroup (none must be left).
  static func ownCgroupsLeft() -> [String] {
    guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return [] }
    var left: [String] = []
    for line in text.split(separator: "\n") {
      let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard f.count == 3, f[1].split(separator: ",").contains("memory") else { continue }
      let dir = "/sys/fs/cgroup/memory" + (f[2] == "/" ? "" : String(f[2])) + "/bulkhead"
      for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
      where name.hasPrefix("run-\(getpid())-memory") {
        left.append(dir + "/" + name)
      }
    }
    return left
  }
}

/// A small real run of the spawn bench at every level: sane numbers, ordered where
/// physics orders them; no speed is asserted.
@Suite(.serialized) struct SpawnBenchTests {
  @Test(.enabled(if: LabEnvironment.canSpawnContainers, "needs root and a populated Rootfs (Scripts/rootfs)"))
  func everyLevelGivesPositiveOrderedSamples() async throws {
    let config = SpawnBench.Config(
      iterations: 8, warmup: 2, rootfs: LabEnvironment.rootfs, heapBytes: 64 << 20, heapRounds: 1)
    let (results, lines) = try await Self.offThePool {
      var lines: [String] = []
      let results = try SpawnBench.run(config) { lines.append($0) }
      return (results, lines)
    }
    #expect(!lines.isEmpty)
    for r in results {
      #expect(r.kind == "spawn" && r.metric == "latency")
      #expect(r.unavailable == nil, "\(r.level) \(r.name): \(r.unavailable ?? "")")
      guard let d = r.distribution else { continue }
      #expect(d.min > 0, "\(r.name)")
      #expect(d.min <= d.p50 && d.p50 <= d.p99 && d.p99 <= d.max)
      if !r.name.hasSuffix("supervisor") {
        let expected = r.level == "task" || r.level == "thread" ? 80 : 8
        #expect(d.count == expected, "\(r.name): \(d.count) samples")
      }
    }
    let names = Set(results.map(\.name))
    for name in [
      "Task create+await", "pthread_create+join", "posix_spawn", "fork+exec", "clone3+exec (bulkhead)",
      "rootfs, mnt namespace", "+pid namespace", "mnt+pid, no cgroup", "+uts namespace", "+ipc namespace",
      "+net namespace", "+cgroup namespace", "+user namespace", "all six namespaces", "+seccomp filter",
      "+capabilities dropped", "+cgroup joined", "small supervisor", "64 MiB supervisor", "fork+exec, small supervisor",
      "fork+exec, 64 MiB supervisor",
    ] {
      #expect(names.contains(name), "missing \(name)")
    }
    func p50(_ name: String) -> UInt64 { results.first { $0.name == name }?.distribution?.p50 ?? 0 }
    // A thread or a task is no process; a process is no container.
    #expect(p50("pthread_create+join") < p50("posix_spawn"))
    #expect(p50("Task create+await") < p50("posix_spawn"))
    #expect(p50("pthread_create+join") < p50("+capabilities dropped"))
    #expect(p50("posix_spawn") < p50("+capabilities dropped"))
    // Marginal costs are annotated against their reference.
    let seccomp = try #require(results.first { $0.name == "+seccomp filter" })
    #expect(seccomp.notes.contains { $0.hasPrefix("marginal over 'all six namespaces'") })
    let big = try #require(results.first { $0.name == "64 MiB supervisor" })
    #expect(big.notes.contains { $0.hasPrefix("marginal over 'small supervisor'") })
  }

  /// Runs `body` on a thread of its own. The task level's loop runs on the
  /// cooperative pool while `SpawnBench.run` blocks its caller: called from a test
  /// (on the pool, beside other suites that may block it too) it could wait for a
  /// pool thread that never comes free.
  static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread { continuation.resume(with: Result { try body() }) }
      thread.start()
    }
  }

  @Test func levelsLimitWhatRunsAndABadIterationCountIsRefused() throws {
    let results = try SpawnBench.run(SpawnBench.Config(levels: [.thread], iterations: 3, warmup: 1, heapBytes: 0))
    #expect(results.map(\.name) == ["pthread_create+join"])
    #expect(results[0].distribution?.count == 30)
    #expect(throws: BulkheadError.self) { try SpawnBench.run(SpawnBench.Config(levels: [.thread], iterations: 0)) }
  }

  @Test func aContainerWithoutRootfsIsReportedNotMeasured() throws {
    let results = try SpawnBench.run(SpawnBench.Config(levels: [.container], iterations: 1, heapBytes: 0))
    #expect(results.count == 1)
    #expect(results[0].unavailable?.contains("rootfs") == true)
  }
}
