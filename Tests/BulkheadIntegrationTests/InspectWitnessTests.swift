import Foundation
import Testing

/// Every row of `inspect --json`, at each level and option set of issue #17, against
/// docs/inspect.md's table written out here once more, and against a witness that is
/// not the probe: a process started by `bulkhead run` with the same options, read
/// from outside (stat -L of /proc/PID/ns/*, /proc/PID/status, prlimit --pid, its
/// cgroup's files, stat -L of /proc/PID/root), and the kernel's answer to the same
/// calls (unshare, opening /proc/1/root) made from the host and from inside.
@Suite(
  "inspect's verdicts, from an outside witness",
  .enabled(if: Harness.canRunContainers, Harness.containerReason), .serialized)
struct InspectWitnessTests {
  /// What the witness process looked like from outside, beside this host's own view.
  struct Witness {
    var ns: [String: (workload: String, host: String)] = [:]
    var status: [String: String] = [:]
    var hostStatus: [String: String] = [:]
    var limits: [String: [UInt64?]] = [:]
    var hostLimits: [String: [UInt64?]] = [:]
    var cgroup: [String] = []
    var hostCgroup: [String] = []
    var cgroupFiles: [String: UInt64?] = [:]
    var hostCgroupFiles: [String: UInt64?] = [:]
    var root: (workload: String, host: String)?
    /// Exit statuses of the same calls made inside ("in") and on the host ("host").
    var calls: [String: Int] = [:]
    /// The kernel's answers to the probe's system calls (python3 witness): "0",
    /// an errno number, 255 for skipped, or "sigN".
    var syscalls: [String: String] = [:]
    var descriptors: Int?
    var environmentNames: [String] = []
    /// The probed host paths that are the host's very own file in the witness's root.
    var hostPathsSeen: Set<String> = []

    func own(_ kind: String) -> Bool? { ns[kind].map { $0.workload != $0.host } }
  }

  static let configurations: [(name: String, options: [String])] = [
    ("default container", []), ("--userns --cap-drop all", ["--userns", "--cap-drop", "all"]),
    ("--share net", ["--share", "net"]), ("process", ["--level", "process"]),
    ("thread", ["--level", "thread"]), ("task", ["--level", "task"]),
    // --userns and --share are the container's only (refused elsewhere); --cap-drop is not.
    ("process --cap-drop all", ["--level", "process", "--cap-drop", "all"]),
    ("thread --cap-drop all", ["--level", "thread", "--cap-drop", "all"]),
  ]

