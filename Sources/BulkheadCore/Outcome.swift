import BulkheadSpec
import BulkheadSystem

/// How a workload ended, as the kernel reported it.
public enum Termination: Sendable, Equatable, Codable {
  case exited(code: Int32)
  case signaled(signal: Int32, coreDumped: Bool)
}

/// Why the supervisor (not the workload itself) ended the workload.
public enum KillReason: String, Sendable, Codable, Equatable {
  /// `--timeout` elapsed.
  case timeout
  /// SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to bulkhead, forwarded.
  case forwardedSignal = "forwarded-signal"
  /// `--cpu-time` was used up.
  case cpuTime = "cpu-time"
  /// The kernel's OOM killer, at the cgroup's memory limit.
  case oom
  /// A seccomp filter's kill action (SIGSYS).
  case seccomp
}

/// What happened to one workload: the kernel's verdict, why the supervisor
/// intervened (if it did), and the resources it used.
public struct Outcome: Sendable, Equatable, Codable {
  public var termination: Termination
  public var killedBy: KillReason?
  /// True when the workload outlived its grace period (or a second signal came)
  /// and the supervisor escalated to SIGKILL.
  public var escalatedToKill: Bool
  /// The signal forwarded from bulkhead, when one was.
  public var forwardedSignal: Int32?
  public var userCPUSeconds: Double
  public var systemCPUSeconds: Double
  /// ru_maxrss of the workload (its largest descendant waited for), in KiB.
  public var maxRSSKiB: Int
  /// At the thread and task levels: what the host reported of each workload.
  public var inProcess: [InProcessStatus] = []
  /// What the sandbox's cgroup measured, when it had one.
  public var cgroup: CgroupStats? = nil
  /// Processes of the workload still alive after it ended, which the process level
  /// let go (a daemon that called setsid): found through the tracking cgroup.
  public var escaped: [Int32]? = nil

  public init(
    termination: Termination, killedBy: KillReason? = nil, escalatedToKill: Bool = false,
    forwardedSignal: Int32? = nil,
    userCPUSeconds: Double = 0, systemCPUSeconds: Double = 0, maxRSSKiB: Int = 0
  ) {
    self.termination = termination
    self.killedBy = killedBy
    self.escalatedToKill = escalatedToKill
    self.forwardedSignal = forwardedSignal
    self.userCPUSeconds = userCPUSeconds
    self.systemCPUSeconds = systemCPUSeconds
    self.maxRSSKiB = maxRSSKiB
  }

  /// The shell convention: the code itself, or 128+N for a signal.
  public var exitStatus: Int32 {
    switch termination {
    case .exited(let code): code
    case .signaled(let signal, _): 128 + signal
    }
  }
}

/// One workload inside a thread- or task-level host, as the host reported it.
public struct InProcessStatus: Sendable, Equatable, Codable {
  public var index: Int
  public var name: String
  public var started: Bool
  /// The code it returned; nil when the host ended (or was killed) first.
  public var returned: Int32?
  /// Seconds from the spawn until the host reported the start / the return.
  public var startedAfterSeconds: Double?
  public var returnedAfterSeconds: Double?

  public init(index: Int, name: String) {
    self.index = index
    self.name = name
    self.started = false
  }

  /// Applies one report line ("start I NAME", "end I CODE") to `statuses`.
  public static func apply(_ line: Substring, to statuses: inout [InProcessStatus], atSeconds: Double) {
    let words = line.split(separator: " ")
    guard words.count >= 3, let index = Int(words[1]), statuses.indices.contains(index) else { return }
    switch words[0] {
    case "start":
      statuses[index].started = true
      statuses[index].startedAfterSeconds = atSeconds
    case "end":
      statuses[index].returned = Int32(words[2])
      statuses[index].returnedAfterSeconds = atSeconds
    default:
      break
    }
  }
}
