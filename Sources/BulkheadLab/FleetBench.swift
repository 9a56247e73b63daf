import BulkheadCore
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Many sandboxes under one supervisor thread: `bench spawn --count N
/// --concurrency C`. Up to C run at once; as one ends the next starts. With a
/// workload that does not end by itself (block-hang), each wave of C is held until
/// all of it runs, then released together (SIGKILL: a container's init ignores
/// SIGTERM without a handler), so C sandboxes are alive at the same moment.
public enum FleetBench {
  public struct Config: Sendable {
    public var count = 1000
    public var concurrency = 50
    /// Hold each wave until all of it runs, then end it together.
    public var hold = false

    public init(count: Int = 1000, concurrency: Int = 50, hold: Bool = false) {
      self.count = count
      self.concurrency = concurrency
      self.hold = hold
    }
  }

  /// What a fleet run measured.
  public struct Result: Sendable, Codable, Equatable {
    public var level: String
    public var workload: String
    public var count: Int
    public var concurrency: Int
    public var held: Bool
    /// Outcomes collected (must equal `count`), and how they ended: "exit 0": 1000.
    public var collected: Int
    public var outcomes: [String: Int]
    /// The most sandboxes alive at one moment.
    public var peakRunning: Int
    public var seconds: Double
    /// From the spawn call until execve had succeeded, per sandbox.
    public var spawn: Distribution?
    /// Bulkhead's own resident memory (VmRSS) and descriptors: before, at the
    /// peak, and after every sandbox was collected.
    public var rssBeforeKiB: Int
    public var rssPeakKiB: Int
    public var rssAfterKiB: Int
    public var descriptorsBefore: Int
    public var descriptorsPeak: Int
    public var descriptorsAfter: Int

    /// The supervisor's memory per sandbox it watched at once (meaningful when many
    /// ran at once: with --hold).
    public var rssPerConcurrentSandboxKiB: Double {
      Double(max(0, rssPeakKiB - rssBeforeKiB)) / Double(max(1, peakRunning))
    }

    /// What the supervisor kept per sandbox over the whole run (a leak shows here).
    public var rssGrowthPerSandboxKiB: Double {
      Double(max(0, rssAfterKiB - rssBeforeKiB)) / Double(max(1, count))
    }
  }

  /// Runs `config.count` sandboxes of `spec`.
  public static func run(
    _ spec: Spec, config: Config, launcher: Launcher, progress: (String) -> Void = { _ in }
  ) throws(BulkheadError) -> Result {
    guard config.count >= 1, config.concurrency >= 1 else {
      throw BulkheadError.invalidSpec(
        field: "--count", value: "\(config.count)", reason: "needs at least one sandbox", hint: "e.g. --count 100")
    }
    raiseDescriptorLimit(atLeast: config.concurrency * 4 + 256)
    let fleet = try Fleet()
    var outcomes: [String: Int] = [:]
    var collected = 0
    var spawnSamples: [UInt64] = []
    spawnSamples.reserveCapacity(config.count)
    let before = (rss: residentKiB(), fds: openDescriptors())
    var peak = before
    var peakRunning = 0
    let started = monotonicNanoseconds()
    var launched = 0
    var lastReport = started

    func collect(_ event: Fleet.Event) {
      if case .ended(_, let outcome, _) = event {
        collected += 1
        let key: String
        switch outcome.termination {
        case .exited(let code): key = "exit \(code)"
        case .signaled(let signal, _): key = "signal \(signalName(signal))"
        }
        outcomes[key, default: 0] += 1
      }
    }
    func sample() {
      peakRunning = max(peakRunning, fleet.running)
      peak.rss = max(peak.rss, residentKiB())
      peak.fds = max(peak.fds, openDescriptors())
    }

    while launched < config.count {
      // Fill up to the concurrency.
      let wave = min(config.concurrency - fleet.running, config.count - launched)
      for _ in 0..<max(0, wave) {
        let workload = try launcher.start(spec, recordNamespaces: false)
        spawnSamples.append(workload.execedAtMonotonicNanoseconds - workload.startedAtMonotonicNanoseconds)
        try fleet.add(workload, options: Supervisor.Options(forwardSignals: false))
        launched += 1
        try fleet.poll(collect)
      }
      sample()
      if config.hold {
        // Every sandbox of the wave runs now: release them together.
        for member in 0..<fleet.count where !fleet.hasEnded(member) { fleet.signal(member, SIGKILL) }
        try fleet.run(collect)
      } else {
        // Wait for at least one to end before filling again.
        let target = fleet.running - 1
        while fleet.running > target && fleet.running > 0 {
          try fleet.run(until: monotonicNanoseconds() + 50_000_000, collect)
        }
      }
      let now = monotonicNanoseconds()
      if now - lastReport > 1_000_000_000 {
        lastReport = now
        progress("bench spawn: \(launched)/\(config.count) started, \(collected) collected, \(fleet.running) running")
      }
    }
    try fleet.run(collect)
    sample()
    let elapsed = Double(monotonicNanoseconds() - started) / 1e9
    return Result(
      level: spec.level.rawValue, workload: (spec.workloads.first ?? spec.command.joined(separator: " ")),
      count: config.count, concurrency: config.concurrency, held: config.hold, collected: collected,
      outcomes: outcomes, peakRunning: peakRunning, seconds: elapsed,
      spawn: Distribution(samples: spawnSamples), rssBeforeKiB: before.rss, rssPeakKiB: peak.rss,
      rssAfterKiB: residentKiB(), descriptorsBefore: before.fds, descriptorsPeak: peak.fds,
      descriptorsAfter: openDescriptors())
  }

  /// VmRSS of this process, in KiB.
  static func residentKiB() -> Int {
    for line in (readTextFile("/proc/self/status") ?? "").split(separator: "\n") where line.hasPrefix("VmRSS:") {
      return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
  }

  static func openDescriptors() -> Int {
    max(0, listDirectory("/proc/self/fd").count - 1)  // less the listing's own descriptor
  }

  /// A fleet holds a pidfd per sandbox: the soft RLIMIT_NOFILE goes up to the hard one.
  static func raiseDescriptorLimit(atLeast wanted: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
    limit.rlim_cur = min(limit.rlim_max, max(limit.rlim_cur, rlim_t(wanted)))
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
  }
}
