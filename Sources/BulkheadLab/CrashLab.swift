import BulkheadCore
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A fault the crash lab injects into one workload among healthy siblings.
public enum CrashFault: String, CaseIterable, Codable, Sendable {
  case segv
  case abort
  case trap
  case fpe
  case stackOverflow = "stack-overflow"
  case oom
  case forkBomb = "fork-bomb"
  case fdExhaust = "fd-exhaust"
  case busyHang = "busy-hang"
  case blockHang = "block-hang"
  case exit
  case orphan
  case seccomp

  /// A seccomp violation needs a filter: only the container level has one.
  public func applies(to level: IsolationLevel) -> Bool { self != .seccomp || level == .container }

  /// The built-in workload that fires it.
  var workload: String {
    switch self {
    case .exit: "exit 3"
    case .orphan: "orphan 120"
    // keyctl is outside Docker's default profile: the filter answers EPERM.
    case .seccomp: "try-syscall keyctl"
    default: rawValue
    }
  }

  /// Faults that end the process they run in with a signal.
  var killsItsProcess: Bool { [.segv, .abort, .trap, .fpe, .stackOverflow].contains(self) }
}

/// How far a fault reached.
public enum BlastVerdict: String, Codable, Sendable {
  /// Only the faulty workload was affected.
  case contained
  /// The siblings lived, but something else was touched: a starved canary,
  /// siblings that could not open files, an escaped process, a leftover.
  case partial
  /// Siblings (or their host) died with it.
  case spread
  case notApplicable = "n/a"
}

/// What one cell of the blast-radius matrix measured.
public struct CrashCell: Codable, Sendable {
  public var level: IsolationLevel
  public var fault: CrashFault
  public var verdict: BlastVerdict
  /// The one-line mechanism, said against what was observed.
  public var explanation: String
  /// How the faulty workload ended: "signal SIGSEGV", "exit 3", "killed(oom)",
  /// "returned 1", "still running (ended by the lab)".
  public var faultyOutcome: String
  /// Milliseconds from the fault firing until the supervisor knew how it ended.
  public var detectionMilliseconds: Double?
  public var siblings: Int
  public var siblingsAlive: Int
  /// Siblings still beating but unable to open a file (a shared descriptor table).
  public var siblingsImpaired: Int
  /// Per sibling: milliseconds after the fault when it stopped beating; nil if it
  /// beat to the end.
  public var siblingStops: [Double?]
  /// Thread and task levels: whether the host process outlived the window.
  public var hostSurvived: Bool?
  /// The supervisor (this process) kept watching and tore everything down.
  public var supervisorSurvived: Bool
  public var canary: CanaryReport
  /// Processes that outlived their workload (found through the tracking cgroup,
  /// then ended by the lab).
  public var escapedProcesses: Int
  public var leftovers: Leftovers
  /// Milliseconds the cell observed after the fault fired.
  public var observedMilliseconds: Double

  /// The short text of the matrix cell.
  public var summary: String {
    guard verdict != .notApplicable else { return "n/a" }
    var parts = ["\(siblingsAlive)/\(siblings)"]
    if hostSurvived == false { parts.append("host died") }
    if siblingsImpaired > 0 { parts.append("\(siblingsImpaired) no fds") }
    if canary.starved { parts.append("canary starved") }
    if escapedProcesses > 0 { parts.append("\(escapedProcesses) escaped") }
    if !leftovers.isEmpty { parts.append("LEFT \(leftovers.total)") }
    if let ms = detectionMilliseconds { parts.append(Self.milliseconds(ms)) } else { parts.append("ran on") }
    return parts.joined(separator: " ")
  }

  static func milliseconds(_ ms: Double) -> String {
    ms < 10 ? "\((ms * 10).rounded() / 10) ms" : "\(Int(ms.rounded())) ms"
  }
}

/// The canary: a process of the same user in the same safety box, outside the
/// neighbourhood, that keeps forking and allocating.
public struct CanaryReport: Codable, Sendable {
  /// Rounds after the fault fired.
  public var rounds: Int = 0
  public var forkFailures: Int = 0
  public var allocationFailures: Int = 0
  /// Whether the canary itself was killed during the window.
  public var died = false
  /// The slowest round before and after the fault, in ms.
  public var slowestBeforeMilliseconds: Double = 0
  public var slowestAfterMilliseconds: Double = 0

  public var starved: Bool { forkFailures > 0 || allocationFailures > 0 || died }
}

