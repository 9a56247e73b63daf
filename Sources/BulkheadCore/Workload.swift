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
}
