import BulkheadSpec
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// What a sandbox's cgroup measured, read after the workload ended.
public struct CgroupStats: Sendable, Equatable, Codable {
  public var version: String
  public var memoryPeakBytes: UInt64?
  /// Processes the kernel's OOM killer ended in this cgroup.
  public var oomKills: Int?
  public var pidsPeak: Int?
  /// How often a fork failed at the pids limit.
  public var pidsLimitHits: Int?
  public var cpuUsageNanoseconds: UInt64?
  /// The directories the sandbox had (removed after the run).
  public var directories: [String] = []

  public init(version: String) { self.version = version }
}

/// One sandbox's cgroup: a directory per v1 controller, or one v2 directory.
/// Created before the clone, joined before the child is released, removed after.
public final class CgroupGroup: @unchecked Sendable {
  public let version: CgroupVersion
  /// Controller name ("memory", "pids", "cpu", "cpuacct"; "" for v2) -> directory.
  public let directories: [String: String]
  /// v2: an O_PATH descriptor of the directory, for clone3(CLONE_INTO_CGROUP).
  public private(set) var directoryFD: Int32 = -1
  private var removed = false
  /// Controller -> the directory a tracking group's leftovers move to on removal.
  let releaseDirectories: [String: String]
  /// The processes a tracking group's removal moved out: they outlived the workload
  /// (a daemon that escaped the process level). Filled by `remove()`.
  public private(set) var released: [Int32] = []

  init(version: CgroupVersion, directories: [String: String], releaseDirectories: [String: String] = [:]) {
    self.version = version
    self.directories = directories
    self.releaseDirectories = releaseDirectories
    if version == .v2, let dir = directories[""] {
      // O_PATH is not imported from glibc's headers: 0o10000000.
      directoryFD = open(dir, 0o10000000 | O_DIRECTORY | O_CLOEXEC)
    }
  }

  deinit {
    if !removed { try? remove() }
    closeDirectory()
  }

  /// Moves `pid` into every directory (cgroup.procs).
  public func attach(pid: Int32) throws(BulkheadError) {
    for (controller, dir) in directories.sorted(by: { $0.key < $1.key }) {
      try CgroupFiles.write(
        "\(pid)", to: dir + "/cgroup.procs", step: "join the \(controller.isEmpty ? "v2" : controller) cgroup")
    }
  }

  /// CPU time used by everything in the cgroup, in nanoseconds.
  public func cpuUsageNanoseconds() -> UInt64? {
    switch version {
    case .v1:
      return directories["cpuacct"].flatMap { CgroupFiles.read($0 + "/cpuacct.usage") }.flatMap {
        UInt64($0.trimmingCharacters(in: "\n "))
      }
    case .v2:
      return directories[""].flatMap { CgroupFiles.read($0 + "/cpu.stat") }.flatMap {
        CgroupFiles.keyed($0)["usage_usec"]
      }.map { $0 * 1000 }
    }
  }

  public func stats() -> CgroupStats {
    var s = CgroupStats(version: version.rawValue)
    switch version {
    case .v1:
      if let dir = directories["memory"] {
        s.memoryPeakBytes = CgroupFiles.read(dir + "/memory.max_usage_in_bytes").flatMap {
          UInt64($0.trimmingCharacters(in: "\n "))
        }
        s.oomKills = CgroupFiles.read(dir + "/memory.oom_control").flatMap { CgroupFiles.keyed($0)["oom_kill"] }.map {
          Int($0)
        }
      }
      if let dir = directories["pids"] {
        s.pidsPeak = CgroupFiles.read(dir + "/pids.peak").flatMap { Int($0.trimmingCharacters(in: "\n ")) }
        s.pidsLimitHits = CgroupFiles.read(dir + "/pids.events").flatMap { CgroupFiles.keyed($0)["max"] }.map {
          Int($0)
        }
      }
    case .v2:
      if let dir = directories[""] {
        s.memoryPeakBytes = CgroupFiles.read(dir + "/memory.peak").flatMap { UInt64($0.trimmingCharacters(in: "\n ")) }
        s.oomKills = CgroupFiles.read(dir + "/memory.events").flatMap { CgroupFiles.keyed($0)["oom_kill"] }.map {
          Int($0)
        }
        s.pidsPeak = CgroupFiles.read(dir + "/pids.peak").flatMap { Int($0.trimmingCharacters(in: "\n ")) }
        s.pidsLimitHits = CgroupFiles.read(dir + "/pids.events").flatMap { CgroupFiles.keyed($0)["max"] }.map {
          Int($0)
        }
      }
    }
    s.cpuUsageNanoseconds = cpuUsageNanoseconds()
    s.directories = directories.values.sorted()
    return s
  }