/// What teardown left: each should be zero.
public struct Leftovers: Codable, Sendable, Equatable {
  /// Processes still in the lab's cgroups.
  public var processes = 0
  /// Cgroup directories left below the safety box.
  public var cgroups = 0
  /// Mounts added to bulkhead's own mount namespace.
  public var mounts = 0
  /// Namespaces pinned by a descriptor of bulkhead's or by a leftover process.
  public var namespaces = 0
  /// New files named bulkhead* in /tmp or /dev/shm.
  public var tempFiles = 0
  /// Descriptors bulkhead holds beyond what it held before.
  public var descriptors = 0

  public var total: Int { processes + cgroups + mounts + namespaces + tempFiles + descriptors }
  public var isEmpty: Bool { total == 0 }
}

/// The crash lab: for each level and fault, K healthy heartbeat siblings and one
/// workload that fires the fault, all inside an outer safety cgroup.
public final class CrashLab {
  public struct Config: Sendable {
    public var levels: [IsolationLevel] = IsolationLevel.allCases
    public var faults: [CrashFault] = CrashFault.allCases
    public var siblings = 3
    /// Before the fault fires.
    public var warmupMilliseconds = 250
    /// The longest observation after it fires (hangs run it all).
    public var windowMilliseconds = 600
    /// After the faulty workload ended, how long its siblings are still watched.
    public var settleMilliseconds = 300
    public var heartbeatMilliseconds = 50
    /// The safety box: what a process-level fork bomb or memory hog runs into.
    public var boxMemoryBytes: UInt64 = 256 << 20
    public var boxPids = 256
    public var boxCPUs = 1.5
    /// Each container's own limits.
    public var containerMemoryBytes: UInt64 = 64 << 20
    public var containerPids = 64
    /// RLIMIT_NOFILE of every unit.
    public var descriptorLimit: UInt64 = 4096

    public init() {}
  }

  /// Builds the spec of a unit at a level from built-in workload texts (the CLI's
  /// one place where flags become specs, with the default rootfs and confinement).
  public typealias SpecMaker = (IsolationLevel, [String]) throws(BulkheadError) -> Spec

  let config: Config
  let makeSpec: SpecMaker
  let probePath: String?
  let hostExecutable: String?
  let progress: (String) -> Void

  public init(
    config: Config, probePath: String?, hostExecutable: String?, makeSpec: @escaping SpecMaker,
    progress: @escaping (String) -> Void = { _ in }
  ) {
    self.config = config
    self.makeSpec = makeSpec
    self.probePath = probePath
    self.hostExecutable = hostExecutable
    self.progress = progress
  }

  /// Runs every cell (faults x levels) in order and returns them.
  public func run() throws(BulkheadError) -> [CrashCell] {
    guard geteuid() == 0 else {
      throw BulkheadError(
        code: .unsupported, step: "crash lab", reason: "the crash lab needs root: its safety box is a cgroup",
        hint: "run it as root (sudo bulkhead crash)")
    }
    guard let cgroups = Cgroups.current else {
      throw BulkheadError(
        code: .unsupported, step: "crash lab", reason: "no usable cgroup hierarchy for the safety box",
        hint: "mount cgroup v1 (memory, pids, cpu) or v2")
    }
    cgroups.sweepStale()
    let box = try cgroups.create(
      name: "run-\(getpid())-lab",
      request: CgroupRequest(memoryBytes: config.boxMemoryBytes, pids: config.boxPids, cpus: config.boxCPUs))
    defer { box.removeTree() }
    let inside = cgroups.nested(in: box)
    let nullFD = open("/dev/null", O_WRONLY | O_CLOEXEC)
    defer { close(nullFD) }
    let baseline = Snapshot.take()

    var cells: [CrashCell] = []
    let total = config.faults.reduce(0) { sum, fault in sum + config.levels.filter { fault.applies(to: $0) }.count }
    var done = 0
    for fault in config.faults {
      for level in config.levels {
        guard fault.applies(to: level) else {
          cells.append(Self.notApplicable(level: level, fault: fault, siblings: config.siblings))
          continue
        }
        done += 1
        progress("crash: [\(done)/\(total)] \(fault.rawValue) at the \(level.rawValue) level")
        var cell = try runCell(level: level, fault: fault, cgroups: inside, nullFD: nullFD)
        cell.leftovers = Self.cleanUp(box: box, baseline: baseline)
        cell.verdict = Self.verdict(cell)
        cell.explanation = Explanation.text(cell)
        cells.append(cell)
      }
    }
    return cells
  }

