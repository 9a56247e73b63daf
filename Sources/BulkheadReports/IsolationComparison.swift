/// How a property of the workload's view compares with the host's.
public enum IsolationVerdict: String, Sendable, Codable {
  /// A separate instance (a namespace of its own, a root of its own).
  case isolated
  /// The very same as the host's.
  case shared
  /// The same kind of thing with less power (fewer capabilities, a filter, denied).
  case reduced
  /// Not known from where it was read.
  case unknown = "n/a"
}

/// One row of the side-by-side view.
public struct ComparisonRow: Sendable, Codable, Equatable {
  public var property: String
  public var host: String
  public var workload: String
  public var verdict: IsolationVerdict
  public var reason: String?
}

/// Host versus workload, one row per property and per active check.
public enum IsolationComparison {
  public static func rows(host: InspectionReport, workload: InspectionReport) -> [ComparisonRow] {
    var rows: [ComparisonRow] = []
    func text<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "n/a" }

    for kind in ["pid", "mnt", "uts", "ipc", "net", "user", "cgroup", "time"] {
      let h = host.namespaces[kind]
      let w = workload.namespaces[kind]
      guard let h, let w else {
        rows.append(ComparisonRow(property: "\(kind) namespace", host: text(h), workload: text(w), verdict: .unknown))
        continue
      }
      let verdict = VerdictRules.identity(host: h, workload: w)
      let isolated = verdict == .isolated
      var reason: String? = nil
      switch kind {
      case "pid":
        if let pid = workload.pid, let seen = workload.visiblePIDs {
          reason = isolated ? "it is PID \(pid) and sees \(seen) process(es)" : "it sees the host's \(seen) processes"
        }
      case "uts":
        reason = workload.hostname.map { "hostname \($0)" }
      case "net":
        reason = workload.interfaces.map { $0.isEmpty ? "no interfaces" : "interfaces: " + $0.joined(separator: ", ") }
      case "mnt":
        if let fs = workload.rootFilesystem {
          reason = "root: \(fs)" + (workload.rootReadOnly == true ? ", read-only" : ", writable")
        }
      case "user":
        reason = workload.uidMap.map { "uid map: " + $0.joined(separator: "; ") }
      default:
        break
      }
      rows.append(
        ComparisonRow(
          property: "\(kind) namespace", host: "\(h)", workload: "\(w)", verdict: verdict,
          reason: reason))
    }

