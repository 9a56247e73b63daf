import BulkheadSpec
import BulkheadSystem

/// A workload that was started and has not been collected yet.
public struct Workload: Sendable {
  public let spec: Spec
  /// Its pid in the supervisor's pid namespace.
  public let pid: Int32
  /// A pidfd for it: signals and waits cannot hit a recycled pid.
  public let pidfd: Int32
  /// The namespaces it was started in (inode per kind), read before it ran.
  public let namespaces: [NamespaceKind: UInt64]
  /// When the spawn began (CLOCK_REALTIME and CLOCK_MONOTONIC, ns).
  public let startedAtWallNanoseconds: UInt64
  public let startedAtMonotonicNanoseconds: UInt64
  /// When execve had succeeded (monotonic ns).
  public let execedAtMonotonicNanoseconds: UInt64
  /// Whether clone3 was used (false: the clone fallback).
  public let usedClone3: Bool
  /// The read end of the host's report pipe (thread and task levels), else nil.
  public var reportFD: Int32? = nil
  /// The argv that was executed (the probe or the host for built-in workloads).
  public var executed: [String] = []
  /// The sandbox's cgroup, removed by the supervisor after the workload ends.
  public var cgroup: CgroupGroup? = nil
  /// What confinement was applied, for reports.
  public var confinement: AppliedConfinement? = nil
  /// The master of the workload's pty (`Spec.terminal`), relayed by the supervisor.
  public var terminalFD: Int32? = nil
}

/// The confinement a launch applied, as resolved in the parent.
public struct AppliedConfinement: Sendable, Codable, Equatable {
  /// "default", "unconfined" or the profile's path.
  public var seccompProfile: String
  public var seccompInstructions: Int?
  /// Rules compiling skipped (syscall names libseccomp does not know).
  public var seccompNotes: [String]
  /// The capabilities kept (bounding, permitted, effective); nil: untouched.
  public var capabilities: [String]?
}

extension Workload {
  /// Whether a seccomp filter was loaded (a SIGSYS death is then killed(seccomp)).
  public var seccompFiltered: Bool { confinement?.seccompInstructions != nil }

  /// Whether it is PID 1 of a pid namespace of its own, whose end ends everything
  /// in it (a container that did not --share pid).
  public var inOwnPidNamespace: Bool { spec.level == .container && spec.namespaces.contains(.pid) }

  /// The same workload, reported under `spec` (the user's, not the probe's or host's).
  func with(spec: Spec) -> Workload {
    var copy = Workload(
      spec: spec, pid: pid, pidfd: pidfd, namespaces: namespaces, startedAtWallNanoseconds: startedAtWallNanoseconds,
      startedAtMonotonicNanoseconds: startedAtMonotonicNanoseconds,
      execedAtMonotonicNanoseconds: execedAtMonotonicNanoseconds, usedClone3: usedClone3)
    copy.reportFD = reportFD
    copy.executed = executed
    copy.cgroup = cgroup
    copy.confinement = confinement
    copy.terminalFD = terminalFD
    return copy
  }
}