  static func notApplicable(level: IsolationLevel, fault: CrashFault, siblings: Int) -> CrashCell {
    CrashCell(
      level: level, fault: fault, verdict: .notApplicable,
      explanation: "no seccomp filter at the \(level.rawValue) level: the call is simply made",
      faultyOutcome: "not run", detectionMilliseconds: nil, siblings: siblings, siblingsAlive: siblings,
      siblingsImpaired: 0, siblingStops: [], hostSurvived: nil, supervisorSurvived: true, canary: CanaryReport(),
      escapedProcesses: 0, leftovers: Leftovers(), observedMilliseconds: 0)
  }

  // MARK: - One cell

  /// Who a line or an end belongs to.
  struct UnitKey: Hashable {
    var member: Int
    var unit: Int?
  }

  final class Observation {
    var siblings: [UnitKey] = []
    var faulty = UnitKey(member: -1)
    var canaryMember = -1
    var hostMember: Int? = nil
    var lastBeat: [UnitKey: UInt64] = [:]
    var impaired: Set<UnitKey> = []
    var siblingEnded: [UnitKey: UInt64] = [:]
    var fired: UInt64? = nil
    var faultyEnded: UInt64? = nil
    var faultyOutcome: String? = nil
    var hostEnded: UInt64? = nil
    var escaped = 0
    var canaryRounds: [(at: UInt64, forkOK: Bool, allocOK: Bool, micros: Double)] = []
    var canaryDied: UInt64? = nil
    var tearingDown = false
  }

  func runCell(level: IsolationLevel, fault: CrashFault, cgroups: Cgroups, nullFD: Int32) throws(BulkheadError)
    -> CrashCell
  {
    let fleet = try Fleet()
    let seen = Observation()
    let beat = "heartbeat \(config.heartbeatMilliseconds)"
    let faultText = "after=\(config.warmupMilliseconds) \(fault.workload)"

    // The canary first: it is the bystander, already running when trouble starts.
    seen.canaryMember = try start(
      fleet, level: .process, workloads: ["canary \(config.heartbeatMilliseconds)"], cgroups: cgroups, output: true,
      nullFD: nullFD
    ).member
    let faultyStart: UInt64
    switch level {
    case .thread, .task:
      let texts = Array(repeating: beat, count: config.siblings) + [faultText]
      let (host, started) = try start(
        fleet, level: level, workloads: texts, cgroups: cgroups, output: false, nullFD: nullFD)
      faultyStart = started
      seen.hostMember = host
      seen.siblings = (0..<config.siblings).map { UnitKey(member: host, unit: $0) }
      seen.faulty = UnitKey(member: host, unit: config.siblings)
    case .process, .container:
      for _ in 0..<config.siblings {
        let member = try start(fleet, level: level, workloads: [beat], cgroups: cgroups, output: true, nullFD: nullFD)
        seen.siblings.append(UnitKey(member: member.member))
      }
      let (member, started) = try start(
        fleet, level: level, workloads: [faultText], cgroups: cgroups, output: true, nullFD: nullFD)
      faultyStart = started
      seen.faulty = UnitKey(member: member)
    }
    let scheduled = faultyStart + UInt64(config.warmupMilliseconds) * 1_000_000
    let window = UInt64(config.windowMilliseconds) * 1_000_000
    let settle = UInt64(config.settleMilliseconds) * 1_000_000

    // Observe: until the window after the fault has passed, or the faulty workload
    // ended and its siblings were watched for the settle time after it.
    var observedUntil: UInt64 = 0
    while true {
      let fired = seen.fired ?? scheduled
      var end = fired + window
      if let ended = seen.faultyEnded { end = min(end, max(ended, fired) + settle) }
      let now = monotonicNanoseconds()
      if now >= end {
        observedUntil = now
        break
      }
      try fleet.run(until: min(end, now + 20_000_000)) { event in self.record(event, into: seen) }
      if fleet.running == 0 {
        observedUntil = monotonicNanoseconds()
        break
      }
    }

    // What is alive now is what survived.
    let beatSlack = UInt64(config.heartbeatMilliseconds) * 3_000_000 + 50_000_000
    var alive = 0
    var stops: [Double?] = []
    let fired = seen.fired ?? scheduled
    for key in seen.siblings {
      let last = seen.lastBeat[key]
      let ended = seen.siblingEnded[key] ?? (key.unit != nil ? seen.hostEnded : nil)
      if ended == nil, let last, last + beatSlack >= observedUntil {
        alive += 1
        stops.append(nil)
      } else {
        // When it ended, else its last beat; one that never beat stopped at the start.
        let stop = ended ?? last ?? faultyStart
        stops.append(Self.milliseconds(from: fired, to: stop))
      }
    }
    let hostSurvived: Bool? = seen.hostMember.map { _ in seen.hostEnded == nil }

    // Teardown: the lab ends whatever still runs, and collects every outcome; what
    // ends now was ended by the lab, not by its fault.
    seen.tearingDown = true
    for member in 0..<fleet.count { fleet.signal(member, SIGKILL) }
    try fleet.run(until: monotonicNanoseconds() + 5_000_000_000) { event in self.record(event, into: seen) }

    var canary = CanaryReport()
    for round in seen.canaryRounds {
      let ms = round.micros / 1000
      if round.at < fired {
        canary.slowestBeforeMilliseconds = max(canary.slowestBeforeMilliseconds, ms)
      } else if round.at <= observedUntil {
        canary.rounds += 1
        if !round.forkOK { canary.forkFailures += 1 }
        if !round.allocOK { canary.allocationFailures += 1 }
        canary.slowestAfterMilliseconds = max(canary.slowestAfterMilliseconds, ms)
      }
    }
    if let died = seen.canaryDied, died <= observedUntil { canary.died = true }

    let detection = seen.faultyEnded.map { Self.milliseconds(from: fired, to: $0) }
    return CrashCell(
      level: level, fault: fault, verdict: .contained, explanation: "",
      faultyOutcome: seen.faultyOutcome ?? "still running (ended by the lab)",
      detectionMilliseconds: detection.map { max(0, $0) }, siblings: config.siblings, siblingsAlive: alive,
      siblingsImpaired: seen.siblings.filter { seen.impaired.contains($0) }.count, siblingStops: stops,
      hostSurvived: hostSurvived, supervisorSurvived: true, canary: canary, escapedProcesses: seen.escaped,
      leftovers: Leftovers(), observedMilliseconds: max(0, Self.milliseconds(from: fired, to: observedUntil)))
  }

