import ArgumentParser
import BulkheadWorkloads

/// `bulkhead workloads`: the catalogue of built-in workloads.
public struct WorkloadsCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "workloads",
    abstract: "List the built-in workloads that --workload runs at every level.",
    discussion: """
      Examples:
        bulkhead workloads
        bulkhead run --level thread --workload segv --workload 'heartbeat 100'
        bulkhead run --workload inspect
        bulkhead run --level process --timeout 1s --workload 'fork-bomb 50'
      """)

  public init() {}

  public func run() {
    print("faults:")
    for name in WorkloadName.allCases where name.isFault { print("  \(pad(name.rawValue)) \(name.summary)") }
    print("helpers:")
    for name in WorkloadName.allCases where !name.isFault { print("  \(pad(name.rawValue)) \(name.summary)") }
  }

  func pad(_ s: String) -> String { s + String(repeating: " ", count: max(0, 15 - s.count)) }
}
