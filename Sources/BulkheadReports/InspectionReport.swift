import BulkheadSpec
import BulkheadSystem
import BulkheadWorkloads

#if canImport(Glibc)
  import Glibc
#endif
#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// What one workload (or the host) sees: the probe's `inspect` object
/// (schema `bulkhead.inspect/1`), or the same read from outside through /proc/PID.
/// Fields that cannot be known from where it was read are nil.
public struct InspectionReport: Sendable, Codable, Equatable {
  public struct Process: Sendable, Codable, Equatable {
    public var pid: Int
    public var name: String
  }

  public struct Check: Sendable, Codable, Equatable {
    public var check: String
    public var verdict: String
    public var errno: Int?
    public var error: String?
    public var signal: Int?
    public var note: String
    /// What an allowed attempt reached: "net:INODE" (a raw socket's network
    /// namespace), "root:DEV:INO" (the directory /proc/1/root opened), "dev:MAJ:MIN"
    /// (the block device opened after mknod); nil when nothing was reached.
    public var reach: String?

    public init(
      check: String, verdict: String, errno: Int? = nil, error: String? = nil, signal: Int? = nil, note: String,
      reach: String? = nil
    ) {
      self.check = check
      self.verdict = verdict
      self.errno = errno
      self.error = error
      self.signal = signal
      self.note = note
      self.reach = reach
    }
  }

  public var level: String?
  public var pid: Int?
  public var ppid: Int?
  public var uid: Int?
  public var euid: Int?
  public var gid: Int?
  public var egid: Int?
  public var hostname: String?
  /// Its root directory as "DEV:INO" (stat of "/", or of /proc/PID/root from outside).
  public var root: String?
  public var namespaces: [String: UInt64]
  public var visiblePIDs: Int?
  public var firstProcesses: [Process]?
  public var capInh: String?
  public var capPrm: String?
  public var capEff: String?
  public var capBnd: String?
  public var capAmb: String?
  public var noNewPrivs: Int?
  public var seccomp: Int?
  public var seccompFilters: Int?
  public var uidMap: [String]?
  public var gidMap: [String]?
  public var cgroups: [String]?
  /// Its /proc/PID/cgroup as the supervisor reads it from outside (paths in the
  /// host's cgroup namespace); nil when only the inside view is known.
  public var cgroupsOutside: [String]?
  public var mountCount: Int?
  public var rootFilesystem: String?
  public var rootReadOnly: Bool?
  public var openDescriptors: [Int]?
  public var environment: [String]?
  public var interfaces: [String]?
  public var rlimitNofile: [UInt64?]?
  /// The five sets by name: inheritable, permitted, effective, bounding, ambient.
  public var capabilities: [String: [String]]?
  /// The limit files of its cgroups that it can read (none without a cgroupfs).
  public var cgroupLimits: [String: String]?
  /// Soft and hard limit per resource; nil is unlimited.
  public var rlimits: [String: [UInt64?]]?
  public var checks: [Check]?
  /// Path -> "DEV:INO ro|rw" or "absent" (`Inspection.hostPathProbes`).
  public var hostPaths: [String: String]?

  enum CodingKeys: String, CodingKey {
    case level, pid, ppid, uid, euid, gid, egid, hostname, root, namespaces, visiblePIDs, firstProcesses
    case capInh, capPrm, capEff, capBnd, capAmb, noNewPrivs, seccomp
    case seccompFilters = "seccomp_filters"
    case uidMap, gidMap, cgroups, cgroupsOutside, mountCount, rootFilesystem, rootReadOnly, openDescriptors, environment
    case interfaces, rlimitNofile, capabilities, cgroupLimits, rlimits, checks, hostPaths
  }

  /// Parses the probe's JSON.
  public static func parse(_ text: String) throws(BulkheadError) -> InspectionReport {
    do {
      return try JSONDecoder().decode(InspectionReport.self, from: Data(text.utf8))
    } catch {
      throw BulkheadError(
        code: .setupFailed, step: "inspect", value: String(text.prefix(80)),
        reason: "the probe's output is not an inspect report: \(error)")
    }
  }

  /// Its uid and euid as the host sees them: the same in the host's user
  /// namespace, else mapped through its uid map ("INSIDE OUTSIDE COUNT" lines);
  /// nil when unknown or not mapped.
  public func idsOnHost(ownUserNamespace: Bool?) -> (uid: Int, euid: Int)? {
    guard let uid, let euid, let ownUserNamespace else { return nil }
    if !ownUserNamespace { return (uid, euid) }
    func mapped(_ id: Int) -> Int? {
      for line in uidMap ?? [] {
        let f = line.split(separator: " ").compactMap { Int($0) }
        if f.count == 3, id >= f[0], id - f[0] < f[2] { return f[1] + id - f[0] }
      }
      return nil
    }
    guard let u = mapped(uid), let e = mapped(euid) else { return nil }
    return (u, e)
  }

  /// A capability mask as a number (from the hex text of /proc/PID/status).
  public static func mask(_ hex: String?) -> UInt64? { hex.flatMap { UInt64($0, radix: 16) } }