  /// Pids still in the cgroup (escaped children of a process-level workload).
  public func members() -> [Int32] {
    var out = Set<Int32>()
    for dir in directories.values { out.formUnion(CgroupFiles.pids(in: dir)) }
    return out.sorted()
  }

  /// A tracking group (no limits asked for) only follows the workload's processes:
  /// on a normal end, what is left (a daemon that escaped the process level) is
  /// moved out to the supervisor's own cgroup instead of killed. When the supervisor
  /// was SIGKILLed, the next bulkhead finds the group stale and kills what is in it.
  public var tracking = false

  /// Kills everything in the group and in the groups made inside it, and removes
  /// them all (the crash lab's safety box, after its sandboxes are gone).
  public func removeTree() {
    guard !removed else { return }
    closeDirectory()
    for dir in directories.values { CgroupFiles.killAndRemoveTree(dir) }
    removed = true
  }

  /// The O_PATH descriptor is needed only until the child is born in the group.
  func closeDirectory() {
    if directoryFD >= 0 { close(directoryFD) }
    directoryFD = -1
  }

  /// Kills whatever is left (cgroup.kill on v2, SIGKILL per member on v1), or for a
  /// tracking group moves it out, and removes the directories.
  ///
  /// `processGroup`: the workload's own process group, which its supervisor has
  /// just killed: its members are dying, not escaping, and are not moved out.
  public func remove(processGroup: Int32? = nil) throws(BulkheadError) {
    guard !removed else { return }
    closeDirectory()
    if tracking {
      var moved = Set<Int32>()
      for (controller, dir) in directories {
        // <own>/bulkhead/run-X -> <own>, unless the group was made inside another.
        let release =
          releaseDirectories[controller]
          ?? String(dir.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/"))
        if releaseDirectories[controller] != nil { _ = mkdir(release, 0o755) }
        for pid in CgroupFiles.pids(in: dir) where processGroup == nil || getpgid(pid) != processGroup {
          // A process that already died (a zombie waiting for its reaper) cannot be
          // moved and did not escape.
          if (try? CgroupFiles.write("\(pid)", to: release + "/cgroup.procs", step: "move out")) != nil {
            moved.insert(pid)
          }
        }
      }
      released = moved.sorted()
    }
    if version == .v2, let dir = directories[""], access(dir + "/cgroup.kill", W_OK) == 0 {
      try? CgroupFiles.write("1", to: dir + "/cgroup.kill", step: "cgroup.kill")
    }
    for _ in 0..<200 {
      let left = members()
      if left.isEmpty { break }
      for pid in left { kill(pid, SIGKILL) }
      usleep(5000)
    }
    var failure: BulkheadError? = nil
    for (controller, dir) in directories {
      var tries = 0
      while rmdir(dir) != 0 && errno != ENOENT {
        tries += 1
        if errno != EBUSY || tries > 200 {
          failure = .setupFailed(
            step: "remove the \(controller.isEmpty ? "v2" : controller) cgroup", value: dir, errno: errno)
          break
        }
        usleep(5000)
      }
    }
    removed = true
    if let failure { throw failure }
  }
}

public enum CgroupVersion: String, Sendable, Codable {
  case v1
  case v2
}

/// Finds the cgroup hierarchy and creates sandbox cgroups below the supervisor's
/// own cgroup, in a `bulkhead` directory, one per sandbox.
public struct Cgroups: Sendable {
  public let version: CgroupVersion
  /// v1: controller -> mount point; v2: "" -> the unified mount.
  public let mounts: [String: String]
  /// Controller ("" for v2) -> the supervisor's own cgroup path inside that hierarchy.
  public let ownPaths: [String: String]
  /// Controller -> the directory sandboxes are made in, when they are made inside
  /// another group (the crash lab's safety box) rather than in `<own>/bulkhead`.
  public private(set) var base: [String: String]? = nil

  public init(version: CgroupVersion, mounts: [String: String], ownPaths: [String: String]) {
    self.version = version
    self.mounts = mounts
    self.ownPaths = ownPaths
  }

