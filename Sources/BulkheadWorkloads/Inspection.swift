#if canImport(Glibc)
  import Glibc
#endif

/// What a workload sees of its surroundings, read from inside: the `inspect`
/// workload's JSON object. Every value is read at the moment of the call.
public struct Inspection: Sendable {
  public var fields: [(String, String)] = []  // key, JSON value

  /// Reads everything from /proc/self and friends; `checks` adds the active checks.
  public static func current(level: String, checks: Bool = true) -> Inspection {
    var i = Inspection()
    i.add("schema", jsonString("bulkhead.inspect/1"))
    i.add("level", jsonString(level))
    i.add("pid", "\(getpid())")
    i.add("ppid", "\(getppid())")
    i.add("uid", "\(getuid())")
    i.add("euid", "\(geteuid())")
    i.add("gid", "\(getgid())")
    i.add("egid", "\(getegid())")
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, 255)
    i.add("hostname", jsonString(cString(name)))
    var rootStat = stat()
    if stat("/", &rootStat) == 0 { i.add("root", jsonString("\(rootStat.st_dev):\(rootStat.st_ino)")) }
    var ns: [String] = []
    for kind in ["pid", "mnt", "uts", "ipc", "net", "user", "cgroup", "time"] {
      if let link = readLinkText("/proc/self/ns/\(kind)"), let open = link.firstIndex(of: "["),
        let close = link.lastIndex(of: "]")
      {
        ns.append("\(jsonString(kind)):\(link[link.index(after: open)..<close])")
      }
    }
    i.add("namespaces", "{" + ns.joined(separator: ",") + "}")
    let pids = visiblePIDs()
    i.add("visiblePIDs", "\(pids.count)")
    i.add(
      "firstProcesses",
      "[" + pids.prefix(8).map { "{\"pid\":\($0),\"name\":\(jsonString(processName($0)))}" }.joined(separator: ",")
        + "]")
    let status = readText("/proc/self/status") ?? ""
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters"] {
      if let value = statusField(status, key) {
        i.add(
          key.prefix(1).lowercased() + key.dropFirst(),
          Int(value) != nil && !key.hasPrefix("Cap") ? value : jsonString(value))
      }
    }
    var sets: [String] = []
    for (key, name) in [
      ("CapInh", "inheritable"), ("CapPrm", "permitted"), ("CapEff", "effective"), ("CapBnd", "bounding"),
      ("CapAmb", "ambient"),
    ] {
      let names = statusField(status, key).map { CapabilityNames.names(hexMask: $0) } ?? []
      sets.append("\(jsonString(name)):[" + names.map(jsonString).joined(separator: ",") + "]")
    }
    i.add("capabilities", "{" + sets.joined(separator: ",") + "}")
    for (key, file) in [("uidMap", "uid_map"), ("gidMap", "gid_map"), ("setgroups", "setgroups")] {
      let text = (readText("/proc/self/\(file)") ?? "").split(separator: "\n").map {
        $0.split(separator: " ").joined(separator: " ")
      }
      i.add(key, "[" + text.map { jsonString($0) }.joined(separator: ",") + "]")
    }
    let cgroupLines = (readText("/proc/self/cgroup") ?? "").split(separator: "\n").map(String.init)
    i.add("cgroups", "[" + cgroupLines.map(jsonString).joined(separator: ",") + "]")
    i.add("cgroupLimits", cgroupLimitsJSON(cgroupLimits(cgroupLines)))
    let mounts = (readText("/proc/self/mounts") ?? "").split(separator: "\n")
    i.add("mountCount", "\(mounts.count)")
    if let root = mounts.last(where: { $0.split(separator: " ").dropFirst().first == "/" }) {
      let parts = root.split(separator: " ")
      i.add("rootFilesystem", jsonString(parts.count > 2 ? String(parts[2]) : ""))
      let options = parts.count > 3 ? parts[3].split(separator: ",") : []
      i.add("rootReadOnly", options.contains("ro") ? "true" : "false")
    }
    i.add(
      "mounts",
      "["
        + mounts.map { line -> String in
          let p = line.split(separator: " ")
          return jsonString(p.count > 2 ? "\(p[1]) \(p[2])" : String(line))
        }.joined(separator: ",") + "]")
    i.add("hostPaths", Self.hostPaths())
    i.add("openDescriptors", "[" + openDescriptors().map(String.init).joined(separator: ",") + "]")
    var names: [String] = []
    var p = environ
    while let entry = p.pointee {
      let text = String(cString: entry)
      names.append(String(text.prefix { $0 != "=" }))
      p += 1
    }
    i.add("environment", "[" + names.map(jsonString).joined(separator: ",") + "]")
    i.add("interfaces", "[" + interfaces().map(jsonString).joined(separator: ",") + "]")
    var nofile = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &nofile)
    i.add("rlimitNofile", "[\(limitText(nofile.rlim_cur)),\(limitText(nofile.rlim_max))]")
    // as, core, cpu, data, fsize, memlock, nofile, nproc, stack (numbers as on x86_64 and aarch64)
    let resources: [(String, Int32)] = [
      ("as", 9), ("core", 4), ("cpu", 0), ("data", 2), ("fsize", 1), ("memlock", 8), ("nofile", 7), ("nproc", 6),
      ("stack", 3),
    ]
    var limits: [String] = []
    for (name, resource) in resources {
      var l = rlimit()
      getrlimit(__rlimit_resource_t(UInt32(resource)), &l)
      limits.append("\(jsonString(name)):[\(limitText(l.rlim_cur)),\(limitText(l.rlim_max))]")
    }
    i.add("rlimits", "{" + limits.joined(separator: ",") + "}")
    if checks {
      i.add("checks", "[" + ActiveChecks.runAll().map(\.json).joined(separator: ",") + "]")
    }
    return i
  }

  mutating func add(_ key: String, _ json: String) { fields.append((key, json)) }

  /// One JSON object, one line.
  public var json: String {
    "{" + fields.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}"
  }

  /// `cgroupLimits` as a JSON object, null when none could be read.
  public static func cgroupLimitsJSON(_ limits: [(String, String)]) -> String {
    limits.isEmpty
      ? "null" : "{" + limits.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
  }

  /// The memory, pids and cpu limit files of the cgroups that `lines` (a
  /// /proc/PID/cgroup) name, read where a cgroup filesystem is mounted in this
  /// process's view: from inside a container without /sys, none; from outside (the
  /// supervisor reading /proc/PID/cgroup of a workload), the workload's own.
  public static func cgroupLimits(_ lines: [String]) -> [(String, String)] {
    var out: [(String, String)] = []
    func value(_ path: String) -> String? {
      (readText(path)?.split(separator: "\n").first).map { String($0) }
    }
    for line in lines {
      let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard f.count == 3 else { continue }
      let path = f[2] == "/" ? "" : String(f[2])
      if f[0] == "0" && f[1].isEmpty {
        for (key, file) in [("memory.max", "memory.max"), ("pids.max", "pids.max"), ("cpu.max", "cpu.max")] {
          if let v = value("/sys/fs/cgroup\(path)/\(file)") { out.append((key, v)) }
        }
      }
      for controller in f[1].split(separator: ",") {
        let files: [String] =
          switch controller {
          case "memory": ["memory.limit_in_bytes"]
          case "pids": ["pids.max"]
          case "cpu": ["cpu.cfs_quota_us", "cpu.cfs_period_us"]
          default: []
          }
        for file in files {
          if let v = value("/sys/fs/cgroup/\(controller)\(path)/\(file)") { out.append((file, v)) }
        }
      }
    }
    return out
  }

  static func limitText(_ v: rlim_t) -> String { v == rlim_t.max ? "null" : "\(v)" }

  static func visiblePIDs() -> [Int32] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var pids: [Int32] = []
    while let entry = readdir(dir) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if let pid = Int32(name) { pids.append(pid) }
    }
    return pids.sorted()
  }

  static func processName(_ pid: Int32) -> String {
    (readText("/proc/\(pid)/comm") ?? "?").split(separator: "\n").first.map(String.init) ?? "?"
  }

  static func openDescriptors() -> [Int32] {
    guard let dir = opendir("/proc/self/fd") else { return [] }
    let own = dirfd(dir)
    var fds: [Int32] = []
    while let entry = readdir(dir) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if let fd = Int32(name), fd != own { fds.append(fd) }
    }
    closedir(dir)
    return fds.sorted()
  }

  /// Interface names with UP/DOWN, from /proc/net/dev and SIOCGIFFLAGS.
  static func interfaces() -> [String] {
    let lines = (readText("/proc/net/dev") ?? "").split(separator: "\n").dropFirst(2)
    return lines.compactMap { line in
      guard let colon = line.firstIndex(of: ":") else { return nil }
      let name = line[..<colon].trimmingCharacters(in: " ")
      return "\(name) \(interfaceIsUp(name) ? "UP" : "DOWN")"
    }
  }

  static func interfaceIsUp(_ name: String) -> Bool {
    let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard s >= 0 else { return false }
    defer { close(s) }
    var request = ifreq()
    withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { buffer in
      for (i, byte) in name.utf8.prefix(15).enumerated() { buffer[i] = byte }
    }
    guard ioctl(s, UInt(SIOCGIFFLAGS), &request) == 0 else { return false }
    return Int32(request.ifr_ifru.ifru_flags) & Int32(IFF_UP) != 0
  }
}

func statusField(_ status: String, _ key: String) -> String? {
  for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
    return line.dropFirst(key.count + 1).trimmingCharacters(in: " \t")
  }
  return nil
}

func cString(_ buffer: [CChar]) -> String {
  let length = buffer.firstIndex(of: 0) ?? buffer.count
  return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The whole file as text; nil when it cannot be read.
public func readText(_ path: String) -> String? {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var out: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 16384)
  while true {
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { break }
    out.append(contentsOf: buffer[0..<n])
  }
  return String(decoding: out, as: UTF8.self)
}

func readLinkText(_ path: String) -> String? {
  var buffer = [CChar](repeating: 0, count: 4096)
  let n = readlink(path, &buffer, buffer.count - 1)
  guard n >= 0 else { return nil }
  return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Substring {
  func trimmingCharacters(in set: String) -> String {
    var s = self
    while let f = s.first, set.contains(f) { s = s.dropFirst() }
    while let l = s.last, set.contains(l) { s = s.dropLast() }
    return String(s)
  }
}
