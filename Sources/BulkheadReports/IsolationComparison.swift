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
      let isolated = h != w
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
          property: "\(kind) namespace", host: "\(h)", workload: "\(w)", verdict: isolated ? .isolated : .shared,
          reason: reason))
    }

    rows.append(
      ComparisonRow(
        property: "processes in view", host: text(host.visiblePIDs), workload: text(workload.visiblePIDs),
        verdict: compare(host.visiblePIDs, workload.visiblePIDs, fewerIs: .isolated)))
    rows.append(
      ComparisonRow(
        property: "hostname", host: text(host.hostname), workload: text(workload.hostname),
        verdict: host.namespaces["uts"] == nil || workload.namespaces["uts"] == nil
          ? .unknown : (host.namespaces["uts"] == workload.namespaces["uts"] ? .shared : .isolated)))
    rows.append(
      ComparisonRow(
        property: "uid / euid", host: "\(text(host.uid)) / \(text(host.euid))",
        workload: "\(text(workload.uid)) / \(text(workload.euid))",
        verdict: host.euid == nil || workload.euid == nil
          ? .unknown : (host.uid == workload.uid && host.euid == workload.euid ? .shared : .reduced)))
    for (name, h, w) in [
      ("capabilities (effective)", host.capEff, workload.capEff), ("bounding set", host.capBnd, workload.capBnd),
      ("ambient set", host.capAmb, workload.capAmb),
    ] {
      let hm = InspectionReport.mask(h)
      let wm = InspectionReport.mask(w)
      var verdict = IsolationVerdict.unknown
      if let hm, let wm { verdict = hm == wm ? .shared : (wm & ~hm == 0 ? .reduced : .shared) }
      rows.append(
        ComparisonRow(
          property: name, host: hm.map { "\($0.nonzeroBitCount) caps" } ?? "n/a",
          workload: wm.map { "\($0.nonzeroBitCount) caps" } ?? "n/a", verdict: verdict,
          reason: w.map { "mask \($0)" }))
    }
    rows.append(
      ComparisonRow(
        property: "no_new_privs", host: text(host.noNewPrivs), workload: text(workload.noNewPrivs),
        verdict: host.noNewPrivs == nil || workload.noNewPrivs == nil
          ? .unknown : (workload.noNewPrivs ?? 0) > (host.noNewPrivs ?? 0) ? .reduced : .shared))
    rows.append(
      ComparisonRow(
        property: "seccomp", host: seccompText(host), workload: seccompText(workload),
        verdict: workload.seccompFilters == nil || host.seccompFilters == nil
          ? .unknown : (workload.seccompFilters ?? 0) > (host.seccompFilters ?? 0) ? .reduced : .shared))
    rows.append(
      ComparisonRow(
        property: "cgroup", host: host.cgroups.map { lastPath($0) } ?? "n/a",
        workload: workload.cgroups.map { lastPath($0) } ?? "n/a",
        verdict: host.cgroups == nil || workload.cgroups == nil
          ? .unknown : (host.cgroups == workload.cgroups ? .shared : .isolated)))
    rows.append(
      ComparisonRow(
        property: "cgroup limits", host: limitsText(host.cgroupLimits), workload: limitsText(workload.cgroupLimits),
        verdict: host.cgroupLimits == nil || workload.cgroupLimits == nil
          ? .unknown : (host.cgroupLimits == workload.cgroupLimits ? .shared : .reduced),
        reason: workload.cgroupLimits == nil ? "no cgroup filesystem in view" : nil))
    rows.append(
      ComparisonRow(
        property: "rlimit core / nofile",
        host: rlimitText(host.rlimits), workload: rlimitText(workload.rlimits),
        verdict: host.rlimits == nil || workload.rlimits == nil
          ? .unknown : (host.rlimits == workload.rlimits ? .shared : .reduced),
        reason: differingLimits(host.rlimits, workload.rlimits)))
    rows.append(
      ComparisonRow(
        property: "mounts", host: text(host.mountCount), workload: text(workload.mountCount),
        verdict: host.namespaces["mnt"] == workload.namespaces["mnt"] ? .shared : .isolated,
        reason: workload.rootReadOnly.map { $0 ? "root read-only" : "root writable" }))
    rows.append(
      ComparisonRow(
        property: "open descriptors", host: host.openDescriptors.map { "\($0.count)" } ?? "n/a",
        workload: workload.openDescriptors.map { $0.map(String.init).joined(separator: " ") } ?? "n/a",
        verdict: compare(host.openDescriptors?.count, workload.openDescriptors?.count, fewerIs: .reduced)))
    rows.append(
      ComparisonRow(
        property: "environment", host: host.environment.map { "\($0.count) names" } ?? "n/a",
        workload: workload.environment.map { "\($0.count) names" } ?? "n/a",
        verdict: compare(host.environment?.count, workload.environment?.count, fewerIs: .reduced),
        reason: workload.environment.map { $0.joined(separator: " ") }))
    rows.append(hostPathRow(host: host, workload: workload))
    for check in host.checks ?? [] {
      guard let mine = workload.checks?.first(where: { $0.check == check.check }) else { continue }
      let verdict: IsolationVerdict
      switch (check.verdict, mine.verdict) {
      case (let a, let b) where a == b: verdict = .shared
      case (_, "skipped"): verdict = .isolated
      case ("allowed", _): verdict = .reduced
      default: verdict = .shared
      }
      rows.append(
        ComparisonRow(
          property: "check: \(check.check)", host: checkText(check), workload: checkText(mine), verdict: verdict,
          reason: mine.note))
    }
    return rows
  }

  static func limitsText(_ limits: [String: String]?) -> String {
    guard let limits else { return "n/a" }
    let memory = limits["memory.limit_in_bytes"] ?? limits["memory.max"]
    let pids = limits["pids.max"]
    return
      "mem \(memory.flatMap { UInt64($0) }.map { $0 >= 1 << 60 ? "max" : "\($0 >> 20)M" } ?? memory ?? "-"), pids \(pids ?? "-")"
  }

  /// "differs: stack, nproc" for the resources whose limits differ.
  static func differingLimits(_ host: [String: [UInt64?]]?, _ workload: [String: [UInt64?]]?) -> String? {
    guard let host, let workload, host != workload else { return nil }
    let names = Set(host.keys).union(workload.keys).filter { host[$0] != workload[$0] }.sorted()
    return "differs: " + names.joined(separator: ", ")
  }

  static func rlimitText(_ limits: [String: [UInt64?]]?) -> String {
    guard let limits else { return "n/a" }
    func soft(_ name: String) -> String {
      guard let pair = limits[name], let first = pair.first else { return "-" }
      return first.map { "\($0)" } ?? "unlimited"
    }
    return "\(soft("core")) / \(soft("nofile"))"
  }

  static func compare(_ host: Int?, _ workload: Int?, fewerIs: IsolationVerdict) -> IsolationVerdict {
    guard let host, let workload else { return .unknown }
    return workload < host ? fewerIs : .shared
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

  /// The path of the first cgroup line ("4:memory:/a/b" -> "/a/b") with a count.
  static func lastPath(_ lines: [String]) -> String {
    let paths = Set(lines.compactMap { $0.split(separator: ":", maxSplits: 2).last.map(String.init) })
    return paths.count == 1 ? paths.first! : "\(paths.count) paths"
  }
}
