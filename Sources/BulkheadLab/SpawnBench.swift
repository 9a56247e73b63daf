import BulkheadCore
import BulkheadSpec
import BulkheadSystem
import CBench
import Dispatch

#if canImport(Glibc)
  import Glibc
#endif

/// The spawn part of the cost lab: how long it takes from the spawn call to the
/// workload's exit, per isolation level, and what each part of a container adds.
///
/// The task and thread levels are timed in this process (Task creation + await,
/// pthread_create + join): a host process would time a process spawn. posix_spawn
/// and fork+exec are timed in C (spawn.c). Bulkhead's own spawn (clone3 + exec) is
/// timed from `Launcher.start` to the return of `Supervisor.wait`, as `bulkhead run`
/// does them, plan building and cgroup clean-up included. Every process runs the
/// same static executable (busybox's `true`), so that what differs is the spawn.
public enum SpawnBench {
  public struct Config: Sendable {
    public var levels: [IsolationLevel]
    /// Samples per variant (after the warm-up); the in-process levels take ten times as many.
    public var iterations: Int
    /// Rounds dropped at the start of every variant.
    public var warmup: Int
    /// The rootfs of the container variants; nil: they are skipped with a reason.
    public var rootfs: String?
    /// The resident heap of the "large supervisor" comparison (bytes); 0 skips it.
    public var heapBytes: Int
    /// How many times the heap is allocated and released, alternating with the
    /// small supervisor, so that a drift of the machine hits both sides alike.
    public var heapRounds: Int

    public init(
      levels: [IsolationLevel] = IsolationLevel.allCases, iterations: Int = 80, warmup: Int = 5,
      rootfs: String? = nil, heapBytes: Int = 1 << 30, heapRounds: Int = 6
    ) {
      self.levels = levels
      self.iterations = iterations
      self.warmup = warmup
      self.rootfs = rootfs
      self.heapBytes = heapBytes
      self.heapRounds = heapRounds
    }
  }

  /// What one variant is measured against: its marginal cost is the difference of
  /// the medians.
  public static let references: [String: String] = [
    "rootfs, mnt namespace": "clone3+exec (bulkhead)", "+pid namespace": "rootfs, mnt namespace",
    "mnt+pid, no cgroup": "+pid namespace",
    "+uts namespace": "mnt+pid, no cgroup", "+ipc namespace": "mnt+pid, no cgroup",
    "+net namespace": "mnt+pid, no cgroup", "+cgroup namespace": "mnt+pid, no cgroup",
    "+user namespace": "mnt+pid, no cgroup", "all six namespaces": "mnt+pid, no cgroup",
    "+seccomp filter": "all six namespaces", "+capabilities dropped": "+seccomp filter",
    "+cgroup joined": "+capabilities dropped",
  ]

  /// Runs the variants of `config.levels` and returns one result per variant.
  /// Throws only when nothing could be measured at all; a variant that fails is a
  /// result with `unavailable` set. Blocks the calling thread while the task
  /// level's loop runs on the cooperative pool: call it from a thread of its own
  /// (the CLI's main thread), not from inside a task, or it may wait for a pool
  /// thread that other blocked tasks hold.
  public static func run(_ config: Config, progress: (String) -> Void = { _ in }) throws(BulkheadError)
    -> [BenchResult]
  {
    guard config.iterations > 0 else {
      throw .invalidSpec(field: "--iterations", value: "\(config.iterations)", reason: "must be at least 1")
    }
    let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
    guard devNull >= 0 else { throw .setupFailed(step: "open /dev/null", errno: errno) }
    defer { close(devNull) }
    let launcher = Launcher(stdoutFD: devNull)
    let command = Self.command(rootfs: config.rootfs)
    var results: [BenchResult] = []
    let levels = Set(config.levels)

    if levels.contains(.task) {
      progress("spawn: task (Task creation + await, in this process)")
      results.append(inProcess(level: .task, name: "Task create+await", config: config) { taskSamples(count: $0) })
    }
    if levels.contains(.thread) {
      progress("spawn: thread (pthread_create + join, in this process)")
      results.append(
        inProcess(level: .thread, name: "pthread_create+join", config: config) { count in
          var samples = [UInt64](repeating: 0, count: count)
          let r = bhb_spawn_threads(&samples, count)
          return r == 0 ? .success(samples) : .failure(Self.describe("pthread_create", r))
        })
    }

    // The process and container variants, sampled round-robin: a drift of the
    // machine then shifts all of them alike and leaves the differences.
    var variants: [Variant] = []
    if levels.contains(.process) {
      variants.append(.c(level: .process, name: "posix_spawn", loop: bhb_spawn_posix, command: command.host))
      variants.append(.c(level: .process, name: "fork+exec", loop: bhb_spawn_fork_exec, command: command.host))
      variants.append(.launch(level: .process, name: "clone3+exec (bulkhead)", spec: processSpec(command.host)))
    }
    var skipped: [BenchResult] = []
    if levels.contains(.container) {
      if let rootfs = config.rootfs {
        variants += containerLadder(inside: command.inside, rootfs: rootfs)
      } else {
        skipped.append(
          BenchResult(
            kind: "spawn", level: "container", name: "default container", metric: "latency",
            unavailable: "no rootfs: run Scripts/rootfs or set BULKHEAD_ROOTFS"))
      }
    }
    if !variants.isEmpty {
      progress(
        "spawn: \(variants.count) process/container variants, \(config.warmup)+\(config.iterations) rounds")
      results += sampleRoundRobin(variants, config: config, launcher: launcher, progress: progress)
    }
    results += skipped

    if config.heapBytes > 0 && (levels.contains(.container) || levels.contains(.process)) {
      results += heapComparison(config: config, command: command, launcher: launcher, progress: progress)
    }
    return results.map { withMarginal($0, in: results) }
  }

