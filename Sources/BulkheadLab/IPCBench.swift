import BulkheadCore
import BulkheadSpec
import BulkheadWorkloads
import CBench

#if canImport(Glibc)
  import Glibc
#endif

/// `bulkhead bench ipc`: round-trip latency and streaming throughput between two
/// peers at the same level — two async tasks, two threads, two processes, or the
/// host and a container — over each transport the level offers, in each waiting
/// style that makes sense for it, with both peers pinned to CPUs chosen up front.
///
/// What is timed is C (`ipc.c`): the initiator writes `size` bytes and reads them
/// back, one clock reading on each side of the pair of calls; the responder (a
/// pthread, or the `ipc-peer` workload in a real Bulkhead unit) echoes. The pipe
/// transport in the blocking style is perf bench sched pipe's loop (two pipes, one
/// write and one read per side per round trip), so that the two can be compared.
public enum IPCBench {
  public enum Level: String, Sendable, CaseIterable, Codable {
    case task, thread, process, container

    /// The `level` of its results: the container level is measured between the
    /// host and a container, across the namespace boundary.
    public var reportName: String { self == .container ? "host-container" : rawValue }

    /// What the level can exchange through.
    public var transports: [IPCTransport] {
      switch self {
      case .task: [.asyncChannel]
      case .thread: [.spin, .mutexCond, .pipe, .eventfd]
      case .process: [.pipe, .socketpair, .eventfd, .futex, .shmRing]
      case .container: [.pipe, .socketpair, .unixPath, .unixAbstract, .eventfd, .futex, .shmRing]
      }
    }
  }

  public enum PlacementKind: String, Sendable, CaseIterable, Codable {
    case sameCore = "same-core"
    case differentCores = "different-cores"
  }

  /// Where the two peers run: the initiator on `initiator`, the responder on
  /// `responder`; nil CPUs: not pinned (the task level).
  public struct Placement: Sendable, Equatable {
    public var initiator: Int32
    public var responder: Int32

    public var label: String {
      initiator == responder
        ? "same core (cpu \(initiator))" : "different cores (cpus \(initiator),\(responder))"
    }
  }

  public struct Config: Sendable {
    public var levels: [Level]
    /// nil: every transport of each level.
    public var transports: [IPCTransport]?
    /// nil: every style that makes sense for each transport.
    public var styles: [IPCStyle]?
    /// Round-trip message sizes in bytes.
    public var sizes: [Int]
    /// Samples per round-trip measurement (after the warm-up), at most.
    public var iterations: Int
    /// nil: both where there are two CPUs or more, else same-core.
    public var placements: [PlacementKind]?
    /// Whether to measure streaming throughput too.
    public var stream: Bool
    /// The size of each write while streaming.
    public var streamChunk: Int
    /// Wall-clock time per measurement at most: busy polling on one core waits a
    /// scheduler time slice per round trip, so iterations alone could take minutes.
    public var budgetMilliseconds: Int
    /// `bulkhead-probe` on the host (process level) and the rootfs (container level).
    public var probePath: String?
    public var rootfs: String?

    public init(
      levels: [Level] = Level.allCases, transports: [IPCTransport]? = nil, styles: [IPCStyle]? = nil,
      sizes: [Int] = [1, 4096, 65536], iterations: Int = 2000, placements: [PlacementKind]? = nil, stream: Bool = true,
      streamChunk: Int = 65536, budgetMilliseconds: Int = 60, probePath: String? = nil, rootfs: String? = nil
    ) {
      self.levels = levels
      self.transports = transports
      self.styles = styles
      self.sizes = sizes
      self.iterations = iterations
      self.placements = placements
      self.stream = stream
      self.streamChunk = streamChunk
      self.budgetMilliseconds = budgetMilliseconds
      self.probePath = probePath
      self.rootfs = rootfs
    }
  }