  func witness(_ options: [String]) throws -> Witness {
    let marker = Harness.uniqueMarker()
    let opts = options.joined(separator: " ")
    // At the thread and task levels the witness is the host process the workload runs
    // in (bulkhead's child, started as it starts inspect's), blocked in a system call;
    // the calls below it cannot make (a command), so the checks keep the table alone.
    let inProcess = options.contains("thread") || options.contains("task")
    let launch =
      inProcess
      ? "\"$BULKHEAD\" run \(opts) --timeout 3s --workload block-hang >/dev/null 2>&1 &\nbg=$!"
      : "\"$BULKHEAD\" run \(opts) -- sh -c 'sleep 3; : \(marker)' &\nbg="
    let find =
      inProcess
      ? "pid=$(pgrep -P $bg | head -1); [ -n \"$pid\" ] && grep -q block-hang /proc/$pid/cmdline || pid="
      : "pid=$(for p in /proc/[0-9]*; do if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^sh -c sleep 3; : \(marker)'; then basename $p; fi; done | head -1)"
    let calls =
      inProcess
      ? ""
      : """
      "$BULKHEAD" run \(opts) -- sh -c 'unshare -U true 2>/dev/null; echo "call in-unshare-user $?"; unshare -n true 2>/dev/null; echo "call in-unshare-net $?"; ls /proc/1/root/ >/dev/null 2>&1; echo "call in-proc-1-root $?"; chroot / true 2>/dev/null; echo "call in-chroot-escape $?"; mount -t bulkhead-no-such-fs none / 2>&1 | grep -qE "unknown filesystem type|No such device"; echo "call in-mount $?"; (: >> /proc/sys/kernel/hostname) 2>/dev/null; echo "call in-write-proc-sys $?"'
      """
    // The kernel's answer to the probe's harmless system calls (the same numbers and
    // arguments as workloads.c), from python3's ctypes in a process of its own with
    // the same options; a container's runs on the host view (python3 is not in the
    // Rootfs), which changes the root only. Each call in a fork: exit 0 = success,
    // else the errno; a signal (seccomp's kill) is reported as one.
    let python = """
      import ctypes, os, sys
      libc = ctypes.CDLL(None, use_errno=True)
      L = ctypes.c_long
      def setns_host():
          if os.getpid() == 1 or os.getppid() == 1:
              return None
          fd = os.open("/proc/1/ns/mnt", os.O_RDONLY)
          return libc.syscall(L(308), L(fd), L(0x20000))
      ppid = os.getppid()
      other = ppid if ppid > 0 else (0 if os.getpid() == 1 else 1)
      def kill_other():
          return None if other == 0 else libc.syscall(L(62), L(other), L(0))
      def ptrace_other():
          if other == 0:
              return None
          r = libc.syscall(L(101), L(0x4206), L(other), L(0), L(0))
          if r == 0:
              libc.syscall(L(101), L(17), L(other), L(0), L(0))
          return r
      def mknod_block():
          major, minor = 8, 0
          for line in open("/proc/partitions").read().splitlines()[2:]:
              f = line.split()
              if len(f) >= 2 and f[0].isdigit():
                  major, minor = int(f[0]), int(f[1])
                  break
          first, opened = -2, 0
          for i, d in enumerate(["/dev", "/tmp", "/dev/shm"]):
              path = "%s/.bulkhead-mknod-w%d" % (d, os.getpid())
              try:
                  os.mknod(path, 0o060600, os.makedev(major, minor))
              except OSError as e:
                  if e.errno == 1:
                      return -1, 1
                  first = -e.errno if i == 0 else first
                  continue
              try:
                  os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
                  os.unlink(path)
                  return 0, 0
              except OSError as e:
                  os.unlink(path)
                  opened = e.errno
          return (-1, opened) if opened else (-1, -first)
      calls = {
          "mknod-block": mknod_block,
          "kill": kill_other,
          "ptrace": ptrace_other,
          "tiocsti": lambda: libc.syscall(L(16), L(0), L(0x5412), L(0)),
          "reboot": lambda: libc.syscall(L(169), L(0), L(0), L(0), L(0)),
          "init_module": lambda: libc.syscall(L(175), L(0), L(0), ctypes.c_char_p(b"")),
          "keyctl": lambda: libc.syscall(L(250), L(0), L(-3), L(0)),
          "bpf": lambda: libc.syscall(L(321), L(0), L(0), L(0)),
          "perf_event_open": lambda: libc.syscall(L(298), L(0), L(0), L(-1), L(-1), L(0)),
          "setns-host": setns_host,
      }
      for name, call in calls.items():
          pid = os.fork()
          if pid == 0:
              r = call()
              if isinstance(r, tuple):
                  os._exit(0 if r[0] >= 0 else r[1])
              os._exit(255 if r is None else (0 if r >= 0 else ctypes.get_errno()))
          _, status = os.waitpid(pid, 0)
          code = "sig" + str(os.WTERMSIG(status)) if os.WIFSIGNALED(status) else str(os.WEXITSTATUS(status))
          print("sys", sys.argv[1] + "-" + name, code)
      """
    let encoded = Data(python.utf8).base64EncodedString()
    let py = "python3 -c \"import base64; exec(base64.b64decode('\(encoded)'))\""
    let isContainer = !inProcess && !options.contains("process")
    let syscalls =
      inProcess
      ? ""
      : """
      "$BULKHEAD" run \(opts) \(isContainer ? "--rootfs host" : "") -- \(py) in
      \(py) host
      """
    let script = """
      \(syscalls)
      \(launch)
      pid=
      for i in $(seq 100); do
        \(find)
        [ -n "$pid" ] && break; sleep 0.03
      done
      for k in pid mnt uts ipc net user cgroup time; do echo "ns $k $(stat -L -c %i /proc/$pid/ns/$k) $(stat -L -c %i /proc/$$/ns/$k)"; done
      grep -E '^(Uid|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp_filters):' /proc/$pid/status | sed 's/^/status /'
      grep -E '^(Uid|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp_filters):' /proc/$$/status | sed 's/^/hoststatus /'
      prlimit --pid $pid --raw --noheadings --output RESOURCE,SOFT,HARD | sed 's/^/limit /'
      prlimit --pid $$ --raw --noheadings --output RESOURCE,SOFT,HARD | sed 's/^/hostlimit /'
      sed 's/^/cgroup /' /proc/$pid/cgroup
      sed 's/^/hostcgroup /' /proc/$$/cgroup
      for who in $pid $$; do
        tag=cgfile; [ "$who" = "$$" ] && tag=hostcgfile
        mem=$(grep ':memory:' /proc/$who/cgroup | cut -d: -f3); pids=$(grep ':pids:' /proc/$who/cgroup | cut -d: -f3)
        echo "$tag memory $(cat /sys/fs/cgroup/memory$mem/memory.limit_in_bytes 2>/dev/null || echo -)"
        echo "$tag pids $(cat /sys/fs/cgroup/pids$pids/pids.max 2>/dev/null || echo -)"
      done
      echo "root $(stat -L -c %d:%i /proc/$pid/root/) $(stat -L -c %d:%i /)"
      echo "fds $(ls /proc/$pid/fd | wc -l)"
      echo "envnames $(tr '\\0' '\\n' < /proc/$pid/environ | cut -d= -f1 | sort | tr '\\n' ' ')"
      for p in \(Self.hostPathProbes.joined(separator: " ")); do
        a=$(stat -L -c %d:%i /proc/$pid/root$p 2>/dev/null || echo absent); b=$(stat -L -c %d:%i $p 2>/dev/null || echo absent)
        echo "hostpath $p $a $b"
      done
      [ -n "$bg" ] && kill $bg
      wait
      \(calls)
      unshare -U true 2>/dev/null; echo "call host-unshare-user $?"
      unshare -n true 2>/dev/null; echo "call host-unshare-net $?"
      ls /proc/1/root/ >/dev/null 2>&1; echo "call host-proc-1-root $?"
      chroot / true 2>/dev/null; echo "call host-chroot-escape $?"
      # The probe's own harmless mount: an unknown type (ENODEV) means the mount was permitted.
      mount -t bulkhead-no-such-fs none / 2>&1 | grep -qE "unknown filesystem type|No such device"; echo "call host-mount $?"
      # Opened for writing, nothing written (as the probe's check).
      (: >> /proc/sys/kernel/hostname) 2>/dev/null; echo "call host-write-proc-sys $?"
      """
    let r = try Harness.shell(script)
    #expect(r.status == 0, "\(r.stderr)")
    var w = Witness()
    func number(_ s: Substring) -> UInt64?? {
      if s == "unlimited" || s == "max" { return .some(nil) }
      guard let n = UInt64(s) else { return .none }
      // The v1 memory controller's "no limit" (PAGE_COUNTER_MAX pages).
      return .some(n >= 1 << 60 ? nil : n)
    }
    for line in r.lines {
      let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard let tag = f.first else { continue }
      switch tag {
      case "ns" where f.count == 4: w.ns[String(f[1])] = (String(f[2]), String(f[3]))
      case "status", "hoststatus":
        let key = String(f[1].dropLast())
        let value = f.dropFirst(2).joined(separator: " ")
        if tag == "status" { w.status[key] = value } else { w.hostStatus[key] = value }
      case "limit",
        "hostlimit" where f.count == 4:
        guard case .some(let soft) = number(f[2]), case .some(let hard) = number(f[3]) else { continue }
        if tag == "limit" {
          w.limits[f[1].lowercased()] = [soft, hard]
        } else {
          w.hostLimits[f[1].lowercased()] = [soft, hard]
        }
      case "cgroup": w.cgroup.append(String(f[1]))
      case "hostcgroup": w.hostCgroup.append(String(f[1]))
      case "cgfile",
        "hostcgfile" where f.count == 3:
        guard case .some(let v) = number(f[2]) else { continue }
        if tag == "cgfile" { w.cgroupFiles[String(f[1])] = v } else { w.hostCgroupFiles[String(f[1])] = v }
      case "root" where f.count == 3: w.root = (String(f[1]), String(f[2]))
      case "call" where f.count == 3: w.calls[String(f[1])] = Int(f[2])
      case "sys" where f.count == 3: w.syscalls[String(f[1])] = String(f[2])
      case "fds" where f.count == 2: w.descriptors = Int(f[1])
      case "envnames": w.environmentNames = f.dropFirst().map(String.init)
      case "hostpath" where f.count == 4: if f[2] != "absent" && f[2] == f[3] { w.hostPathsSeen.insert(String(f[1])) }
      default: break
      }
    }
    return w
  }