  /// Signed milliseconds between two monotonic times.
  static func milliseconds(from start: UInt64, to end: UInt64) -> Double {
    end >= start ? Double(end - start) / 1e6 : -Double(start - end) / 1e6
  }

  func record(_ event: Fleet.Event, into seen: Observation) {
    switch event {
    case .line(let member, let unit, let text, let at):
      if member == seen.canaryMember {
        if let round = Self.parseCanary(text) { seen.canaryRounds.append((at, round.0, round.1, round.2)) }
        return
      }
      // A host's own stdout repeats its units' lines: only the attributed ones count.
      if member == seen.hostMember && unit == nil { return }
      let key = UnitKey(member: member, unit: unit)
      if key == seen.faulty {
        // The fault's announcement carries the workload's own CLOCK_MONOTONIC time
        // of firing (the clock is the same in every pid namespace); else the time
        // the line was read.
        if seen.fired == nil { seen.fired = Self.firedStamp(text) ?? at }
      } else if text.hasPrefix("alive ") {
        seen.lastBeat[key] = at
        if text.contains("cannot open") { seen.impaired.insert(key) } else { seen.impaired.remove(key) }
      }
    case .unitReturned(let member, let unit, let code, let at):
      if !seen.tearingDown && UnitKey(member: member, unit: unit) == seen.faulty && seen.faultyEnded == nil {
        seen.faultyEnded = at
        seen.faultyOutcome = "returned \(code)"
      }
    case .ended(let member, let outcome, let at):
      seen.escaped += outcome.escaped?.count ?? 0
      if seen.tearingDown { return }
      if member == seen.canaryMember {
        if seen.canaryDied == nil { seen.canaryDied = at }
        return
      }
      if member == seen.hostMember {
        seen.hostEnded = seen.hostEnded ?? at
        if seen.faultyEnded == nil {
          seen.faultyEnded = at
          seen.faultyOutcome = "host " + Self.describe(outcome)
        }
        return
      }
      let key = UnitKey(member: member)
      if key == seen.faulty {
        if seen.faultyEnded == nil {
          seen.faultyEnded = at
          seen.faultyOutcome = Self.describe(outcome)
        }
      } else if seen.siblingEnded[key] == nil {
        seen.siblingEnded[key] = at
      }
    }
  }

  /// "segv: writing through a null pointer [monotonic 123]" -> 123.
  static func firedStamp(_ text: String) -> UInt64? {
    guard let open = text.firstRange(of: "[monotonic "), let close = text[open.upperBound...].firstIndex(of: "]") else {
      return nil
    }
    return UInt64(text[open.upperBound..<close])
  }

