import BulkheadCore
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// What the lab compares before and after each cell to find leftovers.
struct Snapshot {
  var mounts: Int
  var descriptors: Int
  var namespaceDescriptors: Int
  var tempFiles: Set<String>

  static func take() -> Snapshot {
    let mountinfo = readTextFile("/proc/self/mountinfo") ?? ""
    var descriptors = 0
    var namespaces = 0
    for name in listDirectory("/proc/self/fd") {
      descriptors += 1
      if let target = readLink("/proc/self/fd/" + name), target.contains(":["),
        NamespaceKind.allCases.contains(where: { target.hasPrefix($0.rawValue + ":") })
      {
        namespaces += 1
      }
    }
    // Bulkhead's own temporary files carry its pid (".tmp-PID" while a report or
    // the seccomp cache is written); other processes' files are not its leftovers.
    var temp = Set<String>()
    let mine = "\(getpid())"
    let cache = SeccompFilterCache.cachePath().map { String($0[..<($0.lastIndex(of: "/") ?? $0.endIndex)]) }
    for dir in ["/tmp", "/dev/shm", cache].compactMap({ $0 }) {
      for name in listDirectory(dir) where name.contains(".tmp-" + mine) || name.contains("bulkhead-" + mine) {
        temp.insert(dir + "/" + name)
      }
    }
    return Snapshot(
      mounts: mountinfo.split(separator: "\n").count, descriptors: descriptors, namespaceDescriptors: namespaces,
      tempFiles: temp)
  }

  /// The pids and the group directories below `dir` (itself excluded).
  static func tree(dir: String) -> (pids: [Int32], groups: [String]) {
    var pids = CgroupFiles.pids(in: dir)
    var groups: [String] = []
    for path in listDirectory(dir).map({ dir + "/" + $0 }) where isDirectory(path) {
      groups.append(path)
      let below = tree(dir: path)
      pids += below.pids
      groups += below.groups
    }
    return (pids, groups)
  }

  func leftovers(since baseline: Snapshot, box: CgroupGroup) -> Leftovers {
    var left = Leftovers()
    var pids = Set<Int32>()
    var groups = Set<String>()
    for dir in box.directories.values {
      let below = Snapshot.tree(dir: dir)
      pids.formUnion(below.pids)
      groups.formUnion(below.groups)
    }
    left.processes = pids.count
    left.cgroups = groups.count
    left.mounts = max(0, mounts - baseline.mounts)
    // A namespace lives while a process is in it, a descriptor holds it or a mount
    // pins it: bulkhead's descriptors, and the namespaces of leftover processes
    // that are not bulkhead's own.
    var namespaces = Set<String>()
    for pid in pids {
      for kind in NamespaceKind.allCases {
        if let target = readLink("/proc/\(pid)/ns/\(kind.rawValue)"),
          target != readLink("/proc/self/ns/\(kind.rawValue)")
        {
          namespaces.insert(target)
        }
      }
    }
    left.namespaces = max(0, namespaceDescriptors - baseline.namespaceDescriptors) + namespaces.count
    left.tempFiles = tempFiles.subtracting(baseline.tempFiles).count
    left.descriptors = max(0, descriptors - baseline.descriptors)
    return left
  }

}

