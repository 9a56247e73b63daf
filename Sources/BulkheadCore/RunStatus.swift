import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The document `--json-status` writes: the machine contract of `bulkhead run`.
/// Fields are documented in docs/json-status.md; `schema` changes when they do.
public struct RunStatus: Sendable, Codable, Equatable {
  public static let schemaID = "bulkhead.run-status/1"

  public struct NamespaceIDs: Sendable, Codable, Equatable {
    /// The workload's namespace inode per kind.
    public var workload: [String: UInt64]
    /// Bulkhead's own, for comparison: equal means shared.
    public var host: [String: UInt64]
  }

  public struct Result: Sendable, Codable, Equatable {
    /// "exited", "signaled", "killed" (the supervisor ended it) or "setup-failed".
    public var kind: String
    public var exitCode: Int32?
    public var signal: Int32?
    public var signalName: String?
    public var coreDumped: Bool?
    /// For "killed": timeout or forwarded-signal.
    public var reason: String?
    /// For "killed": true when SIGKILL followed because the grace period ran out
    /// or a second signal came.
    public var escalatedToKill: Bool?
    /// For "setup-failed": the step and errno.
    public var step: String?
    public var errno: Int32?
    public var message: String?
  }

  public var schema: String = Self.schemaID
  public var spec: Spec
  public var pid: Int32?
  public var namespaces: NamespaceIDs?
  /// RFC 3339 UTC times.
  public var startedAt: String
  public var endedAt: String
  public var durationSeconds: Double
  /// Time from the spawn call until execve succeeded.
  public var setupSeconds: Double?
  public var outcome: Result
  /// What `bulkhead` exits with.
  public var exitStatus: Int32
  public var userCPUSeconds: Double?
  public var systemCPUSeconds: Double?
  public var maxRSSKiB: Int?
  /// "clone3" or "clone".
  public var spawnCall: String?
  /// The argv bulkhead executed: the command, the probe, or the thread/task host.
  public var executed: [String]?
  /// SWIFT_BACKTRACE as given to built-in workloads ("enable=no"), nil for commands.
  public var swiftBacktrace: String?
  /// Thread and task levels: each workload as the host reported it.
  public var workloads: [InProcessStatus]?
  /// What the sandbox's cgroup measured (with --memory, --pids, --cpus).
  public var cgroup: CgroupStats?
  /// The seccomp profile and capabilities applied.
  public var confinement: AppliedConfinement?

  public init(workload: Workload, outcome: Outcome, endedWall: UInt64, endedMono: UInt64) {
    spec = workload.spec
    pid = workload.pid
    let host = NamespaceKind.allCases.reduce(into: [String: UInt64]()) { acc, kind in
      if let id = kind.currentInode { acc[kind.rawValue] = id }
    }
    namespaces = NamespaceIDs(
      workload: Dictionary(uniqueKeysWithValues: workload.namespaces.map { ($0.key.rawValue, $0.value) }),
      host: host)
    startedAt = Self.rfc3339(workload.startedAtWallNanoseconds)
    endedAt = Self.rfc3339(endedWall)
    durationSeconds = Double(endedMono - workload.startedAtMonotonicNanoseconds) / 1e9
    setupSeconds = Double(workload.execedAtMonotonicNanoseconds - workload.startedAtMonotonicNanoseconds) / 1e9
    exitStatus = outcome.exitStatus
    userCPUSeconds = outcome.userCPUSeconds
    systemCPUSeconds = outcome.systemCPUSeconds
    maxRSSKiB = outcome.maxRSSKiB
    spawnCall = workload.usedClone3 ? "clone3" : "clone"
    executed = workload.executed
    swiftBacktrace = workload.spec.environment.last { $0.name == "SWIFT_BACKTRACE" }?.value
    workloads = outcome.inProcess.isEmpty ? nil : outcome.inProcess
    cgroup = outcome.cgroup
    confinement = workload.confinement
    switch outcome.termination {
    case .exited(let code):
      self.outcome = Result(
        kind: outcome.killedBy == nil ? "exited" : "killed", exitCode: code, reason: outcome.killedBy?.rawValue,
        escalatedToKill: outcome.killedBy == nil ? nil : outcome.escalatedToKill)
    case .signaled(let signal, let core):
      self.outcome = Result(
        kind: outcome.killedBy == nil ? "signaled" : "killed", signal: signal,
        signalName: signalName(signal), coreDumped: core, reason: outcome.killedBy?.rawValue,
        escalatedToKill: outcome.killedBy == nil ? nil : outcome.escalatedToKill)
    }
  }

  public init(
    spec: Spec, error: BulkheadError, exitStatus: Int32, startedWall: UInt64, endedWall: UInt64, startedMono: UInt64,
    endedMono: UInt64
  ) {
    self.spec = spec
    startedAt = Self.rfc3339(startedWall)
    endedAt = Self.rfc3339(endedWall)
    durationSeconds = Double(endedMono - startedMono) / 1e9
    self.exitStatus = exitStatus
    outcome = Result(kind: "setup-failed", step: error.step, errno: error.errno, message: error.description)
  }

  /// "2026-11-26T16:18:58.123Z".
  public static func rfc3339(_ nanoseconds: UInt64) -> String {
    var seconds = Int(nanoseconds / 1_000_000_000)
    var tm = tm()
    gmtime_r(&seconds, &tm)
    let millis = Int(nanoseconds / 1_000_000 % 1000)
    func pad(_ v: Int32, _ width: Int) -> String {
      let s = String(v)
      return String(repeating: "0", count: max(0, width - s.count)) + s
    }
    return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
      + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
  }
}
