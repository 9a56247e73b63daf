extension IsolationComparison {
  /// "host paths in view": which of the probed host paths the workload sees as the
  /// host's very own file (same device and inode), read-only or writable. A copy (the
  /// host view's /etc files) or an overlay is another file and does not count: writes
  /// to it cannot reach the host. Verdict: isolated when none is the host's, reduced
  /// when some are but none writable, shared when one is writable.
  /// Always one row (n/a when either side did not report), so scorecard columns line up.
  public static func hostPathRow(host: InspectionReport, workload: InspectionReport) -> ComparisonRow {
    guard let hostPaths = host.hostPaths, let mine = workload.hostPaths else {
      return ComparisonRow(
        property: "host paths in view", host: host.hostPaths == nil ? "n/a" : "\(host.hostPaths!.count) probed",
        workload: "n/a", verdict: .unknown, reason: "not reported (read from /proc, or an older probe)")
    }
    func identity(_ value: String?) -> (id: String, writable: Bool)? {
      guard let value, value != "absent" else { return nil }
      let parts = value.split(separator: " ")
      return (String(parts.first ?? ""), parts.last == "rw")
    }
    var readOnly: [String] = []
    var writable: [String] = []
    var other: [String] = []
    for path in hostPaths.keys.sorted() {
      guard let outside = identity(hostPaths[path]) else { continue }
      if let inside = identity(mine[path]), inside.id == outside.id {
        if inside.writable { writable.append(path) } else { readOnly.append(path) }
      } else {
        other.append(path)
      }
    }
    let seen = [
      readOnly.isEmpty ? nil : "ro " + readOnly.joined(separator: " "),
      writable.isEmpty ? nil : "rw " + writable.joined(separator: " "),
    ].compactMap { $0 }
    return ComparisonRow(
      property: "host paths in view", host: "\(readOnly.count + writable.count + other.count) probed",
      workload: seen.isEmpty ? "none" : seen.joined(separator: "; "),
      verdict: !writable.isEmpty ? .shared : (readOnly.isEmpty ? .isolated : .reduced),
      reason: other.isEmpty ? nil : "absent or not the host's: " + other.joined(separator: " "))
  }
}
