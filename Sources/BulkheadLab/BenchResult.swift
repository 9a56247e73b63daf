import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// One measurement of the cost lab: a distribution of samples, or the reason it
/// could not be taken ("an abstract Unix socket does not cross a network
/// namespace" is a result, not a number).
public struct BenchResult: Sendable, Codable, Equatable {
  /// "spawn", "ipc" or "memory".
  public var kind: String
  /// "task", "thread", "process", "container", or a pair such as "host-container".
  public var level: String
  /// What was measured, short and unique within a kind and level:
  /// "pipe blocking rtt 1B", "clone3+exec", "+net namespace".
  public var name: String
  /// "latency" (ns), "throughput" (bytes/s) or "memory" (bytes).
  public var metric: String
  /// The samples' summary; nil when `unavailable` says why there is none.
  public var distribution: Distribution?
  public var unavailable: String?
  /// Where the peers ran, e.g. "same core (cpu 0)" or "cpus 0,1"; nil when not pinned.
  public var placement: String?
  public var notes: [String]

  public init(
    kind: String, level: String, name: String, metric: String, distribution: Distribution? = nil,
    unavailable: String? = nil, placement: String? = nil, notes: [String] = []
  ) {
    self.kind = kind
    self.level = level
    self.name = name
    self.metric = metric
    self.distribution = distribution
    self.unavailable = unavailable
    self.placement = placement
    self.notes = notes
  }
}

/// The machine a measurement was taken on: printed above every table and kept in
/// every JSON report, since numbers from another machine mean little.
public struct MachineInfo: Sendable, Codable, Equatable {
  public var cpuModel: String
  public var cpus: Int
  public var kernel: String
  public var memoryBytes: UInt64
  public var cgroupVersion: String?

  public init(cpuModel: String, cpus: Int, kernel: String, memoryBytes: UInt64, cgroupVersion: String?) {
    self.cpuModel = cpuModel
    self.cpus = cpus
    self.kernel = kernel
    self.memoryBytes = memoryBytes
    self.cgroupVersion = cgroupVersion
  }

  /// Reads /proc/cpuinfo, uname and sysconf of this machine.
  public static func current(cgroupVersion: String?) -> MachineInfo {
    var model = "unknown"
    if let text = readTextFile("/proc/cpuinfo") {
      for line in text.split(separator: "\n") where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") {
          model = line[line.index(after: colon)...].trimmingPrefix(" ").description
        }
        break
      }
    }
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let pages = UInt64(max(0, sysconf(Int32(_SC_PHYS_PAGES))))
    let pageSize = UInt64(max(0, sysconf(Int32(_SC_PAGESIZE))))
    return MachineInfo(
      cpuModel: model, cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), kernel: release,
      memoryBytes: pages * pageSize, cgroupVersion: cgroupVersion)
  }

  /// One line for the top of a table.
  public var line: String {
    "\(cpuModel), \(cpus) CPUs, \(memoryBytes >> 30) GiB, Linux \(kernel)"
      + (cgroupVersion.map { ", cgroup \($0)" } ?? "")
  }

}

/// The JSON document `bulkhead bench --json` writes (schema "bulkhead.bench/1",
/// docs/json-bench.md).
public struct BenchReport: Sendable, Codable, Equatable {
  public var schema = "bulkhead.bench/1"
  public var machine: MachineInfo
  /// Wall-clock start, seconds since the epoch.
  public var startedAt: Double
  public var results: [BenchResult]
  /// Warnings for the reader: a noisy machine, a skipped level and why.
  public var warnings: [String]

  public init(machine: MachineInfo, startedAt: Double, results: [BenchResult], warnings: [String] = []) {
    self.machine = machine
    self.startedAt = startedAt
    self.results = results
    self.warnings = warnings
  }
}
