/// Every verdict of the comparison, decided here and nowhere else: each function is
/// one row kind of the table in docs/inspect.md ("How each verdict is decided"),
/// a function of what was seen on the host's side and on the workload's.
public enum VerdictRules {
  /// What an active check's attempt came to, on one side.
  public enum Outcome: String, Sendable, CaseIterable {
    /// The operation went through (or passed its permission check).
    case allowed
    /// Refused: EPERM, EACCES, EROFS, or refused by a filter.
    case denied
    /// Killed by a signal (a seccomp filter's kill action).
    case killed
    /// ENOSYS: not in this kernel, or a filter's "unknown syscall" answer.
    case unavailable
    /// Nothing to try it on (no other process in view, no terminal).
    case skipped
    /// Anything else (a check that failed for another reason).
    case other

    public init(_ verdict: String) { self = Outcome(rawValue: verdict) ?? .other }
  }

  /// An active check. `reachesHost` is, for an allowed attempt whose target is
  /// known, whether that target is the host's (its network namespace, its root);
  /// nil when it is not known or does not apply.
  public static func check(host: Outcome, workload: Outcome, reachesHost: Bool?) -> (
    verdict: IsolationVerdict, why: String?
  ) {
    switch (host, workload) {
    case (_, .allowed):
      // Whatever the host could do: the workload can, and only its target decides.
      return reachesHost == false ? (.isolated, "allowed, on its own instance only") : (.shared, nil)
    case (.allowed, .denied), (.allowed, .killed), (.allowed, .unavailable):
      return (.reduced, nil)
    case (.allowed, .skipped):
      return (.isolated, "nothing of the host's in view to try it on")
    case (.allowed, .other):
      return (.unknown, "the attempt failed for another reason")
    case (.denied, _), (.killed, _):
      return (.unknown, "refused on the host as well: nothing to take away")
    case (.unavailable, _):
      return (.unknown, "unavailable on the host: not in this kernel")
    case (.skipped, _):
      return (.unknown, "the host had nothing to try it on")
    case (.other, _):
      return (.unknown, "the host's attempt failed for another reason")
    }
  }

  /// Namespaces, the cgroup, the hostname and the mount table: the same instance
  /// (equal identities) is shared, another one isolated.
  public static func identity<T: Equatable>(host: T?, workload: T?) -> IsolationVerdict {
    guard let host, let workload else { return .unknown }
    return host == workload ? .shared : .isolated
  }

  /// A count where fewer on the workload's side is `fewerIs` (processes in view:
  /// isolated; descriptors, environment names: reduced); as many or more: shared.
  public static func fewer(host: Int?, workload: Int?, fewerIs: IsolationVerdict) -> IsolationVerdict {
    guard let host, let workload else { return .unknown }
    return workload < host ? fewerIs : .shared
  }

  /// A capability set. In a user namespace of its own, what it holds acts on that
  /// namespace only: isolated, unless it holds nothing (reduced). In the host's,
  /// a strict subset is reduced, the same or more shared.
  public static func capabilities(host: UInt64?, workload: UInt64?, ownUserNamespace: Bool?) -> IsolationVerdict {
    guard let host, let workload, let ownUserNamespace else { return .unknown }
    if ownUserNamespace { return workload == 0 && host != 0 ? .reduced : (workload == 0 ? .shared : .isolated) }
    return workload != host && workload & ~host == 0 ? .reduced : .shared
  }

  /// Processes in view: fewer, in a pid namespace of its own, is isolated; in the
  /// host's pid namespace it sees the host's processes (a count that moves): shared.
  public static func processes(host: Int?, workload: Int?, ownPidNamespace: Bool?) -> IsolationVerdict {
    guard let host, let workload, let ownPidNamespace else { return .unknown }
    return ownPidNamespace && workload < host ? .isolated : .shared
  }

  /// no_new_privs and the number of seccomp filters: more on the workload's side is
  /// reduced, as many or fewer shared.
  public static func more(host: Int?, workload: Int?) -> IsolationVerdict {
    guard let host, let workload else { return .unknown }
    return workload > host ? .reduced : .shared
  }

  /// The uid and euid, the workload's as the host sees them (through its uid map):
  /// the same is shared; another (root no more) is reduced.
  public static func ids(host: (uid: Int, euid: Int)?, workloadOnHost: (uid: Int, euid: Int)?) -> IsolationVerdict {
    guard let host, let workloadOnHost else { return .unknown }
    return host == workloadOnHost ? .shared : .reduced
  }

  /// Limits by name (resource limits, soft and hard; cgroup limits), nil = unlimited.
  /// Any value lower on the workload's side is reduced; all equal is shared; only
  /// higher ones are shared too (the reason says "raised").
  public static func limits(host: [String: [UInt64?]]?, workload: [String: [UInt64?]]?) -> (
    verdict: IsolationVerdict, lower: [String], higher: [String]
  ) {
    guard let host, let workload else { return (.unknown, [], []) }
    var lower: [String] = []
    var higher: [String] = []
    for name in Set(host.keys).union(workload.keys).sorted() {
      let h = host[name] ?? []
      let w = workload[name] ?? []
      var isLower = false
      var isHigher = false
      for i in 0..<max(h.count, w.count) {
        let hv = i < h.count ? h[i] : nil
        let wv = i < w.count ? w[i] : nil
        if hv == wv { continue }
        // nil is unlimited: above every number.
        if let wv, hv == nil || wv < hv! { isLower = true } else { isHigher = true }
      }
      if isLower { lower.append(name) }
      if isHigher { higher.append(name) }
    }
    return (lower.isEmpty ? .shared : .reduced, lower, higher)
  }

  /// What the scorecard and `compare` count for a level, from the check rows: of
  /// those that compare (verdict not n/a), the ones denied (reduced) or confined to
  /// its own instance (isolated); and how many checks there are in all.
  public static func checkCounts(_ rows: [ComparisonRow]) -> (denied: Int, compared: Int, total: Int) {
    let checks = rows.filter { $0.property.hasPrefix("check: ") }
    let compared = checks.filter { $0.verdict != .unknown }
    return (compared.filter { $0.verdict == .reduced || $0.verdict == .isolated }.count, compared.count, checks.count)
  }
}