  // MARK: - Variants

  /// A way of spawning one thing and waiting for its end.
  enum Variant {
    case c(
      level: IsolationLevel, name: String,
      loop:
        @convention(c) (
          UnsafePointer<CChar>?, UnsafePointer<UnsafeMutablePointer<CChar>?>?,
          UnsafePointer<UnsafeMutablePointer<CChar>?>?, UnsafeMutablePointer<UInt64>?, Int
        ) -> Int32, command: [String])
    case launch(level: IsolationLevel, name: String, spec: Spec)

    var level: IsolationLevel {
      switch self {
      case .c(let level, _, _, _), .launch(let level, _, _): level
      }
    }
    var name: String {
      switch self {
      case .c(_, let name, _, _), .launch(_, let name, _): name
      }
    }
  }

  /// busybox's `true`, from the rootfs when there is one (the same file on both
  /// sides of the container boundary), else /bin/true.
  static func command(rootfs: String?) -> (host: [String], inside: [String]) {
    if let rootfs, access(rootfs + "/bin/busybox", X_OK) == 0 {
      return ([rootfs + "/bin/busybox", "true"], ["/bin/busybox", "true"])
    }
    return (["/bin/true"], ["/bin/true"])
  }

  static let environment = [EnvironmentVariable(name: "PATH", value: Spec.defaultPath)]

  static func processSpec(_ command: [String]) -> Spec {
    Spec(level: .process, command: command, environment: environment)
  }

  /// The container, built up one part at a time. The first rungs keep every
  /// capability and no seccomp filter, so that they differ in namespaces alone. A
  /// container always has a rootfs and a mount namespace (the spec requires both),
  /// so those two are one rung. A unit without a pid namespace gets a tracking
  /// cgroup (as root), one with a pid namespace none: the first two rungs both
  /// carry a cgroup (tracking, then one with a pids limit), so that the pid
  /// namespace is compared like with like, and "mnt+pid, no cgroup" is the base of
  /// the other namespace kinds.
  static func containerLadder(inside: [String], rootfs: String) -> [Variant] {
    let open = Confinement(seccomp: "unconfined", capAdd: ["all"])
    func rung(
      _ name: String, _ namespaces: Set<NamespaceKind>, confinement: Confinement = open,
      cgroup: CgroupRequest = CgroupRequest()
    ) -> Variant {
      .launch(
        level: .container, name: name,
        spec: Spec(
          level: .container, command: inside, namespaces: namespaces, rootfs: rootfs, environment: environment,
          confinement: confinement, cgroup: cgroup))
    }
    let limit = CgroupRequest(pids: 4096)
    var ladder = [
      rung("rootfs, mnt namespace", [.mnt]),
      rung("+pid namespace", [.mnt, .pid], cgroup: limit),
      rung("mnt+pid, no cgroup", [.mnt, .pid]),
    ]
    for kind: NamespaceKind in [.uts, .ipc, .net, .cgroup, .user] {
      ladder.append(rung("+\(kind.rawValue) namespace", [.mnt, .pid, kind]))
    }
    let all = NamespaceKind.containerDefault
    ladder.append(rung("all six namespaces", all))
    ladder.append(rung("+seccomp filter", all, confinement: Confinement(capAdd: ["all"])))
    ladder.append(rung("+capabilities dropped", all, confinement: Confinement()))
    ladder.append(rung("+cgroup joined", all, confinement: Confinement(), cgroup: limit))
    return ladder
  }