  /// The same hierarchy, making sandboxes inside `group`: its limits then bound
  /// them all together (each may have tighter ones of its own). What escapes a
  /// tracking group inside it moves to `group`'s `escaped` child, still inside.
  public func nested(in group: CgroupGroup) -> Cgroups {
    var copy = self
    copy.base = group.directories
    return copy
  }

  /// This process's hierarchy, detected once: a fleet or a benchmark launches
  /// thousands of sandboxes, and the mount table does not change under them.
  public static let current: Cgroups? = detect()

  private static let swept = Atomic<Bool>(false)

  /// `sweepStale()` once per process for bulkhead's own hierarchy: a supervisor
  /// that died before this one started is found at the first launch; one killed
  /// later is found by the next bulkhead.
  public func sweepStaleOnce() {
    guard base == nil, Self.swept.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
    else { return }
    sweepStale()
  }

  /// Reads /proc/self/mountinfo and /proc/self/cgroup. v2 when the unified
  /// hierarchy has the controllers (a pure v2 system), else v1 when the memory,
  /// pids and cpu hierarchies are mounted; nil when neither.
  public static func detect() -> Cgroups? {
    detect(
      mountinfo: CgroupFiles.read("/proc/self/mountinfo") ?? "", selfCgroup: CgroupFiles.read("/proc/self/cgroup") ?? ""
    ) {
      CgroupFiles.read($0)
    }
  }

  /// The same from given file contents (tests use real formats without a machine).
  public static func detect(mountinfo: String, selfCgroup: String, read: (String) -> String?) -> Cgroups? {
    var v1: [String: String] = [:]
    var unified: String? = nil
    for line in mountinfo.split(separator: "\n") {
      let halves = String(line).components(separatedBy: " - ")
      guard halves.count == 2 else { continue }
      let left = halves[0].split(separator: " ")
      let right = halves[1].split(separator: " ")
      guard left.count >= 5, right.count >= 3 else { continue }
      let point = String(left[4])
      if right[0] == "cgroup2" { unified = point }
      if right[0] == "cgroup" {
        for option in right[2].split(separator: ",")
        where ["memory", "pids", "cpu", "cpuacct"].contains(String(option)) {
          v1[String(option)] = point
        }
      }
    }
    var own: [String: String] = [:]
    for line in selfCgroup.split(separator: "\n") {
      let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard f.count == 3 else { continue }
      if f[0] == "0" && f[1].isEmpty { own[""] = String(f[2]) }
      for controller in f[1].split(separator: ",") { own[String(controller)] = String(f[2]) }
    }
    if let unified, let path = own[""],
      let controllers = read(unified + (path == "/" ? "" : path) + "/cgroup.controllers")
        ?? read(unified + "/cgroup.controllers"),
      controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("memory")
    {
      return Cgroups(version: .v2, mounts: ["": unified], ownPaths: ["": path])
    }
    if ["memory", "pids", "cpu"].allSatisfy({ v1[$0] != nil }) {
      return Cgroups(version: .v1, mounts: v1, ownPaths: own)
    }
    return nil
  }

  /// The directory for `controller` below which sandboxes are created.
  func parent(_ controller: String) -> String? {
    if let base { return base[controller] }
    guard let mount = mounts[controller] else { return nil }
    let own = ownPaths[controller] ?? "/"
    return mount + (own == "/" ? "" : own) + "/bulkhead"
  }

  /// Removes the `run-PID-N` cgroups of supervisors that are gone (SIGKILLed: no
  /// code of theirs ran to remove them), ending what still runs in them.
  public func sweepStale() {
    let parents = version == .v2 ? [parent("")] : ["memory", "pids", "cpu", "cpuacct"].map { parent($0) }
    for case let parent? in parents {
      var stale: [String] = []
      for name in listDirectory(parent) {
        let parts = name.split(separator: "-")
        guard parts.count == 3, parts[0] == "run", let pid = Int32(parts[1]) else { continue }
        if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { stale.append(parent + "/" + name) }
      }
      // Its supervisor is gone: whatever still runs there outlived a SIGKILLed
      // bulkhead (children of a process-level workload). End it, then remove.
      for path in stale { CgroupFiles.killAndRemoveTree(path) }
    }
  }