  /// One exchange to measure.
  public struct Case: Sendable, Equatable {
    public var level: Level
    public var transport: IPCTransport
    public var style: IPCStyle
    /// nil: not pinned (the task level's cooperative pool places the tasks).
    public var placement: Placement?
  }

  /// The cases `config` asks for, in the order they run; throws when the request
  /// selects nothing (a transport no requested level has) or a placement the
  /// machine cannot give.
  public static func plan(_ config: Config) throws(BulkheadError) -> [Case] {
    guard !config.sizes.isEmpty, config.sizes.allSatisfy({ $0 >= 1 && $0 <= 16 << 20 }) else {
      throw .invalidSpec(
        field: "--sizes", value: config.sizes.map(String.init).joined(separator: ","),
        reason: "sizes must be 1 byte to 16 MiB", hint: "for example --sizes 1,4096,65536")
    }
    guard config.iterations >= 1 else {
      throw .invalidSpec(field: "--iterations", value: "\(config.iterations)", reason: "must be at least 1")
    }
    let cpus = allowedCPUs()
    guard let first = cpus.first else {
      throw .setupFailed(step: "sched_getaffinity", errno: EINVAL, reason: "no CPU is allowed")
    }
    let kinds = config.placements ?? (cpus.count >= 2 ? [.sameCore, .differentCores] : [.sameCore])
    var placements: [Placement] = []
    for kind in kinds {
      switch kind {
      case .sameCore: placements.append(Placement(initiator: first, responder: first))
      case .differentCores:
        guard cpus.count >= 2 else {
          throw BulkheadError(
            code: .unsupported, step: "--placement", value: kind.rawValue,
            reason: "this process may run on one CPU only (\(first))", hint: "use --placement same-core")
        }
        placements.append(Placement(initiator: cpus[0], responder: cpus[1]))
      }
    }
    var cases: [Case] = []
    for level in config.levels {
      for transport in level.transports where config.transports?.contains(transport) ?? true {
        for style in transport.styles where config.styles?.contains(style) ?? true {
          if level == .task {
            // The cooperative pool's own choice, then each placement through
            // executors pinned to the CPUs.
            cases.append(Case(level: level, transport: transport, style: style, placement: nil))
            for placement in placements {
              cases.append(Case(level: level, transport: transport, style: style, placement: placement))
            }
          } else if transport == .unixAbstract && level == .container {
            // Its answer is the same in every style and placement: asked once.
            if !cases.contains(where: { $0.transport == transport && $0.level == level }) {
              cases.append(Case(level: level, transport: transport, style: style, placement: placements[0]))
            }
          } else {
            for placement in placements {
              cases.append(Case(level: level, transport: transport, style: style, placement: placement))
            }
          }
        }
      }
    }
    guard !cases.isEmpty else {
      let wanted = (config.transports ?? []).map(\.rawValue) + (config.styles ?? []).map(\.rawValue)
      throw .invalidSpec(
        field: "--transport", value: wanted.joined(separator: ","),
        reason: "no requested level offers this transport and style",
        hint: "see 'bulkhead bench ipc --help' for the transports of each level")
    }
    return cases
  }

