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

  @Test func refusesAZeroUnitCount() {
    #expect(throws: BulkheadError.self) { try MemoryBench.run(MemoryBench.Config(units: 0)) }
  }
}