  /// Creates the sandbox's cgroup `name` with `request` applied. A limit that cannot
  /// be applied is refused with an error naming the controller; nothing is left.
  public func create(name: String, request: CgroupRequest) throws(BulkheadError) -> CgroupGroup {
    var directories: [String: String] = [:]
    var created: [String] = []
    do throws(BulkheadError) {
      switch version {
      case .v1:
        var controllers: [String] = []
        if request.memoryBytes != nil || request.memorySwapBytes != nil { controllers.append("memory") }
        if request.pids != nil { controllers.append("pids") }
        if request.cpus != nil { controllers.append("cpu") }
        // Always measured when available: memory peak, pids peak, CPU usage.
        for extra in ["memory", "pids", "cpuacct"] where mounts[extra] != nil && !controllers.contains(extra) {
          controllers.append(extra)
        }
        for controller in controllers {
          guard let parent = parent(controller) else {
            throw BulkheadError(
              code: .unsupported, step: "cgroup", value: controller,
              reason: "the \(controller) controller is not mounted",
              hint: "mount the cgroup v1 \(controller) hierarchy, or use cgroup v2")
          }
          try CgroupFiles.makeDirectory(parent, controller: controller)
          let dir = parent + "/" + name
          try CgroupFiles.makeDirectory(dir, controller: controller)
          created.append(dir)
          directories[controller] = dir
        }
        if let dir = directories["memory"], let bytes = request.memoryBytes {
          try CgroupFiles.write("\(bytes)", to: dir + "/memory.limit_in_bytes", step: "memory.limit_in_bytes")
          if let swap = request.memorySwapBytes {
            guard access(dir + "/memory.memsw.limit_in_bytes", W_OK) == 0 else {
              throw BulkheadError(
                code: .unsupported, step: "cgroup", value: "memory.memsw",
                reason: "swap accounting is off on this kernel",
                hint: "boot with swapaccount=1, or drop --memory-swap")
            }
            try CgroupFiles.write(
              "\(swap)", to: dir + "/memory.memsw.limit_in_bytes", step: "memory.memsw.limit_in_bytes")
          }
        }
        if let dir = directories["pids"], let pids = request.pids {
          try CgroupFiles.write("\(pids)", to: dir + "/pids.max", step: "pids.max")
        }
        if let dir = directories["cpu"], let cpus = request.cpus {
          let period = 100_000
          try CgroupFiles.write("\(period)", to: dir + "/cpu.cfs_period_us", step: "cpu.cfs_period_us")
          try CgroupFiles.write(
            "\(max(1000, Int(cpus * Double(period))))", to: dir + "/cpu.cfs_quota_us", step: "cpu.cfs_quota_us")
        }
      case .v2:
        guard let parent = parent("") else {
          throw BulkheadError(code: .unsupported, step: "cgroup", reason: "no cgroup v2 hierarchy")
        }
        try CgroupFiles.makeDirectory(parent, controller: "v2")
        var needed: [String] = []
        if request.memoryBytes != nil || request.memorySwapBytes != nil { needed.append("memory") }
        if request.pids != nil { needed.append("pids") }
        if request.cpus != nil { needed.append("cpu") }
        let available = Set(
          (CgroupFiles.read(parent + "/cgroup.controllers") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
            .map(String.init))
        for controller in needed where !available.contains(controller) {
          throw BulkheadError(
            code: .unsupported, step: "cgroup", value: controller,
            reason: "the \(controller) controller is not enabled for \(parent)",
            hint: "enable it in the parent's cgroup.subtree_control (or delegate it to this user)")
        }
        let enable = ["memory", "pids", "cpu"].filter { available.contains($0) }.map { "+" + $0 }.joined(separator: " ")
        if !enable.isEmpty {
          try CgroupFiles.write(enable, to: parent + "/cgroup.subtree_control", step: "cgroup.subtree_control")
        }
        let dir = parent + "/" + name
        try CgroupFiles.makeDirectory(dir, controller: "v2")
        created.append(dir)
        directories[""] = dir
        // The descriptor clone3(CLONE_INTO_CGROUP) needs; without it the launcher
        // joins by cgroup.procs, so a failure here is no silent loss of limits.
        if access(dir + "/cgroup.procs", W_OK) != 0 {
          throw BulkheadError.setupFailed(step: "cgroup", value: dir + "/cgroup.procs", errno: errno)
        }
        if let bytes = request.memoryBytes {
          try CgroupFiles.write("\(bytes)", to: dir + "/memory.max", step: "memory.max")
          // v2 counts swap alone; Docker's --memory-swap counts memory plus swap.
          let swap = request.memorySwapBytes.map { $0 - bytes } ?? 0
          if access(dir + "/memory.swap.max", W_OK) == 0 {
            try CgroupFiles.write("\(swap)", to: dir + "/memory.swap.max", step: "memory.swap.max")
          } else if request.memorySwapBytes != nil {
            throw BulkheadError(
              code: .unsupported, step: "cgroup", value: "memory.swap.max", reason: "swap accounting is off",
              hint: "drop --memory-swap")
          }
        }
        if let pids = request.pids {
          try CgroupFiles.write("\(pids)", to: dir + "/pids.max", step: "pids.max")
        }
        if let cpus = request.cpus {
          try CgroupFiles.write(CgroupFiles.cpuMax(cpus: cpus), to: dir + "/cpu.max", step: "cpu.max")
        }
      }
    } catch {
      for dir in created.reversed() { rmdir(dir) }
      throw error
    }
    return CgroupGroup(
      version: version, directories: directories,
      releaseDirectories: base.map { base in
        Dictionary(uniqueKeysWithValues: directories.keys.compactMap { c in base[c].map { (c, $0 + "/escaped") } })
      } ?? [:])
  }
}

/// The cgroup file formats: one place that reads and writes them.
public enum CgroupFiles {
  /// "key value" lines (memory.events, cpu.stat, memory.oom_control, pids.events).
  public static func keyed(_ text: String) -> [String: UInt64] {
    var out: [String: UInt64] = [:]
    for line in text.split(separator: "\n") {
      let f = line.split(separator: " ")
      if f.count == 2, let v = UInt64(f[1]) { out[String(f[0])] = v }
    }
    return out
  }

