import BulkheadSpec
import BulkheadSystem
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A container's cgroup at `linux.cgroupsPath`: on v1 one directory per controller
/// (memory, pids, cpu, cpuacct, devices, freezer), on v2 one directory. The
/// directories Bulkhead made are recorded in the state, so `delete` (or the sweep
/// of a killed `create`) removes exactly those.
enum OCICgroup {
  static let controllers = ["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer"]

  /// runc's default allow-list, added after the config's rules: the default
  /// devices, ptys, and mknod of anything (opening needs the rules above).
  static let defaultRules = [
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm",
    "c 5:2 rwm", "c 136:* rwm",
  ]

  /// controller -> mount point (v1), or "" -> the unified mount when the host is pure v2.
  static func mounts() -> [String: String] {
    var out: [String: String] = [:]
    var unified: String?
    for line in (readTextFile("/proc/self/mountinfo") ?? "").split(separator: "\n") {
      let halves = String(line).components(separatedBy: " - ")
      guard halves.count == 2 else { continue }
      let left = halves[0].split(separator: " ")
      let right = halves[1].split(separator: " ")
      guard left.count >= 5, right.count >= 3 else { continue }
      if right[0] == "cgroup2" { unified = String(left[4]) }
      if right[0] == "cgroup" {
        for option in right[2].split(separator: ",") where controllers.contains(String(option)) {
          out[String(option)] = String(left[4])
        }
      }
    }
    if out.isEmpty, let unified { return ["": unified] }
    return out
  }

  /// The directories for `cgroupsPath` (absolute: from each hierarchy's root;
  /// relative: below bulkhead's own cgroup; empty: /bulkhead/ID).
  static func directories(cgroupsPath: String, id: String) -> [String: String] {
    var own: [String: String] = [:]
    for line in (readTextFile("/proc/self/cgroup") ?? "").split(separator: "\n") {
      let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard f.count == 3 else { continue }
      if f[1].isEmpty { own[""] = String(f[2]) }
      for c in f[1].split(separator: ",") { own[String(c)] = String(f[2]) }
    }
    let path = cgroupsPath.isEmpty ? "/bulkhead/\(id)" : cgroupsPath
    var out: [String: String] = [:]
    for (controller, mount) in mounts() {
      if path.hasPrefix("/") {
        out[controller] = mount + path
      } else {
        let base = own[controller] ?? "/"
        out[controller] = mount + (base == "/" ? "" : base) + "/" + path
      }
    }
    return out
  }