/// The one-line mechanism behind a cell, said against what was observed.
enum Explanation {
  static func text(_ cell: CrashCell) -> String {
    let level = cell.level
    let fault = cell.fault
    let spread = cell.verdict == .spread
    let signal = cell.faultyOutcome.split(separator: " ").first { $0.hasPrefix("SIG") }.map(String.init) ?? "the signal"
    if cell.hostSurvived == false && !fault.killsItsProcess && fault != .exit && fault != .oom {
      return "the host process itself died (\(cell.faultyOutcome)), and every \(level.rawValue) in it"
    }
    switch (level, fault) {
    case (.thread, _) where spread && fault.killsItsProcess, (.task, _) where spread && fault.killsItsProcess:
      return level == .thread
        ? "threads share one address space: \(signal) ends the whole thread group, siblings and host"
        : "tasks run on the host's threads: \(signal) ends the host process and every task in it"
    case (.thread, .exit), (.task, .exit):
      return "exit() ends the process, and every \(level.rawValue) in it"
    case (.thread, .oom), (.task, .oom):
      return spread
        ? "one heap: at the box's memory limit the OOM killer ends the whole host"
        : "one heap: the hog grew inside the host process (\(cell.faultyOutcome))"
    case (_, .forkBomb) where level != .container:
      return cell.canary.starved
        ? "no pids limit of its own: the bomb used up the box's pids, and the canary could not fork"
        : "the bomb forked \(level == .process ? "beside its siblings" : "from the host"); separate processes kept beating"
    case (.container, .forkBomb):
      return cell.canary.starved
        ? "stopped at its pids limit, yet the canary still suffered"
        : "stopped at its own pids limit (pids.max): the canary still forked"
    case (.thread, .fdExhaust), (.task, .fdExhaust):
      return cell.siblingsImpaired > 0
        ? "one descriptor table: the siblings kept beating but could no longer open a file"
        : "one descriptor table, yet the siblings could still open files"
    case (_, .fdExhaust):
      return cell.siblingsImpaired == 0
        ? "a descriptor table of its own (RLIMIT_NOFILE is per process): the siblings still open files"
        : "its own descriptor table, yet \(cell.siblingsImpaired) sibling(s) could not open a file"
    case (.task, .busyHang), (.task, .blockHang):
      return spread
        ? "a \(fault == .busyHang ? "spinning" : "blocked") task holds a cooperative thread: siblings starved"
        : "a \(fault == .busyHang ? "spinning" : "blocked") task holds one of the cooperative pool's threads; the siblings ran on the others"
    case (_, .busyHang):
      return "a spinning \(level.rawValue) takes CPU time, not its siblings' lives (the box's CPU quota caps it)"
    case (_, .blockHang):
      return "a blocked \(level.rawValue) costs nothing but its slot; the lab ended it after the window"
    case (.container, .orphan):
      return cell.escapedProcesses == 0
        ? "the daemon was in the sandbox's pid namespace: it died with the namespace's init"
        : "a daemon outlived its container: the pid namespace did not hold"
    case (_, .orphan):
      return cell.escapedProcesses > 0
        ? "setsid + fork: the daemon left the process group and outlived its \(level == .process ? "parent" : "host") (found in the tracking cgroup, ended by the lab)"
        : "the daemon did not outlive its parent"
    case (.container, .oom):
      return cell.faultyOutcome.contains("oom")
        ? "its own memory limit: OOM-killed inside its cgroup while the siblings beat"
        : "the hog ended without reaching its limit (\(cell.faultyOutcome))"
    case (.process, .oom):
      return cell.faultyOutcome.contains("signal SIGKILL") && !spread
        ? "no memory limit of its own: it grew to the box's limit, where the OOM killer chose the largest process, the hog"
        : "no memory limit of its own: it grew to the box's limit (\(cell.faultyOutcome))"
    case (.container, .seccomp):
      return cell.faultyOutcome.contains("returned") || cell.faultyOutcome.hasPrefix("exit")
        ? "the seccomp filter denied keyctl with EPERM; the workload went on and nothing else was touched"
        : "the seccomp filter ended the workload (\(cell.faultyOutcome))"
    case (.process, _):
      return spread
        ? "a process fault reached its siblings (\(cell.faultyOutcome))"
        : "separate address spaces: only the faulty process ended (\(cell.faultyOutcome))"
    case (.container, _):
      return spread
        ? "a container fault reached its siblings (\(cell.faultyOutcome))"
        : "its own namespaces and cgroup: only this sandbox ended (\(cell.faultyOutcome))"
    default:
      return spread ? "the fault reached the siblings (\(cell.faultyOutcome))" : "only the faulty workload was affected"
    }
  }
}
