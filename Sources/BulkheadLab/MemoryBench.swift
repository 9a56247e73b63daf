import BulkheadCore
import BulkheadSpec
import BulkheadSystem
import CBench
import CBulkhead
import Dispatch

#if canImport(Glibc)
  import Glibc
#endif

/// The memory part of the cost lab: what one more idle unit costs the machine, by
/// cgroup accounting, and what the supervisor itself holds per sandbox it watches.
///
/// Each round starts `units` idle units (the `block-hang` workload; at the task level
/// `heartbeat` with an hour's interval, since a task blocked in pause() would hold a
/// thread of the cooperative pool) and reads the memory charged for them:
///
/// - every unit's own cgroup (the pages and kernel memory it holds, see `charged`):
///   the tracking cgroup a process gets as root, the host process's at the thread
///   and task levels;
/// - on cgroup v1, a measuring cgroup that the launching thread alone joins
///   (v1 moves single threads): the kernel charges what clone allocates (kernel
///   stacks, namespaces such as a network namespace) to the calling thread's
///   cgroup, and a container without limits is born there and stays.
///
/// At the task and thread levels one host runs 1 unit, another `units + 1`; the
/// difference divided by `units` is the cost of one task or thread. Pages of the
/// executables are shared page cache, charged once to whoever read them first (a
/// warm-up unit): the figures are the marginal cost of one more unit.
public enum MemoryBench {
  public struct Config: Sendable {
    public var levels: [IsolationLevel]
    /// Idle units per round.
    public var units: Int
    /// Rounds (samples).
    public var rounds: Int
    /// `bulkhead-probe` on the host (process level).
    public var probePath: String?
    /// The bulkhead binary, whose `_host` entry runs tasks and threads.
    public var hostExecutable: String?
    /// The rootfs of the containers (with `bin/bulkhead-probe`).
    public var rootfs: String?

    public init(
      levels: [IsolationLevel] = IsolationLevel.allCases, units: Int = 16, rounds: Int = 10, probePath: String? = nil,
      hostExecutable: String? = nil, rootfs: String? = nil
    ) {
      self.levels = levels
      self.units = units
      self.rounds = rounds
      self.probePath = probePath
      self.hostExecutable = hostExecutable
      self.rootfs = rootfs
    }
  }

  /// How long units get to report that they are idle.
  static let readyTimeoutMilliseconds = 15_000

  public static func run(_ config: Config, progress: (String) -> Void = { _ in }) throws(BulkheadError)
    -> [BenchResult]
  {
    guard config.units >= 1, config.units <= 1000 else {
      throw .invalidSpec(
        field: "--units", value: "\(config.units)", reason: "must be between 1 and 1000", hint: "the default is 16")
    }
    guard config.rounds >= 1 else {
      throw .invalidSpec(field: "--iterations", value: "\(config.rounds)", reason: "must be at least 1")
    }
    guard isRoot else {
      throw BulkheadError(
        code: .unsupported, step: "bench memory", reason: "cgroup accounting needs root",
        hint: "run it as root (sudo bulkhead bench memory)")
    }
    guard let cgroups = Cgroups.current else {
      throw BulkheadError(
        code: .unsupported, step: "bench memory", reason: "no usable cgroup hierarchy with a memory controller",
        hint: "mount the cgroup v1 memory hierarchy or cgroup v2")
    }
    let measure = try MeasuringGroup(cgroups: cgroups)
    defer { measure?.remove() }
    let worker = try LaunchThread(joining: measure)
    defer { worker.finish() }

    var results: [BenchResult] = []
    for plan in plans(config, cgroups: cgroups) {
      if let missing = plan.missing {
        results.append(
          BenchResult(
            kind: "memory", level: plan.level.rawValue, name: plan.name, metric: "memory",
            unavailable: missing))
        continue
      }
      progress("memory: \(plan.name) (\(config.rounds) rounds of \(config.units))")
      results += measureLevel(plan, config: config, measure: measure, worker: worker, progress: progress)
    }
    return results
  }