    rows.append(
      ComparisonRow(
        property: "processes in view", host: text(host.visiblePIDs), workload: text(workload.visiblePIDs),
        verdict: VerdictRules.processes(
          host: host.visiblePIDs, workload: workload.visiblePIDs,
          ownPidNamespace: host.namespaces["pid"].flatMap { h in workload.namespaces["pid"].map { $0 != h } })))
    rows.append(
      ComparisonRow(
        property: "hostname", host: text(host.hostname), workload: text(workload.hostname),
        verdict: VerdictRules.identity(host: host.namespaces["uts"], workload: workload.namespaces["uts"])))
    let ownUserNamespace =
      host.namespaces["user"].flatMap { h in workload.namespaces["user"].map { $0 != h } }
    let onHost = workload.idsOnHost(ownUserNamespace: ownUserNamespace)
    rows.append(
      ComparisonRow(
        property: "uid / euid", host: "\(text(host.uid)) / \(text(host.euid))",
        workload: "\(text(workload.uid)) / \(text(workload.euid))"
          + (ownUserNamespace == true ? onHost.map { " (\($0.uid) / \($0.euid) on the host)" } ?? " (unmapped)" : ""),
        verdict: VerdictRules.ids(
          host: host.uid.flatMap { u in host.euid.map { (u, $0) } }, workloadOnHost: onHost),
        reason: ownUserNamespace == true ? "mapped through its uid map" : nil))
    for (name, h, w) in [
      ("capabilities (effective)", host.capEff, workload.capEff), ("bounding set", host.capBnd, workload.capBnd),
      ("ambient set", host.capAmb, workload.capAmb),
    ] {
      let hm = InspectionReport.mask(h)
      let wm = InspectionReport.mask(w)
      rows.append(
        ComparisonRow(
          property: name, host: hm.map { "\($0.nonzeroBitCount) caps" } ?? "n/a",
          workload: wm.map { "\($0.nonzeroBitCount) caps" } ?? "n/a",
          verdict: VerdictRules.capabilities(host: hm, workload: wm, ownUserNamespace: ownUserNamespace),
          reason: w.map { "mask \($0)" + (ownUserNamespace == true ? ", over its own user namespace" : "") }))
    }
    rows.append(
      ComparisonRow(
        property: "no_new_privs", host: text(host.noNewPrivs), workload: text(workload.noNewPrivs),
        verdict: VerdictRules.more(host: host.noNewPrivs, workload: workload.noNewPrivs)))
    rows.append(
      ComparisonRow(
        property: "seccomp", host: seccompText(host), workload: seccompText(workload),
        verdict: VerdictRules.more(host: host.seccompFilters, workload: workload.seccompFilters)))
    // Compared as the host sees them: inside a cgroup namespace of its own, "/" may
    // well be the host's own cgroup.
    let hostCgroups = host.cgroupsOutside ?? host.cgroups
    let workloadCgroups =
      workload.cgroupsOutside
      ?? (workload.namespaces["cgroup"] != nil && workload.namespaces["cgroup"] == host.namespaces["cgroup"]
        ? workload.cgroups : nil)
    rows.append(
      ComparisonRow(
        property: "cgroup", host: hostCgroups.map { lastPath($0) } ?? "n/a",
        workload: workloadCgroups.map { lastPath($0) } ?? "n/a",
        verdict: VerdictRules.identity(host: hostCgroups, workload: workloadCgroups),
        reason: workloadCgroups == nil
          ? "its paths are relative to its own cgroup namespace"
          : workload.cgroupsOutside != nil ? "read from outside" : nil))
    let hostCgroup = cgroupLimitValues(host.cgroupLimits)
    let workloadCgroup = cgroupLimitValues(workload.cgroupLimits)
    let cgroupVerdict = VerdictRules.limits(host: hostCgroup, workload: workloadCgroup)
    rows.append(
      ComparisonRow(
        property: "cgroup limits", host: limitsText(hostCgroup), workload: limitsText(workloadCgroup),
        verdict: cgroupVerdict.verdict,
        reason: workload.cgroupLimits == nil
          ? "not read" : limitsReason(cgroupVerdict.lower, cgroupVerdict.higher, prefix: "read from outside")))
    let rlimitVerdict = VerdictRules.limits(host: host.rlimits, workload: workload.rlimits)
    let shownLimits =
      ["core", "nofile"]
      + (rlimitVerdict.lower + rlimitVerdict.higher).filter {
        $0 != "core" && $0 != "nofile"
      }
    rows.append(
      ComparisonRow(
        property: "rlimits (soft/hard)",
        host: rlimitText(host.rlimits, shownLimits), workload: rlimitText(workload.rlimits, shownLimits),
        verdict: rlimitVerdict.verdict, reason: limitsReason(rlimitVerdict.lower, rlimitVerdict.higher, prefix: nil)))
    rows.append(
      ComparisonRow(
        property: "mounts", host: text(host.mountCount), workload: text(workload.mountCount),
        verdict: VerdictRules.identity(host: host.namespaces["mnt"], workload: workload.namespaces["mnt"]),
        reason: workload.rootReadOnly.map { $0 ? "root read-only" : "root writable" }))
    rows.append(
      ComparisonRow(
        property: "open descriptors", host: host.openDescriptors.map { "\($0.count)" } ?? "n/a",
        workload: workload.openDescriptors.map { $0.map(String.init).joined(separator: " ") } ?? "n/a",
        verdict: VerdictRules.fewer(
          host: host.openDescriptors?.count, workload: workload.openDescriptors?.count, fewerIs: .reduced)))
    rows.append(
      ComparisonRow(
        property: "environment", host: host.environment.map { "\($0.count) names" } ?? "n/a",
        workload: workload.environment.map { "\($0.count) names" } ?? "n/a",
        verdict: VerdictRules.fewer(
          host: host.environment?.count, workload: workload.environment?.count, fewerIs: .reduced),
        reason: workload.environment.map { $0.joined(separator: " ") }))
    rows.append(hostPathRow(host: host, workload: workload))
    for check in host.checks ?? [] {
      guard let mine = workload.checks?.first(where: { $0.check == check.check }) else { continue }
      let rule = VerdictRules.check(
        host: .init(check.verdict), workload: .init(mine.verdict), reachesHost: reachesHost(mine.reach, host: host))
      let why = [mine.note, rule.why].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "; ")
      rows.append(
        ComparisonRow(
          property: "check: \(check.check)", host: checkText(check), workload: checkText(mine), verdict: rule.verdict,
          reason: why))
    }
    return rows
  }

  /// Whether what an allowed check reached ("net:INODE", "root:DEV:INO") is the
  /// host's: its network namespace, its root directory. nil when not known.
  static func reachesHost(_ reach: String?, host: InspectionReport) -> Bool? {
    guard let reach, let colon = reach.firstIndex(of: ":") else { return nil }
    let kind = reach[..<colon]
    let value = String(reach[reach.index(after: colon)...])
    switch kind {
    case "net": return host.namespaces["net"].map { "\($0)" == value }
    case "root": return host.root.map { $0 == value }
    default: return nil
    }
  }

  /// The cgroup limits compared and shown: memory (bytes), pids, cpu quota (us per
  /// period), each [value]; "max" or -1 is unlimited (nil).
  static func cgroupLimitValues(_ limits: [String: String]?) -> [String: [UInt64?]]? {
    guard let limits else { return nil }
    func number(_ text: String?) -> UInt64?? {
      guard let text else { return .none }
      if text == "max" || text == "-1" { return .some(nil) }
      guard let n = UInt64(text) else { return .none }
      return .some(n >= 1 << 60 ? nil : n)
    }
    var out: [String: [UInt64?]] = [:]
    if case .some(let m) = number(limits["memory.max"] ?? limits["memory.limit_in_bytes"]) { out["memory"] = [m] }
    if case .some(let p) = number(limits["pids.max"]) { out["pids"] = [p] }
    let quota = limits["cpu.max"].map { String($0.split(separator: " ").first ?? "") } ?? limits["cpu.cfs_quota_us"]
    if case .some(let q) = number(quota) { out["cpu"] = [q] }
    return out
  }

  static func limitsText(_ limits: [String: [UInt64?]]?) -> String {
    guard let limits else { return "n/a" }
    func show(_ name: String, _ unit: (UInt64) -> String) -> String {
      guard let pair = limits[name] else { return "-" }
      return pair.first.flatMap { $0 }.map(unit) ?? "max"
    }
    return
      "mem \(show("memory") { $0 % (1 << 20) == 0 ? "\($0 >> 20)M" : "\($0)" }), pids \(show("pids") { "\($0)" }), cpu \(show("cpu") { "\($0)us" })"
  }

  /// "lower: core; raised: nofile" for the limits that differ.
  static func limitsReason(_ lower: [String], _ higher: [String], prefix: String?) -> String? {
    var parts: [String] = prefix.map { [$0] } ?? []
    if !lower.isEmpty { parts.append("lower: " + lower.joined(separator: ", ")) }
    if !higher.isEmpty { parts.append("raised: " + higher.joined(separator: ", ")) }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
  }

  /// "core 0/unlimited, nofile 1024/4096": soft/hard of each named resource.
  static func rlimitText(_ limits: [String: [UInt64?]]?, _ names: [String]) -> String {
    guard let limits else { return "n/a" }
    func one(_ v: UInt64?) -> String { v.map { "\($0)" } ?? "unlimited" }
    return names.map { name in
      guard let pair = limits[name], pair.count == 2 else { return "\(name) -" }
      return "\(name) \(one(pair[0]))/\(one(pair[1]))"
    }.joined(separator: ", ")
  }

  static func seccompText(_ r: InspectionReport) -> String {
    guard let mode = r.seccomp else { return "n/a" }
    switch mode {
    case 0: return "off"
    case 1: return "strict"
    default: return "filter x\(r.seccompFilters ?? 0)"
    }
  }

  static func checkText(_ c: InspectionReport.Check) -> String {
    if let error = c.error, c.verdict != "allowed" { return "\(c.verdict) (\(error))" }
    if let signal = c.signal { return "\(c.verdict) (signal \(signal))" }
    return c.verdict
  }

  /// The deepest path of the cgroup lines ("4:memory:/a/b" -> "/a/b"), with how
  /// many other paths there are ("/a/b (+1)").
  static func lastPath(_ lines: [String]) -> String {
    let paths = Set(lines.compactMap { $0.split(separator: ":", maxSplits: 2).last.map(String.init) })
    guard let deepest = paths.max(by: { ($0.count, $0) < ($1.count, $1) }) else { return "none" }
    return paths.count == 1 ? deepest : "\(deepest) (+\(paths.count - 1))"
  }
}