  func rows(_ options: [String]) throws -> [(property: String, host: String, workload: String, verdict: String)] {
    let r = try Harness.run(["inspect", "--json"] + options)
    #expect(r.status == 0, "\(r.stderr)")
    let list = try Harness.json(r.stdout)["rows"] as? [[String: Any]] ?? []
    return list.map {
      (
        $0["property"] as? String ?? "", $0["host"] as? String ?? "", $0["workload"] as? String ?? "",
        $0["verdict"] as? String ?? ""
      )
    }
  }

  /// The paths the probe's "host paths in view" row is about (Inspection.hostPathProbes).
  static let hostPathProbes = [
    "/usr", "/bin", "/lib", "/etc", "/etc/passwd", "/etc/shadow", "/home", "/root", "/run", "/var", "/tmp", "/mnt",
    "/media",
  ]

  /// docs/inspect.md's check table, by the words the rows display.
  static func checkVerdict(host: String, workload: String, reachesHost: Bool?) -> String {
    let h = String(host.split(separator: " ").first ?? "")
    let w = String(workload.split(separator: " ").first ?? "")
    if w == "allowed" { return reachesHost == false ? "isolated" : "shared" }
    guard h == "allowed" else { return "n/a" }
    switch w {
    case "denied", "killed", "unavailable": return "reduced"
    case "skipped": return "isolated"
    default: return "n/a"
    }
  }