  // MARK: - What is started

  struct Plan {
    var level: IsolationLevel
    var name: String
    /// In a host: the marginal unit is measured as the difference of two hosts.
    var inHost: Bool
    /// Units per unit asked for: a suspended task is a few hundred bytes, below a
    /// page, so the task host runs 64 times as many to be measured in pages (and a
    /// thread host 4 times as many).
    var scale: Int = 1
    /// The spec of one round: `count` units (one process each, or one host).
    var spec: (Int) -> Spec
    var probePath: String?
    var hostExecutable: String?
    var missing: String?
    var notes: [String]
  }

  static func plans(_ config: Config, cgroups: Cgroups) -> [Plan] {
    let levels = Set(config.levels)
    var out: [Plan] = []
    func environment(_ level: IsolationLevel) -> [EnvironmentVariable] {
      [
        EnvironmentVariable(name: "PATH", value: Spec.defaultPath),
        EnvironmentVariable(name: "SWIFT_BACKTRACE", value: "enable=no"),
        EnvironmentVariable(name: "BULKHEAD_LEVEL", value: level.rawValue),
      ]
    }
    let noHost = config.hostExecutable == nil ? "no bulkhead binary to host tasks and threads" : nil
    if levels.contains(.task) {
      out.append(
        Plan(
          level: .task, name: "idle task", inHost: true, scale: 64,
          spec: { count in
            Spec(
              level: .task, command: [], workloads: Array(repeating: "heartbeat 3600000", count: count),
              environment: environment(.task))
          }, hostExecutable: config.hostExecutable, missing: noHost,
          notes: [
            "heartbeat with an hour's interval: a task suspended in Task.sleep, one host process; 64 tasks per unit asked for"
          ]))
    }
    if levels.contains(.thread) {
      out.append(
        Plan(
          level: .thread, name: "idle thread", inHost: true, scale: 4,
          spec: { count in
            Spec(
              level: .thread, command: [], workloads: Array(repeating: "block-hang", count: count),
              environment: environment(.thread))
          }, hostExecutable: config.hostExecutable, missing: noHost,
          notes: ["block-hang: a pthread in pause(), one host process; 4 threads per unit asked for"]))
    }
    if levels.contains(.process) {
      // The rootfs's probe when there is one: the same executable as the
      // containers', so that the two levels differ in isolation only.
      let rootfsProbe = Launcher.probe(inRootfs: config.rootfs)
      let probe = rootfsProbe ?? config.probePath
      out.append(
        Plan(
          level: .process, name: "idle process", inHost: false,
          spec: { _ in
            Spec(level: .process, command: [], workloads: ["block-hang"], environment: environment(.process))
          }, probePath: probe,
          missing: probe == nil ? "bulkhead-probe not found: run Scripts/build, or set BULKHEAD_PROBE" : nil,
          notes: [
            "block-hang in the static bulkhead-probe\(rootfsProbe == nil ? "" : " (the rootfs's, as the containers run)"), with the tracking cgroup a process gets as root"
          ]))
    }
    if levels.contains(.container) {
      let noRootfs: String? =
        Launcher.probe(inRootfs: config.rootfs) != nil
        ? nil : "no rootfs with bin/bulkhead-probe: run Scripts/build and Scripts/rootfs"
      // On v2 a single thread cannot join a cgroup of its own: containers then get
      // one of their own (a pids limit) so that they are accounted at all.
      let cgroup = cgroups.version == .v2 ? CgroupRequest(pids: 100_000) : CgroupRequest()
      let v2Note = cgroups.version == .v2 ? ["cgroup v2: a cgroup of its own (pids.max) to be accounted"] : []
      for (name, namespaces) in [
        ("idle container", NamespaceKind.containerDefault),
        ("idle container, host network", NamespaceKind.containerDefault.subtracting([.net])),
      ] {
        out.append(
          Plan(
            level: .container, name: name, inHost: false,
            spec: { _ in
              Spec(
                level: .container, command: [], workloads: ["block-hang"], namespaces: namespaces,
                rootfs: config.rootfs, environment: environment(.container), cgroup: cgroup)
            }, missing: noRootfs,
            notes: ["block-hang as PID 1 of \(namespaces.count) namespaces in the rootfs"] + v2Note))
      }
    }
    return out
  }

  // MARK: - Measuring

  /// One started round: the workloads and their watchers.
  struct Round {
    var workloads: [Workload] = []
    var watchers: [Watcher] = []
  }

  static func measureLevel(
    _ plan: Plan, config: Config, measure: MeasuringGroup?, worker: LaunchThread, progress: (String) -> Void
  ) -> [BenchResult] {
    var perUnit: [UInt64] = []
    var atLaunch: [Int64] = []
    var supervisor: [UInt64] = []
    var failure: String? = nil
    // A warm-up: the executables' pages enter the page cache, charged to it.
    if case .failure(let error) = sample(plan, units: 1, measure: measure, worker: worker) {
      failure = error.text
    }
    for round in 0..<config.rounds where failure == nil {
      if plan.inHost {
        let units = config.units * plan.scale
        let one = sample(plan, units: 1, measure: measure, worker: worker)
        let many = sample(plan, units: units + 1, measure: measure, worker: worker)
        switch (one, many) {
        case (.success(let a), .success(let b)):
          perUnit.append(UInt64(max(0, (b.charged - a.charged) / Int64(units))))
          atLaunch.append((b.atLaunch - a.atLaunch) / Int64(units))
        case (.failure(let e), _), (_, .failure(let e)): failure = e.text
        }
      } else {
        switch sample(plan, units: config.units, measure: measure, worker: worker) {
        case .success(let s):
          perUnit.append(UInt64(max(0, s.charged / Int64(config.units))))
          atLaunch.append(s.atLaunch / Int64(config.units))
          supervisor.append(UInt64(max(0, s.supervisorRSS / Int64(config.units))))
        case .failure(let e): failure = e.text
        }
      }
      progress("memory: \(plan.name) round \(round + 1)/\(config.rounds)")
    }
    let accounting =
      measure == nil
      ? "each unit's cgroup" : "each unit's cgroup and the launching thread's measuring cgroup (kernel objects)"
    var results = [
      BenchResult(
        kind: "memory", level: plan.level.rawValue, name: plan.name, metric: "memory",
        distribution: failure == nil ? Distribution(samples: perUnit, unit: "B") : nil, unavailable: failure,
        notes: plan.notes + [
          "charged per unit (\(accounting)), \(config.units * plan.scale) units per round"
            + (plan.inHost ? ": a host of \(config.units * plan.scale + 1) minus a host of 1" : "")
        ]
          + (measure == nil || atLaunch.isEmpty
            ? []
            : [
              "of which in the launching thread's cgroup (clone's kernel objects, the cgroups created, and all of a unit without a cgroup of its own): \(atLaunch.sorted()[atLaunch.count / 2] / 1024) KiB per unit (median)"
            ]))
    ]
    if !plan.inHost {
      results.append(
        BenchResult(
          kind: "memory", level: plan.level.rawValue, name: "supervisor RSS per \(plan.name.dropFirst(5))",
          metric: "memory", distribution: failure == nil ? Distribution(samples: supervisor, unit: "B") : nil,
          unavailable: failure,
          notes: [
            "growth of this process's RSS per started and watched unit: its Workload, pidfd, and a Supervisor.wait on a thread of its own (a stack of \(Watcher.stackSize >> 10) KiB reserved)"
          ]))
    }
    return results
  }

  struct Sample {
    /// Bytes charged for the round (all units).
    var charged: Int64
    /// Of which to the measuring cgroup: what the kernel allocated in the launching
    /// thread's context (clone, and the cgroups the launcher created).
    var atLaunch: Int64
    /// Growth of the supervisor's RSS (all units).
    var supervisorRSS: Int64
  }

  /// Starts `units` units (or one host of `units`), waits until each said it is
  /// idle, reads the charges, and ends them all.
  static func sample(_ plan: Plan, units: Int, measure: MeasuringGroup?, worker: LaunchThread) -> Result<
    Sample, SpawnBench.SampleError
  > {
    let output: (read: FileDescriptor, write: FileDescriptor)
    do { output = try FileDescriptor.pipe(step: "pipe2 (unit output)") } catch {
      return .failure(.init(text: error.description))
    }
    defer { output.read.close() }
    let launcher = Launcher(
      probePath: plan.probePath, hostExecutable: plan.hostExecutable, stdoutFD: output.write.rawValue)
    let processes = plan.inHost ? 1 : units
    // What the previous round's units held is freed partly after their reap (RCU,
    // a network namespace's teardown in a workqueue): start from a still cgroup.
    let before = measure?.settledUsage() ?? 0
    let rssBefore = residentBytes()
    var round = Round()
    var error: String? = nil
    for _ in 0..<processes {
      let spec = plan.spec(units)
      let started = worker.run { () -> Result<Workload, BulkheadError> in
        do throws(BulkheadError) { return .success(try launcher.start(spec, recordNamespaces: false)) } catch {
          return .failure(error)
        }
      }
      switch started {
      case .success(let workload):
        round.workloads.append(workload)
        round.watchers.append(Watcher(workload))
      case .failure(let e):
        error = e.description
      }
      if error != nil { break }
    }
    output.write.close()
    defer {
      for watcher in round.watchers { watcher.kill() }
      for watcher in round.watchers { watcher.join() }
    }
    if let error { return .failure(.init(text: error)) }
    let ready = readLines(output.read.rawValue, count: units, timeoutMilliseconds: readyTimeoutMilliseconds)
    if ready < units {
      return .failure(.init(text: "only \(ready) of \(units) units said they were idle"))
    }
    let after = measure?.usage() ?? 0
    let rssAfter = residentBytes()
    let atLaunch = Int64(after) - Int64(before)
    var charged = atLaunch
    for workload in round.workloads {
      charged += Int64(workload.cgroup.flatMap(usage(of:)) ?? 0)
    }
    return .success(
      Sample(charged: charged, atLaunch: atLaunch, supervisorRSS: Int64(rssAfter) - Int64(rssBefore)))
  }

  /// Memory charged to a sandbox's cgroup now.
  static func usage(of group: CgroupGroup) -> UInt64? {
    switch group.version {
    case .v1: group.directories["memory"].map { charged(directory: $0, version: .v1) }
    case .v2: group.directories[""].map { charged(directory: $0, version: .v2) }
    }
  }

  /// What a cgroup holds, exactly: not `memory.usage_in_bytes` (v1) or
  /// `memory.current` (v2), which count the charges a CPU has taken in advance (up
  /// to 64 pages per CPU; 512 KiB for one idle probe on this kind of machine) but
  /// the pages themselves: v1 `rss` + `cache` of memory.stat and the kernel memory
  /// of memory.kmem.usage_in_bytes (kernel stacks, page tables, slab); v2 `anon` +
  /// `file` + `kernel` of memory.stat.
  static func charged(directory: String, version: CgroupVersion) -> UInt64 {
    let stat = CgroupFiles.keyed(CgroupFiles.read(directory + "/memory.stat") ?? "")
    switch version {
    case .v1:
      return (stat["rss"] ?? 0) + (stat["cache"] ?? 0) + (readNumber(directory + "/memory.kmem.usage_in_bytes") ?? 0)
    case .v2:
      if let kernel = stat["kernel"] { return (stat["anon"] ?? 0) + (stat["file"] ?? 0) + kernel }
      return readNumber(directory + "/memory.current") ?? 0
    }
  }

  static func readNumber(_ path: String) -> UInt64? {
    CgroupFiles.read(path).flatMap { UInt64($0.filter { $0.isNumber }) }
  }

  /// This process's resident set (statm), in bytes.
  static func residentBytes() -> UInt64 {
    guard let text = CgroupFiles.read("/proc/self/statm") else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = UInt64(fields[1]) else { return 0 }
    return pages * UInt64(max(1, sysconf(Int32(_SC_PAGESIZE))))
  }

  /// Reads from `fd` until `count` lines arrived, EOF, or the timeout; returns the lines seen.
  static func readLines(_ fd: Int32, count: Int, timeoutMilliseconds: Int) -> Int {
    let deadline = bhb_now_ns() + UInt64(timeoutMilliseconds) * 1_000_000
    var lines = 0
    var buffer = [UInt8](repeating: 0, count: 4096)
    while lines < count {
      let now = bhb_now_ns()
      guard now < deadline else { break }
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let r = poll(&poller, 1, Int32(min(1000, (deadline - now) / 1_000_000 + 1)))
      if r < 0 && errno == EINTR { continue }
      if r <= 0 { continue }
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      lines += buffer[0..<n].filter { $0 == UInt8(ascii: "\n") }.count
    }
    return lines
  }
}

/// A cgroup v1 memory cgroup that only the launching thread joins, so that what
/// the kernel allocates for its clones is charged there:
/// `<own>/bulkhead/run-PID-memory`, the name the stale-cgroup sweep of a later
/// bulkhead recognises should this one be killed.
final class MeasuringGroup: @unchecked Sendable {
  let directory: String
  let home: String