  /// Makes the directories (recording each one made in `created` first, so a kill
  /// at any moment leaves a record) and applies the resources.
  static func create(
    _ dirs: [String: String], resources r: OCIResources, record: ([String]) throws(OCIError) -> Void
  ) throws(OCIError) -> [String] {
    var created: [String] = []
    var planned: [String] = []
    for (_, dir) in dirs.sorted(by: { $0.key < $1.key }) {
      var missing: [String] = []
      var p = dir
      while !p.isEmpty && access(p, F_OK) != 0 {
        missing.append(p)
        p = String(p[..<(p.lastIndex(of: "/") ?? p.startIndex)])
      }
      planned += missing
    }
    try record(planned)
    for (_, dir) in dirs.sorted(by: { $0.key < $1.key }) {
      var missing: [String] = []
      var p = dir
      while !p.isEmpty && access(p, F_OK) != 0 {
        missing.append(p)
        p = String(p[..<(p.lastIndex(of: "/") ?? p.startIndex)])
      }
      for m in missing.reversed() {
        if mkdir(m, 0o755) != 0 && errno != EEXIST {
          let err = errno
          remove(created)
          throw OCIError("cgroup: mkdir \(m): \(BulkheadError.describe(errno: err).lowercased())")
        }
        created.append(m)
        // A new v1 cpuset group starts with no CPUs and no memory nodes (a task
        // could not join it): copy its parent's, as runc does.
        if access(m + "/cpuset.cpus", F_OK) == 0 {
          let parent = String(m[..<(m.lastIndex(of: "/") ?? m.startIndex)])
          for file in ["cpuset.cpus", "cpuset.mems"] {
            let value = (readTextFile(parent + "/" + file) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            do { try write(value, m + "/" + file, field: "cgroup (cpuset)") } catch {
              remove(created)
              throw error
            }
          }
        }
      }
    }
    do throws(OCIError) {
      try apply(dirs, r)
    } catch {
      remove(created)
      throw error
    }
    return created
  }

  static func write(_ text: String, _ path: String, field: String) throws(OCIError) {
    do { try CgroupFiles.write(text, to: path, step: field) } catch {
      throw OCIError(
        "\(field): write \(text) to \(path): \((error.errno.map { BulkheadError.describe(errno: $0) } ?? error.reason).lowercased())"
      )
    }
  }

  static func apply(_ dirs: [String: String], _ r: OCIResources) throws(OCIError) {
    let m = "linux.resources.memory"
    if let v2 = dirs[""] {
      if let limit = r.memoryLimit {
        try write(limit < 0 ? "max" : "\(limit)", v2 + "/memory.max", field: m + ".limit")
      }
      if let pids = r.pidsLimit {
        try write(pids <= 0 ? "max" : "\(pids)", v2 + "/pids.max", field: "linux.resources.pids.limit")
      }
      if r.cpuQuota != nil || r.cpuPeriod != nil {
        let q = r.cpuQuota.map { $0 <= 0 ? "max" : "\($0)" } ?? "max"
        try write("\(q) \(r.cpuPeriod ?? 100_000)", v2 + "/cpu.max", field: "linux.resources.cpu.quota")
      }
      if let cpus = r.cpus { try write(cpus, v2 + "/cpuset.cpus", field: "linux.resources.cpu.cpus") }
      if let mems = r.mems { try write(mems, v2 + "/cpuset.mems", field: "linux.resources.cpu.mems") }
      if let idle = r.cpuIdle { try write("\(idle)", v2 + "/cpu.idle", field: "linux.resources.cpu.idle") }
      if r.memorySwap != nil || r.memoryReservation != nil || r.cpuShares != nil || r.memoryKernel != nil
        || r.memoryKernelTCP != nil || r.memorySwappiness != nil || r.disableOOMKiller == true
        || r.realtimeRuntime != nil || r.realtimePeriod != nil || r.cpuBurst != nil
        || r.devices.contains(where: { $0.allow == false && $0.line != "a" } as (DeviceRule) -> Bool)
      {
        throw OCIError(
          "config.json: linux.resources: swap, reservation, kernel memory, swappiness, disableOOMKiller, shares, realtime, burst and device rules need cgroup v1 in bulkhead"
        )
      }
      return
    }
    guard let mem = dirs["memory"], let pids = dirs["pids"], let cpu = dirs["cpu"], let dev = dirs["devices"] else {
      throw OCIError("cgroup: the v1 memory, pids, cpu and devices hierarchies are needed")
    }
    if let limit = r.memoryLimit { try write("\(limit)", mem + "/memory.limit_in_bytes", field: m + ".limit") }
    if let reservation = r.memoryReservation {
      try write("\(reservation)", mem + "/memory.soft_limit_in_bytes", field: m + ".reservation")
    }
    if let swap = r.memorySwap, swap != 0 {
      guard access(mem + "/memory.memsw.limit_in_bytes", W_OK) == 0 else {
        throw OCIError("config.json: \(m).swap: swap accounting is off on this kernel")
      }
      try write("\(swap)", mem + "/memory.memsw.limit_in_bytes", field: m + ".swap")
    }
    if let kernel = r.memoryKernel {
      // Linux 5.16 and later accept the write and ignore it, and runtime-spec 1.1
      // deprecates the field: read it back, and say so when it is not enforced.
      try write("\(kernel)", mem + "/memory.kmem.limit_in_bytes", field: m + ".kernel")
      let now = Int64(
        (readTextFile(mem + "/memory.kmem.limit_in_bytes") ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
      if kernel > 0, let now, abs(now - kernel) >= 4096 {
        FileHandle.standardError.write(
          Data(
            "bulkhead: warning: \(m).kernel: not enforced (this kernel ignores cgroup v1 kernel-memory limits since 5.16; the field is deprecated)\n"
              .utf8))
      }
    }
    if let tcp = r.memoryKernelTCP {
      try write("\(tcp)", mem + "/memory.kmem.tcp.limit_in_bytes", field: m + ".kernelTCP")
    }
    if let swappiness = r.memorySwappiness {
      try write("\(swappiness)", mem + "/memory.swappiness", field: m + ".swappiness")
    }
    if let off = r.disableOOMKiller {
      try write(off ? "1" : "0", mem + "/memory.oom_control", field: m + ".disableOOMKiller")
    }
    if let hierarchy = r.useHierarchy {
      try write(hierarchy ? "1" : "0", mem + "/memory.use_hierarchy", field: m + ".useHierarchy")
    }
    if let limit = r.pidsLimit {
      try write(limit <= 0 ? "max" : "\(limit)", pids + "/pids.max", field: "linux.resources.pids.limit")
    }
    let c = "linux.resources.cpu"
    if r.cpus != nil || r.mems != nil {
      guard let set = dirs["cpuset"] else { throw OCIError("config.json: \(c).cpus: no cpuset hierarchy is mounted") }
      if let cpus = r.cpus { try write(cpus, set + "/cpuset.cpus", field: c + ".cpus") }
      if let mems = r.mems { try write(mems, set + "/cpuset.mems", field: c + ".mems") }
    }
    // The realtime period first: the runtime must fit in it.
    if let period = r.realtimePeriod { try write("\(period)", cpu + "/cpu.rt_period_us", field: c + ".realtimePeriod") }
    if let runtime = r.realtimeRuntime {
      try write("\(runtime)", cpu + "/cpu.rt_runtime_us", field: c + ".realtimeRuntime")
    }
    if let burst = r.cpuBurst { try write("\(burst)", cpu + "/cpu.cfs_burst_us", field: c + ".burst") }
    if let idle = r.cpuIdle { try write("\(idle)", cpu + "/cpu.idle", field: c + ".idle") }
    if let shares = r.cpuShares { try write("\(shares)", cpu + "/cpu.shares", field: "linux.resources.cpu.shares") }
    if let period = r.cpuPeriod {
      try write("\(period)", cpu + "/cpu.cfs_period_us", field: "linux.resources.cpu.period")
    }
    if let quota = r.cpuQuota { try write("\(quota)", cpu + "/cpu.cfs_quota_us", field: "linux.resources.cpu.quota") }
    // The devices allow-list, in order, then the defaults the container needs.
    for rule in r.devices {
      try write(rule.line, dev + (rule.allow ? "/devices.allow" : "/devices.deny"), field: "linux.resources.devices")
    }
    if !r.devices.isEmpty {
      for rule in defaultRules { try write(rule, dev + "/devices.allow", field: "linux.resources.devices (defaults)") }
    }
  }

  static func attach(_ dirs: [String: String], pid: Int32) throws(OCIError) {
    for (_, dir) in dirs.sorted(by: { $0.key < $1.key }) {
      try write("\(pid)", dir + "/cgroup.procs", field: "cgroup")
    }
  }

  /// Every process of the container's cgroup (the first hierarchy that lists any).
  /// Whether the freezer holds the container: v1 `freezer.state` FROZEN, v2
  /// `cgroup.events` "frozen 1".
  static func frozen(_ dirs: [String: String]) -> Bool {
    if let dir = dirs["freezer"] {
      return readTextFile(dir + "/freezer.state")?.hasPrefix("FROZEN") == true
    }
    if let dir = dirs[""] {
      return (readTextFile(dir + "/cgroup.events") ?? "").split(separator: "\n").contains("frozen 1")
    }
    return false
  }

  /// Whether a v1 freeze is under way (FREEZING: some task has not stopped yet).
  static func freezing(_ dirs: [String: String]) -> Bool {
    guard let dir = dirs["freezer"] else {
      return dirs[""].flatMap { readTextFile($0 + "/cgroup.freeze") }?.hasPrefix("1") == true
    }
    return readTextFile(dir + "/freezer.state")?.hasPrefix("FREEZING") == true
  }

  /// Freezes or thaws the container and waits (up to 2 s) until the kernel says so:
  /// v1 FREEZING becomes FROZEN once every task stopped; v2 reports it in cgroup.events.
  static func freeze(_ dirs: [String: String], _ on: Bool) throws(OCIError) {
    let file: String
    let value: String
    if let dir = dirs["freezer"] {
      file = dir + "/freezer.state"
      value = on ? "FROZEN" : "THAWED"
    } else if let dir = dirs[""] {
      file = dir + "/cgroup.freeze"
      value = on ? "1" : "0"
    } else {
      throw OCIError("no freezer for this container (neither the v1 freezer nor cgroup v2)")
    }
    try write(value, file, field: on ? "pause" : "resume")
    for _ in 0..<200 {
      if frozen(dirs) == on { return }
      usleep(10_000)
    }
    // Not left half frozen: a pause that did not settle is undone.
    if on { try? write(dirs["freezer"] != nil ? "THAWED" : "0", file, field: "pause (undo)") }
    throw OCIError("\(on ? "pause" : "resume"): the freezer did not settle within 2 s")
  }

  static func members(_ dirs: [String: String]) -> [Int32] {
    for key in ["pids", "memory", "", "freezer", "devices"] {
      if let dir = dirs[key] {
        let p = CgroupFiles.pids(in: dir)
        if !p.isEmpty { return p }
      }
    }
    return []
  }

  /// Kills what is left in the container's own directories and removes the ones
  /// Bulkhead made, deepest first; a parent made for it (podman's libpod_parent)
  /// is only removed when empty: other containers may live there.
  static func remove(_ created: [String], leaves: Set<String> = []) {
    for dir in created.sorted(by: { $0.count > $1.count }) where isDirectory(dir) {
      if leaves.contains(dir) || leaves.isEmpty && created.contains(where: { $0.hasPrefix(dir + "/") }) == false {
        CgroupFiles.killAndRemoveTree(dir)
      } else {
        rmdir(dir)
      }
    }
  }
}