  /// v2 cpu.max: "QUOTA PERIOD" in microseconds.
  public static func cpuMax(cpus: Double, period: Int = 100_000) -> String {
    "\(max(1000, Int((cpus * Double(period)).rounded()))) \(period)"
  }

  public static func read(_ path: String) -> String? { readTextFile(path) }

  /// The pids in one cgroup directory (cgroup.procs).
  public static func pids(in dir: String) -> [Int32] {
    (read(dir + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
  }

  /// Kills every process in `path` and the groups below it, and removes them all,
  /// deepest first. For groups whose supervisor is gone.
  public static func killAndRemoveTree(_ path: String) {
    for child in listDirectory(path).map({ path + "/" + $0 }) where isDirectory(child) {
      killAndRemoveTree(child)
    }
    // v2 kills the whole group at once, with no pid that could have been reused.
    if access(path + "/cgroup.kill", W_OK) == 0 {
      try? write("1", to: path + "/cgroup.kill", step: "cgroup.kill")
    }
    for _ in 0..<200 {
      let members = pids(in: path)
      if members.isEmpty { break }
      for pid in members { kill(pid, SIGKILL) }
      usleep(2000)
    }
    var tries = 0
    while rmdir(path) != 0 && errno == EBUSY && tries < 200 {
      tries += 1
      usleep(5000)
    }
  }

  public static func write(_ text: String, to path: String, step: String) throws(BulkheadError) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .setupFailed(step: step, value: path, errno: errno, hint: hint(errno)) }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    if n != bytes.count { throw .setupFailed(step: step, value: "\(path) = \(text)", errno: errno, hint: hint(errno)) }
  }

  static func makeDirectory(_ path: String, controller: String) throws(BulkheadError) {
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
      let err = errno
      throw BulkheadError(
        code: .unsupported, step: "cgroup", value: path,
        reason: "cannot create the \(controller) cgroup: \(BulkheadError.describe(errno: err))",
        errno: err, hint: hint(err))
    }
  }

  static func hint(_ err: Int32) -> String? {
    err == EACCES || err == EPERM || err == EROFS
      ? "cgroup limits need root, or a cgroup subtree delegated to this user (e.g. systemd-run --user --scope -p Delegate=yes)"
      : nil
  }
}

extension String {
  func trimmingCharacters(in set: String) -> String {
    var s = Substring(self)
    while let f = s.first, set.contains(f) { s = s.dropFirst() }
    while let l = s.last, set.contains(l) { s = s.dropLast() }
    return String(s)
  }

  func components(separatedBy separator: String) -> [String] {
    var out: [String] = []
    var rest = Substring(self)
    while let range = rest.firstRange(of: separator) {
      out.append(String(rest[..<range.lowerBound]))
      rest = rest[range.upperBound...]
    }
    out.append(String(rest))
    return out
  }
}