  /// "canary 3 fork=ok alloc=ok us=812" -> (fork ok, alloc ok, microseconds).
  static func parseCanary(_ text: String) -> (Bool, Bool, Double)? {
    let words = text.split(separator: " ")
    guard words.first == "canary" else { return nil }
    var fork: Bool? = nil
    var alloc: Bool? = nil
    var micros = 0.0
    for word in words {
      if word.hasPrefix("fork=") { fork = word == "fork=ok" }
      if word.hasPrefix("alloc=") { alloc = word == "alloc=ok" }
      if word.hasPrefix("us="), let us = Double(word.dropFirst(3)) { micros = us }
    }
    // strerror's text has spaces ("fork=Resource temporarily unavailable"): a
    // fork word that is not "ok" is a failure either way.
    guard let fork, let alloc else { return nil }
    return (fork, alloc, micros)
  }

  static func describe(_ outcome: Outcome) -> String {
    var text: String
    switch outcome.termination {
    case .exited(let code): text = "exit \(code)"
    case .signaled(let signal, _): text = "signal \(signalName(signal))"
    }
    if let reason = outcome.killedBy { text += " killed(\(reason.rawValue))" }
    return text
  }

  /// Starts one unit in the safety box; returns its member index.
  func start(
    _ fleet: Fleet, level: IsolationLevel, workloads: [String], cgroups: Cgroups, output: Bool, nullFD: Int32
  ) throws(BulkheadError) -> (member: Int, started: UInt64) {
    var spec = try makeSpec(level, workloads)
    if level == .container {
      spec.cgroup.memoryBytes = config.containerMemoryBytes
      spec.cgroup.pids = config.containerPids
    }
    // The same descriptor limit wherever the lab runs: fd-exhaust's cost (and what
    // the box is charged for it) must not depend on the caller's RLIMIT_NOFILE.
    spec.confinement.rlimits.removeAll { $0.name == "nofile" }
    spec.confinement.rlimits.append(
      ResourceLimit(name: "nofile", soft: config.descriptorLimit, hard: config.descriptorLimit))
    var pipe: (read: FileDescriptor, write: FileDescriptor)? = nil
    if output { pipe = try FileDescriptor.pipe(step: "pipe2 (unit output)") }
    let launcher = Launcher(
      probePath: probePath, hostExecutable: hostExecutable, stdoutFD: pipe?.write.rawValue ?? nullFD, cgroups: cgroups)
    let workload: Workload
    do {
      workload = try launcher.start(spec, recordNamespaces: false)
    } catch {
      pipe?.read.close()
      pipe?.write.close()
      throw error
    }
    pipe?.write.close()
    do {
      let member = try fleet.add(
        workload, options: Supervisor.Options(forwardSignals: false), output: pipe?.read.rawValue)
      return (member, workload.startedAtMonotonicNanoseconds)
    } catch {
      Supervisor.kill(workload, SIGKILL)
      throw error
    }
  }

  // MARK: - Verdicts and cleanup

  static func verdict(_ cell: CrashCell) -> BlastVerdict {
    if cell.siblingsAlive < cell.siblings || cell.hostSurvived == false { return .spread }
    if cell.siblingsImpaired > 0 || cell.canary.starved || cell.escapedProcesses > 0 || !cell.leftovers.isEmpty {
      return .partial
    }
    return .contained
  }

  /// Ends what escaped into the box (recorded already), then counts what is left.
  static func cleanUp(box: CgroupGroup, baseline: Snapshot) -> Leftovers {
    for dir in box.directories.values { CgroupFiles.killAndRemoveTree(dir + "/escaped") }
    // Children of killed processes may take a moment to be reaped by init, and
    // until then they hold pids of the box: the next cell must start from zero.
    let pidsCurrent = (box.directories["pids"] ?? box.directories[""]).map { $0 + "/pids.current" }
    for _ in 0..<400 {
      let empty = box.directories.values.allSatisfy { Snapshot.tree(dir: $0).pids.isEmpty }
      let counted =
        pidsCurrent.flatMap { CgroupFiles.read($0) }.flatMap {
          Int($0.trimmingPrefix(" ").split(separator: "\n").first ?? "")
        } ?? 0
      if empty && counted == 0 { break }
      usleep(5000)
    }
    return Snapshot.take().leftovers(since: baseline, box: box)
  }
}