  /// Runs every case of `config` and returns its results: per case one latency
  /// result per size and one throughput result, or one result saying why the case
  /// could not be measured. Progress lines go to `progress`.
  public static func run(_ config: Config, progress: (String) -> Void = { _ in }) throws(BulkheadError)
    -> [BenchResult]
  {
    let cases = try plan(config)
    if cases.contains(where: { $0.level == .container }) {
      guard getuid() == 0 else {
        throw BulkheadError(
          code: .unsupported, step: "container level", reason: "the host-container measurements need root",
          hint: "run as root, or pass --levels task,thread,process")
      }
      guard Launcher.probe(inRootfs: config.rootfs) != nil else {
        throw BulkheadError(
          code: .setupFailed, step: "rootfs", value: config.rootfs,
          reason: "no root filesystem with bin/bulkhead-probe for the container level",
          hint: "run Scripts/build and Scripts/rootfs, set BULKHEAD_ROOTFS, or pass --levels task,thread,process")
      }
    }
    if cases.contains(where: { $0.level == .process }) && config.probePath == nil {
      throw BulkheadError(
        code: .setupFailed, step: "bulkhead-probe", reason: "the probe was not found",
        hint: "run Scripts/build and Scripts/rootfs, or set BULKHEAD_PROBE")
    }
    // The initiator pins the calling thread; its CPU set is restored after every
    // case, so that threads it creates meanwhile (the cooperative pool's) are not
    // confined, and the caller gets its thread back as it was.
    let saved = allowedCPUs()
    func restore() { _ = saved.withUnsafeBufferPointer { bhb_pin_to_cpus($0.baseAddress, Int32($0.count)) } }
    var results: [BenchResult] = []
    for (index, c) in cases.enumerated() {
      defer { restore() }
      progress(
        "ipc [\(index + 1)/\(cases.count)] \(c.level.reportName) \(c.transport.rawValue) \(c.style.rawValue)"
          + (c.placement.map { ", \($0.label)" } ?? ""))
      do {
        switch c.level {
        case .task: results += try AsyncChannelBench.measure(config, placement: c.placement)
        case .thread: results += try ThreadPeers.measure(c, config)
        case .process, .container: results += try UnitPeers.measure(c, config)
        }
      } catch let error as IPCUnavailable {
        results.append(
          BenchResult(
            kind: "ipc", level: c.level.reportName, name: "\(c.transport.rawValue) \(c.style.rawValue)",
            metric: "latency", unavailable: error.reason, placement: c.placement?.label))
      } catch let error as BulkheadError {
        // One broken case must not cost the rest of the run: it is reported.
        results.append(
          BenchResult(
            kind: "ipc", level: c.level.reportName, name: "\(c.transport.rawValue) \(c.style.rawValue)",
            metric: "latency", unavailable: "failed: \(error)", placement: c.placement?.label))
      } catch {
        results.append(
          BenchResult(
            kind: "ipc", level: c.level.reportName, name: "\(c.transport.rawValue) \(c.style.rawValue)",
            metric: "latency", unavailable: "failed: \(error)", placement: c.placement?.label))
      }
    }
    return results
  }

  /// The target of the shared-memory ring: host <-> container streaming at 5 GB/s
  /// or more (its median, on the placement where it was fastest).
  public static let ringTargetBytesPerSecond: UInt64 = 5_000_000_000

  /// The host-container shm-ring stream result the target is judged on, and whether
  /// it is met; nil when it was not measured.
  public static func ringTarget(_ results: [BenchResult]) -> (result: BenchResult, met: Bool)? {
    let candidates = results.filter {
      $0.kind == "ipc" && $0.level == Level.container.reportName && $0.metric == "throughput"
        && $0.name.hasPrefix(IPCTransport.shmRing.rawValue + " ") && $0.distribution != nil
    }
    guard let best = candidates.max(by: { $0.distribution!.p50 < $1.distribution!.p50 }) else { return nil }
    return (best, best.distribution!.p50 >= ringTargetBytesPerSecond)
  }

  /// "1B", "4KiB", "64KiB", "1MiB": sizes as result names spell them.
  public static func sizeLabel(_ bytes: Int) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)MiB" }
    if bytes >= 1024 && bytes % 1024 == 0 { return "\(bytes >> 10)KiB" }
    return "\(bytes)B"
  }

  /// The CPUs this thread may run on, ascending.
  static func allowedCPUs() -> [Int32] {
    var cpus = [Int32](repeating: 0, count: 1024)
    let n = cpus.withUnsafeMutableBufferPointer { bhb_allowed_cpus($0.baseAddress, Int32($0.count)) }
    return n > 0 ? Array(cpus[0..<Int(n)]) : []
  }
}

/// A case that cannot be measured on this machine or across this boundary, and
/// why: a result, not a failure.
struct IPCUnavailable: Error {
  var reason: String
}