  /// nil on cgroup v2, where a thread cannot leave its process's cgroup.
  init?(cgroups: Cgroups) throws(BulkheadError) {
    guard cgroups.version == .v1, let mount = cgroups.mounts["memory"] else { return nil }
    let own = cgroups.ownPaths["memory"] ?? "/"
    home = mount + (own == "/" ? "" : own)
    let parent = home + "/bulkhead"
    directory = parent + "/run-\(getpid())-memory"
    if mkdir(parent, 0o755) != 0 && errno != EEXIST {
      throw .setupFailed(step: "mkdir the measuring cgroup", value: parent, errno: errno)
    }
    if mkdir(directory, 0o755) != 0 && errno != EEXIST {
      throw .setupFailed(step: "mkdir the measuring cgroup", value: directory, errno: errno)
    }
  }

  /// Moves the calling thread in ("0": the writer itself, cgroup v1 `tasks`).
  func enter() throws(BulkheadError) {
    try CgroupFiles.write("0", to: directory + "/tasks", step: "join the measuring cgroup")
  }

  /// Moves the calling thread back to the process's own cgroup.
  func leave() {
    try? CgroupFiles.write("0", to: home + "/tasks", step: "leave the measuring cgroup")
  }

  func usage() -> UInt64 {
    MemoryBench.charged(directory: directory, version: .v1)
  }

