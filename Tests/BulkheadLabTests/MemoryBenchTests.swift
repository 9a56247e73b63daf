import BulkheadSpec
import Foundation
import Testing

@testable import BulkheadLab

/// A small real run of the memory bench at every level: every figure positive,
/// ordered where the kernel orders them, nothing left behind.
@Suite(.serialized) struct MemoryBenchTests {
  @Test(
    .enabled(
      if: LabEnvironment.canMeasureMemory,
      "needs root, a populated Rootfs and BULKHEAD_BIN (the static bulkhead, beside bulkhead-probe)"))
  func idleUnitsCostMemoryInTheOrderOfTheirIsolation() throws {
    let config = MemoryBench.Config(
      units: 8, rounds: 2, probePath: LabEnvironment.probe, hostExecutable: LabEnvironment.bulkhead,
      rootfs: LabEnvironment.rootfs)
    let results = try MemoryBench.run(config)
    func perUnit(_ name: String) -> UInt64 {
      results.first { $0.name == name }?.distribution?.p50 ?? 0
    }
    for r in results {
      #expect(r.kind == "memory" && r.metric == "memory")
      #expect(r.unavailable == nil, "\(r.name): \(r.unavailable ?? "")")
      #expect(r.distribution?.unit == "B")
    }
    for name in ["idle task", "idle thread", "idle process", "idle container", "idle container, host network"] {
      #expect(perUnit(name) > 0, "\(name)")
    }
    // A process has its own address space, page tables and kernel stack; a thread
    // shares all but a stack; a task is a heap object on a shared thread.
    #expect(perUnit("idle task") < perUnit("idle thread"))
    #expect(perUnit("idle thread") < perUnit("idle process"))
    // A container is at least a process of its own.
    #expect(perUnit("idle thread") < perUnit("idle container"))
    #expect(perUnit("idle thread") < perUnit("idle container, host network"))
    #expect(results.contains { $0.name == "supervisor RSS per process" })
    #expect(results.contains { $0.name == "supervisor RSS per container" })
    #expect(LabEnvironment.ownCgroupsLeft().isEmpty)
  }

  /// The pages and kernel memory a cgroup holds, not the pre-charged usage.
  @Test func chargesAreThePagesHeldNotTheUsageCounter() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bulkhead-memtest-\(getpid())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func write(_ name: String, _ text: String) throws {
      try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }
    try write("memory.usage_in_bytes", "524288\n")
    try write("memory.kmem.usage_in_bytes", "69632\n")
    try write("memory.stat", "cache 4096\nrss 126976\nrss_huge 0\nshmem 0\ntotal_rss 999999\n")
    #expect(MemoryBench.charged(directory: dir, version: .v1) == 4096 + 126_976 + 69_632)
    try write("memory.current", "700000\n")
    try write("memory.stat", "anon 126976\nfile 4096\nkernel 69632\nkernel_stack 16384\n")
    #expect(MemoryBench.charged(directory: dir, version: .v2) == 126_976 + 4096 + 69_632)
    // A kernel without the "kernel" key: the counter is all there is.
    try write("memory.stat", "anon 126976\nfile 4096\n")
    #expect(MemoryBench.charged(directory: dir, version: .v2) == 700_000)
  }

  @Test func refusesAZeroUnitCount() {
    #expect(throws: BulkheadError.self) { try MemoryBench.run(MemoryBench.Config(units: 0)) }
  }
}