  /// Bulkhead's default container (the `bulkhead run` defaults).
  static func defaultContainer(inside: [String], rootfs: String) -> Spec {
    Spec(level: .container, command: inside, rootfs: rootfs, environment: environment)
  }

  /// One sample of `variant`, in ns.
  static func sample(_ variant: Variant, launcher: Launcher) -> Result<UInt64, SampleError> {
    switch variant {
    case .c(_, let name, let loop, let command):
      var sample: UInt64 = 0
      let r = withCStrings(command) { argv in
        withCStrings(environment.map(\.assignment)) { envp in loop(argv[0], argv, envp, &sample, 1) }
      }
      return r == 0 ? .success(sample) : .failure(describe(name, r))
    case .launch(_, _, let spec):
      let start = bhb_now_ns()
      do {
        let workload = try launcher.start(spec, recordNamespaces: false)
        let outcome = try Supervisor().wait(for: workload, options: Supervisor.Options(forwardSignals: false))
        let end = bhb_now_ns()
        guard outcome.exitStatus == 0 else {
          return .failure(SampleError(text: "the workload ended with status \(outcome.exitStatus)"))
        }
        return .success(end - start)
      } catch {
        return .failure(SampleError(text: error.description))
      }
    }
  }

  struct SampleError: Error {
    var text: String
  }

  static func describe(_ step: String, _ negativeErrno: Int32) -> SampleError {
    SampleError(text: "\(step): \(BulkheadError.describe(errno: -negativeErrno)) (errno \(-negativeErrno))")
  }

  static func sampleRoundRobin(
    _ variants: [Variant], config: Config, launcher: Launcher, progress: (String) -> Void
  ) -> [BenchResult] {
    var samples = [[UInt64]](repeating: [], count: variants.count)
    var failures = [String?](repeating: nil, count: variants.count)
    let rounds = config.warmup + config.iterations
    for round in 0..<rounds {
      if round > 0 && round % 25 == 0 { progress("spawn: round \(round)/\(rounds)") }
      for (i, variant) in variants.enumerated() where failures[i] == nil {
        switch sample(variant, launcher: launcher) {
        case .success(let ns): if round >= config.warmup { samples[i].append(ns) }
        case .failure(let error): failures[i] = error.text
        }
      }
    }
    return variants.enumerated().map { i, variant in
      BenchResult(
        kind: "spawn", level: variant.level.rawValue, name: variant.name, metric: "latency",
        distribution: failures[i] == nil ? Distribution(samples: samples[i]) : nil, unavailable: failures[i],
        notes: notes(for: variant))
    }
  }

  static func notes(for variant: Variant) -> [String] {
    switch variant.name {
    case "posix_spawn": ["glibc's posix_spawn (CLONE_VM|CLONE_VFORK) + waitpid, timed in C"]
    case "fork+exec": ["fork() + execve + waitpid, timed in C: fork copies the page tables"]
    case "clone3+exec (bulkhead)":
      [
        "Launcher.start to Supervisor.wait, as bulkhead run: plan, clone3 (CLONE_VM), exec, reap"
          + (isRoot
            ? ", and the tracking cgroup a process gets as root (joined warm: other units joined cgroups just before; see '+cgroup joined')"
            : "")
      ]
    case "rootfs, mnt namespace":
      [
        "the rootfs bound and pivoted into, /proc, /dev, /tmp mounted; every capability, no seccomp filter; no pid namespace, so the tracking cgroup of its reference too"
      ]
    case "+pid namespace": ["a cgroup with a pids limit in place of the tracking cgroup a pid namespace makes needless"]
    case "mnt+pid, no cgroup": ["the same without a cgroup: its difference from '+pid namespace' is a cgroup's cost"]
    case "+user namespace": ["root inside maps to an unprivileged range; the parent writes the id maps"]
    case "+cgroup joined":
      [
        "a cgroup of its own (pids.max): created, joined before release, removed after the reap",
        "joined cold, as by a lone bulkhead run: no unit joined a cgroup in the ~30 ms before. On cgroup v1 the first write to cgroup.procs after a quiet spell waits for an RCU grace period (cgroup_threadgroup_rwsem); the rungs above that carry a cgroup follow each other and join warm",
      ]
    case "+capabilities dropped": ["Docker's 14 capabilities: bulkhead run's default container"]
    default: []
    }
  }

  // MARK: - In-process levels