  /// The same view of an existing process, read from outside through /proc/PID
  /// (namespaces, ids, capabilities, no_new_privs, seccomp, cgroups, mounts,
  /// descriptors, environment names). What only the inside can see is nil.
  public static func read(pid: Int32) throws(BulkheadError) -> InspectionReport {
    guard let status = readTextFile("/proc/\(pid)/status") else {
      throw BulkheadError(
        code: .setupFailed, step: "--pid", value: "\(pid)", reason: "no such process (or /proc is not readable)",
        errno: ENOENT, hint: "give the pid of a running process, e.g. from pgrep")
    }
    func field(_ key: String) -> String? {
      for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
        return String(line.dropFirst(key.count + 1).trimmingPrefix(while: { $0 == " " || $0 == "\t" }))
      }
      return nil
    }
    func ids(_ key: String) -> [Int] {
      (field(key) ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { Int($0) }
    }
    var namespaces: [String: UInt64] = [:]
    for kind in NamespaceKind.allCases { if let id = kind.inode(of: pid) { namespaces[kind.rawValue] = id } }
    let lines = { (path: String) in (readTextFile(path) ?? "").split(separator: "\n").map(String.init) }
    let environ = (readTextFile("/proc/\(pid)/environ") ?? "").split(separator: "\0").map {
      String($0.prefix { $0 != "=" })
    }
    let fds = listDirectory("/proc/\(pid)/fd").compactMap { Int($0) }.sorted()
    let mounts = lines("/proc/\(pid)/mounts")
    let root = mounts.last { $0.split(separator: " ").dropFirst().first == "/" }?.split(separator: " ")
    return InspectionReport(
      level: nil, pid: Int(pid), ppid: Int(field("PPid") ?? ""), uid: ids("Uid").first,
      euid: ids("Uid").dropFirst().first,
      gid: ids("Gid").first, egid: ids("Gid").dropFirst().first, hostname: nil,
      root: rootIdentity("/proc/\(pid)/root/"), namespaces: namespaces,
      visiblePIDs: nil, firstProcesses: nil, capInh: field("CapInh"), capPrm: field("CapPrm"), capEff: field("CapEff"),
      capBnd: field("CapBnd"), capAmb: field("CapAmb"), noNewPrivs: Int(field("NoNewPrivs") ?? ""),
      seccomp: Int(field("Seccomp") ?? ""), seccompFilters: Int(field("Seccomp_filters") ?? ""),
      uidMap: lines("/proc/\(pid)/uid_map").map { $0.split(separator: " ").joined(separator: " ") },
      gidMap: lines("/proc/\(pid)/gid_map").map { $0.split(separator: " ").joined(separator: " ") },
      cgroups: lines("/proc/\(pid)/cgroup"), cgroupsOutside: lines("/proc/\(pid)/cgroup"), mountCount: mounts.count,
      rootFilesystem: root.flatMap { $0.count > 2 ? String($0[2]) : nil },
      rootReadOnly: root.map { $0.count > 3 && $0[3].split(separator: ",").contains("ro") },
      openDescriptors: fds, environment: environ.isEmpty ? nil : environ, interfaces: nil, rlimitNofile: nil,
      capabilities: Dictionary(
        uniqueKeysWithValues: [
          ("inheritable", "CapInh"), ("permitted", "CapPrm"), ("effective", "CapEff"), ("bounding", "CapBnd"),
          ("ambient", "CapAmb"),
        ].map { ($0.0, CapabilityNames.names(hexMask: field($0.1) ?? "")) }),
      cgroupLimits: InspectRunner.cgroupLimits(pid: pid),
      rlimits: rlimits(limitsFile: readTextFile("/proc/\(pid)/limits")),
      checks: nil)
  }

  /// Soft and hard limits by resource name (as in the probe's `rlimits`) from the
  /// text of /proc/PID/limits; nil when it cannot be read.
  public static func rlimits(limitsFile text: String?) -> [String: [UInt64?]]? {
    guard let text else { return nil }
    let names = [
      "Max address space": "as", "Max core file size": "core", "Max cpu time": "cpu", "Max data size": "data",
      "Max file size": "fsize", "Max locked memory": "memlock", "Max open files": "nofile",
      "Max processes": "nproc", "Max stack size": "stack",
    ]
    var out: [String: [UInt64?]] = [:]
    for line in text.split(separator: "\n") {
      guard let (label, name) = names.first(where: { line.hasPrefix($0.key + " ") }) else { continue }
      let values = line.dropFirst(label.count).split(separator: " ").prefix(2)
      guard values.count == 2 else { continue }
      out[name] = values.map { $0 == "unlimited" ? nil : UInt64($0) }
    }
    return out
  }
}

/// "DEV:INO" of a directory (followed through symlinks), nil when it cannot be stat'ed.
public func rootIdentity(_ path: String) -> String? {
  var st = stat()
  guard stat(path, &st) == 0 else { return nil }
  return "\(st.st_dev):\(st.st_ino)"
}