  /// The usage once it has stopped falling: three readings 30 ms apart within
  /// 8 KiB of each other, or after two seconds.
  func settledUsage() -> UInt64 {
    var readings = [usage()]
    let deadline = bhb_now_ns() + 2_000_000_000
    while bhb_now_ns() < deadline {
      usleep(30_000)
      readings.append(usage())
      let last = readings.suffix(3)
      if last.count == 3, let low = last.min(), let high = last.max(), high - low <= 8192 { break }
    }
    return readings.last!
  }

  /// Removes the directory (its charges go to the parent), waiting for the last
  /// member to be gone.
  func remove() {
    for _ in 0..<200 {
      if rmdir(directory) == 0 || errno == ENOENT { return }
      usleep(5000)
    }
  }
}

/// A thread that runs the launches, inside the measuring cgroup when there is one.
final class LaunchThread: @unchecked Sendable {
  private var job: (() -> Void)?
  private var stopping = false
  private let go = DispatchSemaphore(value: 0)
  private let done = DispatchSemaphore(value: 0)
  private var thread = pthread_t()
  private let measure: MeasuringGroup?
  private var joinError: BulkheadError?

  init(joining measure: MeasuringGroup?) throws(BulkheadError) {
    self.measure = measure
    let me = Unmanaged.passRetained(self).toOpaque()
    let r = pthread_create(
      &thread, nil,
      { raw in
        let worker = Unmanaged<LaunchThread>.fromOpaque(raw!).takeRetainedValue()
        worker.loop()
        return nil
      }, me)
    if r != 0 {
      Unmanaged<LaunchThread>.fromOpaque(me).release()
      throw .setupFailed(step: "pthread_create (launch thread)", errno: r)
    }
    done.wait()
    if let joinError {
      finish()
      throw joinError
    }
  }