  static func inProcess(
    level: IsolationLevel, name: String, config: Config, _ loop: (Int) -> Result<[UInt64], SampleError>
  ) -> BenchResult {
    let count = config.iterations * 10
    let note = "timed in this process (no host process started): the \(level.rawValue) itself"
    switch loop(config.warmup * 10 + count) {
    case .success(let all):
      return BenchResult(
        kind: "spawn", level: level.rawValue, name: name, metric: "latency",
        distribution: Distribution(samples: Array(all.suffix(count))), notes: [note])
    case .failure(let error):
      return BenchResult(
        kind: "spawn", level: level.rawValue, name: name, metric: "latency", unavailable: error.text, notes: [note])
    }
  }

  final class Samples: @unchecked Sendable {
    var values: [UInt64]
    init(count: Int) { values = [UInt64](repeating: 0, count: count) }
  }

  /// Task creation + await of its value, from inside a task, `count` times.
  static func taskSamples(count: Int) -> Result<[UInt64], SampleError> {
    let box = Samples(count: count)
    let done = DispatchSemaphore(value: 0)
    Task.detached {
      for i in 0..<count {
        let start = bhb_now_ns()
        let child = Task { 0 }
        _ = await child.value
        box.values[i] = bhb_now_ns() - start
      }
      done.signal()
    }
    done.wait()
    return .success(box.values)
  }

  // MARK: - The large supervisor

  /// The default container and fork+exec from this process, alternately with a
  /// small heap and with `heapBytes` resident: bulkhead's CLONE_VM spawn copies no
  /// page tables, fork does.
  static func heapComparison(
    config: Config, command: (host: [String], inside: [String]), launcher: Launcher, progress: (String) -> Void
  ) -> [BenchResult] {
    let heapName =
      config.heapBytes % (1 << 30) == 0 ? "\(config.heapBytes >> 30) GiB" : "\(max(1, config.heapBytes >> 20)) MiB"
    var variants: [Variant] = []
    let levels = Set(config.levels)
    if levels.contains(.container), let rootfs = config.rootfs {
      variants.append(
        .launch(
          level: .container, name: "small supervisor", spec: defaultContainer(inside: command.inside, rootfs: rootfs)))
    }
    variants.append(.c(level: .process, name: "fork+exec", loop: bhb_spawn_fork_exec, command: command.host))
    let available = availableMemoryBytes()
    if let available, available < UInt64(config.heapBytes) + (256 << 20) {
      return variants.map {
        BenchResult(
          kind: "spawn", level: $0.level.rawValue, name: bigName($0.name, heapName), metric: "latency",
          unavailable: "only \(available >> 20) MiB available for a \(config.heapBytes >> 20) MiB heap")
      }
    }
    var small = [[UInt64]](repeating: [], count: variants.count)
    var big = [[UInt64]](repeating: [], count: variants.count)
    var failures = [String?](repeating: nil, count: variants.count)
    let rounds = max(1, config.heapRounds)
    let perRound = max(1, (config.iterations + rounds - 1) / rounds)
    // fork+exec with the heap takes tens of milliseconds, and varies little: a
    // third of the samples, on both sides alike.
    let forkPerRound = max(1, perRound / 3)
    func block(_ into: inout [[UInt64]]) {
      let warmup = min(config.warmup, 2)
      for round in 0..<(warmup + perRound) {
        for (i, variant) in variants.enumerated() where failures[i] == nil {
          if case .c = variant, round >= warmup + forkPerRound { continue }
          switch sample(variant, launcher: launcher) {
          case .success(let ns): if round >= warmup { into[i].append(ns) }
          case .failure(let error): failures[i] = error.text
          }
        }
      }
    }
    // Per round, the difference of the container's medians: how far apart two
    // measurements of the same thing land on this machine now.
    var roundDeltas: [Int64] = []
    for round in 0..<rounds {
      // Alternate the order too (small first, then large first): a drift of the
      // machine over a round then favours neither side.
      let smallFirst = round % 2 == 0
      let counts = (small: small.first?.count ?? 0, big: big.first?.count ?? 0)
      progress(
        "spawn: supervisor heap round \(round + 1)/\(rounds): "
          + (smallFirst ? "small, then \(heapName) resident" : "\(heapName) resident, then small"))
      if smallFirst { block(&small) }
      guard let heap = bhb_resident_heap(config.heapBytes) else {
        let err = errno
        failures = failures.map { $0 ?? "cannot map a \(heapName) heap: \(BulkheadError.describe(errno: err))" }
        break
      }
      block(&big)
      bhb_release_heap(heap, config.heapBytes)
      if !smallFirst { block(&small) }
      if case .launch = variants[0], let a = median(small[0].dropFirst(counts.small)),
        let b = median(big[0].dropFirst(counts.big))
      {
        roundDeltas.append(Int64(b) - Int64(a))
      }
    }
    var results: [BenchResult] = []
    for (i, variant) in variants.enumerated() {
      let note =
        "the \(heapName) heap is resident in this process (every page written); blocks alternate small/large, in both orders"
      results.append(
        BenchResult(
          kind: "spawn", level: variant.level.rawValue,
          name: variant.name == "fork+exec" ? "fork+exec, small supervisor" : variant.name,
          metric: "latency", distribution: failures[i] == nil ? Distribution(samples: small[i]) : nil,
          unavailable: failures[i], notes: [note]))
      var bigNotes = [note]
      if i == 0, case .launch = variant, !roundDeltas.isEmpty {
        bigNotes.append(roundDeltasPrefix + roundDeltas.map { ($0 >= 0 ? "+" : "") + "\($0)" }.joined(separator: ", "))
      }
      results.append(
        BenchResult(
          kind: "spawn", level: variant.level.rawValue, name: bigName(variant.name, heapName), metric: "latency",
          distribution: failures[i] == nil ? Distribution(samples: big[i]) : nil, unavailable: failures[i],
          notes: bigNotes))
    }
    return results
  }