  /// Lower (soft or hard, nil = unlimited) on any resource: reduced; else shared.
  static func limitsVerdict(host: [String: [UInt64?]], workload: [String: [UInt64?]]) -> String {
    for (name, w) in workload {
      let h = host[name] ?? [nil, nil]
      for (wv, hv) in zip(w, h) { if let wv, hv.map({ wv < $0 }) ?? true { return "reduced" } }
    }
    return "shared"
  }

  static func capabilityVerdict(host: String?, workload: String?, ownUserNamespace: Bool) -> String {
    guard let h = host.flatMap({ UInt64($0, radix: 16) }), let w = workload.flatMap({ UInt64($0, radix: 16) }) else {
      return "n/a"
    }
    if ownUserNamespace { return w == 0 ? (h == 0 ? "shared" : "reduced") : "isolated" }
    return w != h && w & ~h == 0 ? "reduced" : "shared"
  }

  @Test(arguments: configurations.indices)
  func everyRowAgreesWithTheTableAndTheWitness(_ index: Int) throws {
    let (name, options) = Self.configurations[index]
    let w = try witness(options)
    let rows = try rows(options)
    #expect(rows.count > 30, "\(name)")
    let inProcessLevel = options.contains("thread") || options.contains("task")
    var witnessedCalls = 0
    let ownUser = try #require(w.own("user"), "\(name): user namespace witnessed")
    var expected: [String: String] = [:]
    for kind in ["pid", "mnt", "uts", "ipc", "net", "user", "cgroup", "time"] {
      expected["\(kind) namespace"] = w.own(kind).map { $0 ? "isolated" : "shared" }
    }
    expected["hostname"] = expected["uts namespace"]
    expected["mounts"] = expected["mnt namespace"]
    expected["processes in view"] = expected["pid namespace"]
    // Uid: real and effective, as the host sees them.
    let uids = { (s: String?) in (s ?? "").split(separator: " ").prefix(2).joined(separator: " ") }
    expected["uid / euid"] = uids(w.status["Uid"]) == uids(w.hostStatus["Uid"]) ? "shared" : "reduced"
    for (property, key) in [
      ("capabilities (effective)", "CapEff"), ("bounding set", "CapBnd"), ("ambient set", "CapAmb"),
    ] {
      expected[property] = Self.capabilityVerdict(
        host: w.hostStatus[key], workload: w.status[key], ownUserNamespace: ownUser)
    }
    for (property, key) in [("no_new_privs", "NoNewPrivs"), ("seccomp", "Seccomp_filters")] {
      let h = Int(w.hostStatus[key] ?? "") ?? -1
      let v = Int(w.status[key] ?? "") ?? -1
      expected[property] = v > h ? "reduced" : "shared"
    }
    expected["cgroup"] = w.cgroup == w.hostCgroup ? "shared" : "isolated"
    expected["cgroup limits"] = Self.limitsVerdict(
      host: w.hostCgroupFiles.mapValues { [$0] }, workload: w.cgroupFiles.mapValues { [$0] })
    let resources = ["as", "core", "cpu", "data", "fsize", "memlock", "nofile", "nproc", "stack"]
    expected["rlimits (soft/hard)"] = Self.limitsVerdict(
      host: w.hostLimits.filter { resources.contains($0.key) }, workload: w.limits.filter { resources.contains($0.key) }
    )

    // The kernel's answers to the same calls: exit 0 is allowed, else refused.
    func outcome(_ call: String) -> String? { w.calls[call].map { $0 == 0 ? "allowed" : "denied" } }
    for check in ["unshare-user", "unshare-net", "proc-1-root", "chroot-escape", "mount", "write-proc-sys"] {
      guard let h = outcome("host-\(check)"), let i = outcome("in-\(check)") else { continue }
      // /proc/1/root opened inside reaches the host's root only when it is the host's.
      let reach = check == "proc-1-root" && i == "allowed" ? w.root.map { $0.workload == $0.host } : nil
      expected["check: \(check)"] = Self.checkVerdict(host: h, workload: i, reachesHost: reach)
    }

    // The probe's harmless system calls, answered to the python3 witness: EPERM or
    // EACCES is denied, ENOSYS unavailable, a signal killed, anything else (success
    // or an error past the permission check) allowed.
    func classify(_ answer: String?, _ check: String) -> String? {
      guard let answer else { return nil }
      if answer.hasPrefix("sig") { return "killed" }
      switch Int32(answer) {
      case 0: return "allowed"
      case 255: return "skipped"
      case ENOTTY where check == "tiocsti": return "skipped"  // no terminal to push into
      case EPERM, EACCES: return "denied"
      case ENOSYS: return "unavailable"
      case .some: return "allowed"
      case nil: return nil
      }
    }
    let witnessedChecks = [
      "reboot", "init_module", "keyctl", "bpf", "perf_event_open", "setns-host", "kill", "ptrace", "tiocsti",
    ]
    for check in witnessedChecks {
      guard let h = classify(w.syscalls["host-\(check)"], check), let i = classify(w.syscalls["in-\(check)"], check)
      else { continue }
      expected["check: \(check)"] = Self.checkVerdict(host: h, workload: i, reachesHost: nil)
      let row = rows.first { $0.property == "check: \(check)" }
      #expect(
        row.map { $0.workload.hasPrefix(i) } == true, "\(name): \(check) probe \(row?.workload ?? "-") witness \(i)")
      witnessedCalls += 1
    }
    if !inProcessLevel { #expect(witnessedCalls == witnessedChecks.count, "\(name): \(w.syscalls)") }

    // Descriptors and environment: fewer than the host's displayed count is reduced.
    // The witness runs a command (or, in process, a blocked workload), the probe its
    // report: the count that matters is against the host's, so both must fall alike.
    let hostCount = { (p: String) in rows.first { $0.property == p }.flatMap { Int($0.host.split(separator: " ")[0]) } }
    if let fds = w.descriptors, let host = hostCount("open descriptors") {
      expected["open descriptors"] = fds < host ? "reduced" : "shared"
    }
    if !w.environmentNames.isEmpty, let host = hostCount("environment") {
      expected["environment"] = w.environmentNames.count < host ? "reduced" : "shared"
    }
    // Host paths: the host's very own files (same device and inode, read through
    // /proc/PID/root from outside) are exactly those the row lists.
    let pathRow = try #require(rows.first { $0.property == "host paths in view" }, "\(name)")
    let listed = Set(
      pathRow.workload.split(separator: ";").flatMap { $0.split(separator: " ").dropFirst().map(String.init) })
    #expect(listed == w.hostPathsSeen, "\(name): row \(pathRow.workload), witnessed \(w.hostPathsSeen.sorted())")
    if w.hostPathsSeen.isEmpty { expected["host paths in view"] = "isolated" }

    var checked = 0
    for row in rows {
      // Never shared where the workload was refused; never reduced where both show the same.
      if row.property.hasPrefix("check: ") {
        let w0 = row.workload.split(separator: " ").first ?? ""
        #expect(w0 == "allowed" || row.verdict != "shared", "\(name): \(row.property) \(row.workload)")
        var table = Self.checkVerdict(host: row.host, workload: row.workload, reachesHost: nil)
        if table == "shared" && row.verdict == "isolated" {
          // Allowed on its own instance only: the raw socket's network namespace.
          if row.property == "check: raw-socket" { #expect(w.own("net") == true, "\(name)") }
          if row.property == "check: proc-1-root" { #expect(w.root.map { $0.workload != $0.host } == true) }
          table = "isolated"
        }
        #expect(row.verdict == table, "\(name): \(row.property) host \(row.host) workload \(row.workload)")
      } else if !row.property.hasSuffix(" namespace") {
        #expect(
          row.host != row.workload || row.verdict != "reduced", "\(name): \(row.property) \(row.host) = \(row.workload)"
        )
      }
      if row.property == "check: raw-socket" && row.workload.hasPrefix("allowed") {
        #expect(row.verdict == (w.own("net") == true ? "isolated" : "shared"), "\(name): raw socket's reach")
      }
      if let want = expected[row.property] {
        #expect(row.verdict == want, "\(name): \(row.property) host \(row.host) workload \(row.workload)")
        checked += 1
      }
    }
    #expect(checked >= 20, "\(name): \(checked) rows witnessed")
    // The displayed rlimits are the witness's: core and nofile, soft/hard.
    let rl = try #require(rows.first { $0.property == "rlimits (soft/hard)" })
    for resource in ["core", "nofile"] {
      let pair = try #require(w.limits[resource])
      let text = pair.map { $0.map { "\($0)" } ?? "unlimited" }.joined(separator: "/")
      #expect(rl.workload.contains("\(resource) \(text)"), "\(name): \(rl.workload) vs prlimit \(text)")
    }
  }

  @Test func theInProcessLevelsShareEveryNamespaceWithTheHost() throws {
    let r = try Harness.run(["inspect", "--levels", "task,thread", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let columns = try Harness.json(r.stdout)["columns"] as? [[String: Any]] ?? []
    #expect(columns.count == 2)
    for column in columns {
      let rows = column["rows"] as? [[String: Any]] ?? []
      for kind in ["pid", "mnt", "uts", "ipc", "net", "user", "cgroup", "time"] {
        // This test process is in the host's namespaces, as the host process is.
        var st = stat()
        guard stat("/proc/self/ns/\(kind)", &st) == 0 else { continue }
        let row = rows.first { $0["property"] as? String == "\(kind) namespace" }
        #expect(row?["workload"] as? String == "\(st.st_ino)", "\(kind)")
        #expect(row?["verdict"] as? String == "shared", "\(kind)")
      }
      for row in rows where (row["property"] as? String)?.hasPrefix("check: ") == true {
        let verdict = Self.checkVerdict(
          host: row["host"] as? String ?? "", workload: row["workload"] as? String ?? "", reachesHost: nil)
        #expect(row["verdict"] as? String == verdict, "\(row)")
      }
    }
  }
}