  private func loop() {
    do { try measure?.enter() } catch { joinError = error }
    done.signal()
    while true {
      go.wait()
      if stopping { break }
      job?()
      done.signal()
    }
    measure?.leave()
  }

  /// Runs `body` on the thread and returns its value.
  func run<T>(_ body: () -> T) -> T {
    withoutActuallyEscaping(body) { body in
      var result: T? = nil
      job = { result = body() }
      go.signal()
      done.wait()
      job = nil
      return result!
    }
  }

  func finish() {
    guard !stopping else { return }
    stopping = true
    go.signal()
    pthread_join(thread, nil)
  }
}

/// A `Supervisor.wait` for one workload on a thread of its own, as bulkhead watches
/// a workload today, on a stack this code maps and unmaps (glibc would keep a stack
/// of its own making cached, and the RSS figures would depend on earlier rounds).
final class Watcher: @unchecked Sendable {
  static let stackSize = 512 * 1024
  let workload: Workload
  private var thread = pthread_t()
  private var stack: UnsafeMutableRawPointer?
  private var started = false
  /// A pidfd of the watcher's own: the supervisor closes the workload's once it has
  /// reaped it, and that number may name another descriptor by the time `kill()`
  /// runs on another thread. This one names the same process until `join()`.
  private var ownPidfd: Int32