  /// The note that carries the per-round differences of the large-supervisor
  /// comparison, in ns after this prefix, comma-separated.
  public static let roundDeltasPrefix = "per round, median with the heap minus median without (ns): "

  /// The per-round differences of a large-supervisor result, if it has them.
  public static func roundDeltas(of result: BenchResult) -> [Int64] {
    guard let note = result.notes.first(where: { $0.hasPrefix(roundDeltasPrefix) }) else { return [] }
    return note.dropFirst(roundDeltasPrefix.count).split(separator: ",").compactMap {
      Int64($0.filter { $0 != " " && $0 != "+" })
    }
  }

  static func median(_ values: ArraySlice<UInt64>) -> UInt64? {
    guard !values.isEmpty else { return nil }
    return values.sorted()[values.count / 2]
  }

  static func bigName(_ name: String, _ heap: String) -> String {
    name == "fork+exec" ? "fork+exec, \(heap) supervisor" : "\(heap) supervisor"
  }

  /// MemAvailable of /proc/meminfo, in bytes.
  static func availableMemoryBytes() -> UInt64? {
    guard let text = CgroupFiles.read("/proc/meminfo") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
      let fields = line.split(separator: " ")
      if fields.count >= 2, let kib = UInt64(fields[1]) { return kib * 1024 }
    }
    return nil
  }

  // MARK: - Marginal costs

  /// The difference of medians between `result` and its reference (see
  /// `references`), when both were measured.
  public static func marginal(of result: BenchResult, in results: [BenchResult]) -> (
    reference: String, nanoseconds: Int64
  )? {
    guard result.kind == "spawn", let d = result.distribution else { return nil }
    let referenceName: String?
    if result.name.hasSuffix(" supervisor") && result.name != "small supervisor" && !result.name.hasPrefix("fork+exec")
    {
      referenceName = "small supervisor"
    } else if result.name.hasPrefix("fork+exec, ") && !result.name.hasSuffix("small supervisor") {
      referenceName = "fork+exec, small supervisor"
    } else {
      referenceName = references[result.name]
    }
    guard let referenceName,
      let reference = results.first(where: { $0.kind == "spawn" && $0.name == referenceName })?.distribution
    else { return nil }
    return (referenceName, Int64(d.p50) - Int64(reference.p50))
  }

  static func withMarginal(_ result: BenchResult, in results: [BenchResult]) -> BenchResult {
    guard let (reference, ns) = marginal(of: result, in: results) else { return result }
    var copy = result
    copy.notes.append("marginal over '\(reference)': \(ns >= 0 ? "+" : "")\(format1(Double(ns) / 1000)) µs at p50")
    return copy
  }
}

/// `value` with one decimal.
func format1(_ value: Double) -> String {
  let tenths = (value * 10).rounded()
  let sign = tenths < 0 ? "-" : ""
  let magnitude = Int(abs(tenths))
  return "\(sign)\(magnitude / 10).\(magnitude % 10)"
}

/// Calls `body` with a NULL-terminated C array of `strings`.
func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
  let pointers = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
  defer {
    for i in 0..<strings.count { free(pointers[i]) }
    pointers.deallocate()
  }
  for (i, s) in strings.enumerated() { pointers[i] = strdup(s) }
  pointers[strings.count] = nil
  return body(pointers)
}