  init(_ workload: Workload) {
    self.workload = workload
    ownPidfd = fcntl(workload.pidfd, F_DUPFD_CLOEXEC, 0)
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    let mapped = mmap(nil, Self.stackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)
    if let mapped, mapped != MAP_FAILED {
      stack = mapped
      pthread_attr_setstack(&attributes, mapped, Self.stackSize)
    }
    let me = Unmanaged.passRetained(self).toOpaque()
    let r = pthread_create(
      &thread, &attributes,
      { raw in
        let watcher = Unmanaged<Watcher>.fromOpaque(raw!).takeRetainedValue()
        _ = try? Supervisor().wait(for: watcher.workload, options: Supervisor.Options(forwardSignals: false))
        return nil
      }, me)
    if r == 0 {
      started = true
    } else {
      Unmanaged<Watcher>.fromOpaque(me).release()
      // Nobody watches it: end and reap it here.
      _ = try? Supervisor().wait(
        for: workload, options: Supervisor.Options(forwardSignals: false, timeoutMilliseconds: 1))
    }
  }

  /// Ends the workload, whether or not its watcher has reaped it already (a
  /// reaped process's pidfd answers ESRCH; no other process can be hit).
  func kill() {
    if ownPidfd >= 0 { _ = bh_pidfd_send_signal(ownPidfd, SIGKILL) }
  }

  /// Waits for the watcher (the workload has been killed) and unmaps its stack.
  func join() {
    if started { pthread_join(thread, nil) }
    started = false
    if let stack { munmap(stack, Self.stackSize) }
    stack = nil
    if ownPidfd >= 0 { close(ownPidfd) }
    ownPidfd = -1
  }
}
