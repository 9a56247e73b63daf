import Foundation
import Testing

/// The OCI command line on bundles the tests write (`bulkhead spec` plus the
/// project's Rootfs), checked from outside: /proc/PID of the parked init, its
/// cgroup files, and what the container wrote into a host directory.
@Suite("OCI runtime: lifecycle, fields, refusals", .enabled(if: Harness.canRunContainers, Harness.containerReason))
struct OCIRuntimeTests {
  /// A bundle in a temp dir: config.json from `bulkhead spec`, root at the Rootfs,
  /// `edit` applied, /out bound from a host directory the container may write.
  final class Bundle {
    let dir: String
    let root: String
    let out: String
    let id = "oci-\(Harness.uniqueMarker())"

    init(_ edit: (inout [String: Any]) -> Void) throws {
      dir = NSTemporaryDirectory() + "bulkhead-oci-\(Harness.uniqueMarker())"
      root = dir + "/state"
      out = dir + "/out"
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
      chmod(out, 0o777)
      let spec = try Harness.run(["spec", "--bundle", dir])
      #expect(spec.status == 0, "\(spec.stderr)")
      var config = try Harness.json(String(contentsOfFile: dir + "/config.json", encoding: .utf8))
      var rootObject = config["root"] as? [String: Any] ?? [:]
      rootObject["path"] = Harness.rootfs
      config["root"] = rootObject
      var mounts = config["mounts"] as? [[String: Any]] ?? []
      mounts.append(["destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]])
      config["mounts"] = mounts
      edit(&config)
      try write(config)
    }

    func write(_ config: [String: Any]) throws {
      let data = try JSONSerialization.data(withJSONObject: config)
      try data.write(to: URL(fileURLWithPath: dir + "/config.json"))
    }

    /// Runs `bulkhead --root ROOT ARGS` with the container's stdio away from the test's pipes.
    func oci(_ args: [String]) throws -> Harness.Result {
      let quoted = args.map { "'\($0)'" }.joined(separator: " ")
      let r = try Harness.shell(
        "\"$BULKHEAD\" --root '\(root)' --log '\(dir)/log.json' --log-format json \(quoted) </dev/null >'\(dir)/stdout' 2>'\(dir)/stderr'; echo $?"
      )
      let status = Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
      let stderr = (try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? ""
      let stdout = (try? String(contentsOfFile: dir + "/stdout", encoding: .utf8)) ?? ""
      return Harness.Result(status: status, stdout: stdout, stderr: stderr)
    }

    func state() throws -> [String: Any] { try Harness.json(try oci(["state", id]).stdout) }

    /// Every container of this bundle's root (a test may make several), then the files.
    func cleanup() {
      let ids = ((try? oci(["list", "-q"]))?.stdout ?? "").split(separator: "\n").map(String.init)
      for container in Set(ids + [id]) { _ = try? oci(["delete", "--force", container]) }
      try? FileManager.default.removeItem(atPath: dir)
    }
  }

  static func setProcess(_ config: inout [String: Any], _ key: String, _ value: Any) {
    var process = config["process"] as? [String: Any] ?? [:]
    process[key] = value
    config["process"] = process
  }

  static func status(_ pid: Int32) -> String {
    (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
  }

  static func field(_ status: String, _ name: String) -> String? {
    status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
      $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
    }
  }

  @Test func createParksTheInitWithEveryFieldAppliedThenStartRunsIt() throws {
    let b = try Bundle { config in
      config["hostname"] = "oci-host"
      config["process"] = [
        "args": [
          "/bin/sh", "-c",
          "hostname > /out/r; id -u >> /out/r; id -G >> /out/r; pwd >> /out/r; echo $FOO >> /out/r; sleep 30",
        ],
        "env": ["PATH=/bin", "FOO=bar"], "cwd": "/tmp", "terminal": false,
        "user": ["uid": 1000, "gid": 1000, "additionalGids": [10, 20]],
        "capabilities": ["bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]],
        "rlimits": [["type": "RLIMIT_NOFILE", "soft": 123, "hard": 456]], "noNewPrivileges": true, "oomScoreAdj": 500,
      ]
      var linux = config["linux"] as? [String: Any] ?? [:]
      linux["resources"] = [
        "memory": ["limit": 67_108_864], "pids": ["limit": 42], "devices": [["allow": false, "access": "rwm"]],
      ]
      linux["cgroupsPath"] = "/bulkhead-oci-test/\(Harness.uniqueMarker())"
      config["linux"] = linux
    }
    defer { b.cleanup() }
    let created = try b.oci(["create", "--bundle", b.dir, "--pid-file", b.dir + "/pid", b.id])
    #expect(created.status == 0, "\(created.stderr)")
    let pidText = try String(contentsOfFile: b.dir + "/pid", encoding: .utf8)
    #expect(!pidText.hasSuffix("\n"))
    let pid = Int32(pidText) ?? 0
    var state = try b.state()
    #expect(state["status"] as? String == "created")
    #expect(state["pid"] as? Int == Int(pid))
    // From outside, while parked: identity, capabilities, no_new_privs, limits, cgroups.
    let st = Self.status(pid)
    #expect(Self.field(st, "Uid")?.hasPrefix("1000") == true)
    #expect(Self.field(st, "Groups") == "10 20")
    #expect(Self.field(st, "CapBnd") == String(format: "%016x", (1 << 5) | (1 << 0)))
    #expect(Self.field(st, "CapEff") == String(format: "%016x", 1 << 5))
    #expect(Self.field(st, "NoNewPrivs") == "1")
    let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
    #expect(
      limits.contains { _ in true }
        && limits.split(separator: "\n").contains {
          $0.hasPrefix("Max open files") && $0.contains("123") && $0.contains("456")
        })
    #expect(try String(contentsOfFile: "/proc/\(pid)/oom_score_adj", encoding: .utf8) == "500\n")
    let cgroupLines = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8).split(separator: "\n")
    let memory = cgroupLines.first { $0.contains(":memory:") }.map { String($0.split(separator: ":")[2]) } ?? "?"
    let pids = cgroupLines.first { $0.contains(":pids:") }.map { String($0.split(separator: ":")[2]) } ?? "?"
    #expect(memory.hasPrefix("/bulkhead-oci-test/"))
    #expect(
      try String(contentsOfFile: "/sys/fs/cgroup/memory\(memory)/memory.limit_in_bytes", encoding: .utf8)
        == "67108864\n")
    #expect(try String(contentsOfFile: "/sys/fs/cgroup/pids\(pids)/pids.max", encoding: .utf8) == "42\n")
    let devicesList = try String(contentsOfFile: "/sys/fs/cgroup/devices\(memory)/devices.list", encoding: .utf8)
    #expect(!devicesList.contains("a *:* rwm") && devicesList.contains("c 1:3 rwm"))
    #expect(!FileManager.default.fileExists(atPath: b.out + "/r"), "the process ran before start")

    #expect(try b.oci(["start", b.id]).status == 0)
    for _ in 0..<100
    where (try? String(contentsOfFile: b.out + "/r", encoding: .utf8))?.split(separator: "\n").count ?? 0 < 5 {
      usleep(20_000)
    }
    #expect(try String(contentsOfFile: b.out + "/r", encoding: .utf8) == "oci-host\n1000\n1000 10 20\n/tmp\nbar\n")
    state = try b.state()
    #expect(state["status"] as? String == "running")
    let again = try b.oci(["start", b.id])
    #expect(again.status == 1 && again.stderr.contains("cannot start an already running container"))
    let notStopped = try b.oci(["delete", b.id])
    #expect(notStopped.status == 1 && notStopped.stderr.contains("that is not stopped: running"))
    #expect(try b.oci(["kill", b.id, "sigkill"]).status == 0)
    for _ in 0..<100 where (try b.state())["status"] as? String != "stopped" { usleep(20_000) }
    state = try b.state()
    #expect(state["status"] as? String == "stopped")
    #expect(state["pid"] as? Int == 0)
    let killStopped = try b.oci(["kill", b.id])
    #expect(killStopped.status == 1 && killStopped.stderr.contains("container not running"))
    #expect(try b.oci(["delete", b.id]).status == 0)
    #expect(!FileManager.default.fileExists(atPath: b.root + "/" + b.id))
    #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory\(memory)"))
    #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/bulkhead-oci-test"))
    let gone = try b.oci(["state", b.id])
    #expect(gone.status == 1 && gone.stderr.contains("container does not exist"))
    // runc's answers to deleting what is not there: an error, and with --force
    // (engines send it after a failed create) a silent success.
    let deleteGone = try b.oci(["delete", b.id])
    #expect(deleteGone.status == 1 && deleteGone.stderr.contains("container does not exist"))
    let forceGone = try b.oci(["delete", "--force", b.id])
    #expect(forceGone.status == 0 && forceGone.stderr.isEmpty, "\(forceGone.stderr)")
  }

  /// Refused inputs: one line (and one JSON line in --log), exit 1, nothing left.
  @Test(arguments: [
    ("bad-json", "not valid JSON"), ("unknown-field", "linux.intelRdt"), ("slash-id", "invalid container id"),
    ("dotdot-id", "invalid container id"), ("root-symlink", "leads out of the bundle"),
    ("missing-command", "executable file not found in $PATH"), ("terminal", "process.terminal"),
    ("user-ns", "linux.namespaces[6].type"),
  ])
  func refusalsNameTheFieldAndLeaveNothing(_ testCase: (String, String)) throws {
    let b = try Bundle { config in
      var linux = config["linux"] as? [String: Any] ?? [:]
      switch testCase.0 {
      case "unknown-field": linux["intelRdt"] = ["closID": "x"]
      case "missing-command": Self.setProcess(&config, "args", ["nosuchcommand"])
      case "terminal": Self.setProcess(&config, "terminal", true)
      case "user-ns":
        var ns = linux["namespaces"] as? [[String: Any]] ?? []
        ns.append(["type": "user"])
        linux["namespaces"] = ns
      default: break
      }
      config["linux"] = linux
    }
    defer { b.cleanup() }
    var id = b.id
    switch testCase.0 {
    case "bad-json":
      try Data("{\"ociVersion\": \"1.0.2\", ".utf8).write(to: URL(fileURLWithPath: b.dir + "/config.json"))
    case "slash-id": id = "a/b"
    case "dotdot-id": id = ".."
    case "root-symlink":
      let text = try String(contentsOfFile: b.dir + "/config.json", encoding: .utf8)
      var config = try Harness.json(text)
      try FileManager.default.createSymbolicLink(atPath: b.dir + "/rootfs", withDestinationPath: Harness.rootfs)
      config["root"] = ["path": "rootfs"]
      try b.write(config)
    default: break
    }
    let r = try b.oci(["create", "--bundle", b.dir, id])
    #expect(r.status == 1)
    #expect(r.stderr.contains(testCase.1), "\(r.stderr)")
    #expect(r.stderr.split(separator: "\n").count == 1)
    let log = (try? String(contentsOfFile: b.dir + "/log.json", encoding: .utf8)) ?? ""
    #expect(log.split(separator: "\n").count == 1)
    let entry = try Harness.json(log)
    #expect(entry["level"] as? String == "error" && (entry["msg"] as? String)?.contains(testCase.1) == true)
    #expect(entry["time"] is String)
    #expect(((try? FileManager.default.contentsOfDirectory(atPath: b.root)) ?? []).isEmpty)
    #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/bulkhead/\(b.id)"))
  }

  /// `create` SIGKILLed at random moments: afterwards either nothing, or a container
  /// that `delete --force` removes; no process, cgroup or state directory stays.
  @Test func aCreateKilledAtRandomMomentsLeavesNothing() throws {
    let b = try Bundle { config in
      Self.setProcess(&config, "args", ["/bin/sleep", "30"])
    }
    defer { b.cleanup() }
    for attempt in 0..<20 {
      let id = "\(b.id)-\(attempt)"
      let delay = Int.random(in: 0...40_000)
      _ = try Harness.shell(
        "\"$BULKHEAD\" --root '\(b.root)' create --bundle '\(b.dir)' '\(id)' </dev/null >/dev/null 2>&1 & p=$!; sleep 0.\(String(format: "%06d", delay)); kill -9 $p; wait $p"
      )
      _ = try b.oci(["delete", "--force", id])
      #expect(((try? FileManager.default.contentsOfDirectory(atPath: b.root)) ?? []).isEmpty, "attempt \(attempt)")
      #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/bulkhead/\(id)"), "attempt \(attempt)")
      #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/bulkhead/\(id)"), "attempt \(attempt)")
    }
    #expect(Harness.waitUntilGone(b.dir).isEmpty)
  }

  /// /sys/fs/cgroup inside shows the container's own group, with a cgroup
  /// namespace (made once the init is in its group) or without one (binds of its
  /// directories, as runc makes them); /proc/self/cgroup says "/" in the first case.
  @Test(arguments: [true, false])
  func theCgroupViewIsTheContainersOwn(namespace: Bool) throws {
    let b = try Bundle { config in
      var linux = config["linux"] as? [String: Any] ?? [:]
      linux["resources"] = ["memory": ["limit": 48 << 20], "pids": ["limit": 33]]
      if !namespace {
        linux["namespaces"] = (linux["namespaces"] as? [[String: Any]] ?? []).filter {
          $0["type"] as? String != "cgroup"
        }
      }
      config["linux"] = linux
      Self.setProcess(
        &config, "args",
        [
          "/bin/sh", "-c",
          "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max > /out/limits; "
            + "grep -E ':(memory|pids):' /proc/self/cgroup > /out/cgroup",
        ])
    }
    defer { b.cleanup() }
    #expect(try b.oci(["create", "--bundle", b.dir, b.id]).status == 0)
    let pid = try b.state()["pid"] as? Int ?? 0
    let hostView = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
    #expect(try b.oci(["start", b.id]).status == 0)
    for _ in 0..<100 where (try b.state())["status"] as? String != "stopped" { usleep(20_000) }
    let limits = (try? String(contentsOfFile: b.out + "/limits", encoding: .utf8)) ?? ""
    #expect(limits == "\(48 << 20)\n33\n", "\(limits)")
    let inside = (try? String(contentsOfFile: b.out + "/cgroup", encoding: .utf8)) ?? ""
    let paths = inside.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 2).last.map(String.init) ?? "" }
    #expect(paths.count == 2, "\(inside)")
    if namespace {
      #expect(paths.allSatisfy { $0 == "/" }, "\(inside)")
    } else {
      // Without a namespace the workload sees the host's path, as the host does.
      #expect(paths.allSatisfy { $0.hasSuffix("/\(b.id)") && hostView.contains($0) }, "\(inside) vs \(hostView)")
    }
  }

  /// runtime-spec: "MUST ignore unknown properties" (a config written for a newer
  /// runtime); a property the spec defines but bulkhead cannot apply is refused.
  @Test func unknownPropertiesAreIgnoredAndKnownUnsupportedOnesRefused() throws {
    let b = try Bundle { config in
      config["org.example.future"] = ["x": 1]
      Self.setProcess(&config, "futureKnob", true)
      var linux = config["linux"] as? [String: Any] ?? [:]
      linux["futureThing"] = [1, 2]
      config["linux"] = linux
    }
    defer { b.cleanup() }
    let created = try b.oci(["create", "--bundle", b.dir, b.id])
    #expect(created.status == 0, "\(created.stderr)")
    #expect(try b.oci(["delete", "--force", b.id]).status == 0)
    var config = try Harness.json(String(contentsOfFile: b.dir + "/config.json", encoding: .utf8))
    Self.setProcess(&config, "ioPriority", ["class": "IOPRIO_CLASS_IDLE", "priority": 0])
    try b.write(config)
    let refused = try b.oci(["create", "--bundle", b.dir, b.id])
    #expect(refused.status == 1 && refused.stderr.contains("process.ioPriority"), "\(refused.stderr)")
  }

  /// linux.rootfsPropagation, set on the new root after pivot_root: the kernel's
  /// mountinfo of "/" inside names it (shared:N, unbindable; private has neither).
  @Test(arguments: ["shared", "unbindable", "private"])
  func rootfsPropagationIsTheRootsOwn(_ propagation: String) throws {
    let b = try Bundle { config in
      var linux = config["linux"] as? [String: Any] ?? [:]
      linux["rootfsPropagation"] = propagation
      config["linux"] = linux
      Self.setProcess(&config, "args", ["/bin/sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo > /out/root"])
    }
    defer { b.cleanup() }
    #expect(try b.oci(["create", "--bundle", b.dir, b.id]).status == 0)
    #expect(try b.oci(["start", b.id]).status == 0)
    for _ in 0..<100 where (try b.state())["status"] as? String != "stopped" { usleep(20_000) }
    let line = (try? String(contentsOfFile: b.out + "/root", encoding: .utf8)) ?? ""
    let fields = line.split(separator: " - ").first.map { $0.split(separator: " ").dropFirst(6) } ?? []
    switch propagation {
    case "shared": #expect(fields.contains { $0.hasPrefix("shared:") }, "\(line)")
    case "unbindable": #expect(fields.contains("unbindable"), "\(line)")
    default: #expect(fields.isEmpty, "\(line)")
    }
  }

  /// process.terminal with --console-socket, received as conmon and containerd do:
  /// one message, the pty's name as data and its master as SCM_RIGHTS (python3's
  /// socket.recv_fds, an outside receiver). The workload's stdio is the pty, sized as
  /// process.consoleSize says, and /dev/console is its slave.
  @Test func aTerminalGoesToTheConsoleSocket() throws {
    let b = try Bundle { config in
      Self.setProcess(&config, "terminal", true)
      Self.setProcess(&config, "consoleSize", ["height": 33, "width": 111])
      Self.setProcess(
        &config, "args", ["/bin/sh", "-c", "tty; stty size; stat -c '%t %T' /dev/console; readlink /proc/self/fd/1"])
    }
    defer { b.cleanup() }
    let receiver = """
      import os, socket, sys
      path, out = sys.argv[1], sys.argv[2]
      s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
      s.bind(path); s.listen(1)
      c, _ = s.accept()
      name, fds, _, _ = socket.recv_fds(c, 64, 1)
      data = b""
      while True:
          try:
              chunk = os.read(fds[0], 4096)
          except OSError:
              break
          if not chunk:
              break
          data += chunk
      open(out, "wb").write(name + b"\\n" + data)
      """
    try receiver.write(toFile: b.dir + "/receiver.py", atomically: true, encoding: .utf8)
    let socket = b.dir + "/console.sock"
    let r = try Harness.shell(
      """
      timeout 20 python3 '\(b.dir)/receiver.py' '\(socket)' '\(b.dir)/console.out' & p=$!
      for _ in $(seq 100); do [ -S '\(socket)' ] && break; sleep 0.02; done
      "$BULKHEAD" --root '\(b.root)' create --bundle '\(b.dir)' --console-socket '\(socket)' '\(b.id)' </dev/null || exit 10
      "$BULKHEAD" --root '\(b.root)' start '\(b.id)' || exit 11
      wait $p
      """)
    #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
    let out = (try? String(contentsOfFile: b.dir + "/console.out", encoding: .utf8)) ?? ""
    // The pty writes CR LF (onlcr), one Character in Swift: split on the bytes.
    let lines = out.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
    #expect(lines.first == "/dev/pts/0", "\(out)")
    #expect(lines.dropFirst().first == "/dev/pts/0", "\(out)")
    #expect(lines.contains("33 111"), "\(out)")
    #expect(lines.contains("88 0"), "/dev/console is pts 0 (major 136 = 0x88): \(out)")
    // A socket without a terminal is refused, as runc does.
    var config = try Harness.json(String(contentsOfFile: b.dir + "/config.json", encoding: .utf8))
    Self.setProcess(&config, "terminal", false)
    try b.write(config)
    let refused = try b.oci(["create", "--bundle", b.dir, "--console-socket", socket, b.id + "-2"])
    #expect(refused.status == 1 && refused.stderr.contains("process.terminal is false"), "\(refused.stderr)")
  }

  /// exec: another process in the running container: its namespaces (the init's
  /// uts and pid namespaces, read from outside too), its cgroup, the config's
  /// identity; the exit status passes through; --detach writes the pid file and
  /// leaves the process to the caller; a stopped container refuses.
  @Test func execJoinsTheContainer() throws {
    let b = try Bundle { config in
      config["hostname"] = "exec-host"
      Self.setProcess(&config, "args", ["/bin/sleep", "30"])
      var linux = config["linux"] as? [String: Any] ?? [:]
      linux["resources"] = ["pids": ["limit": 40]]
      config["linux"] = linux
    }
    defer { b.cleanup() }
    #expect(try b.oci(["create", "--bundle", b.dir, b.id]).status == 0)
    #expect(try b.oci(["start", b.id]).status == 0)
    let initPID = try b.state()["pid"] as? Int ?? 0
    let r = try b.oci([
      "exec", "--env", "X=1", b.id, "sh", "-c",
      "hostname; echo $$ $X; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null; for k in uts pid mnt; do readlink /proc/self/ns/$k; done; exit 7",
    ])
    #expect(r.status == 7, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first == "exec-host", "\(r.stdout)")
    #expect(lines.dropFirst().first == "2 1", "the second process of the pid namespace: \(r.stdout)")
    for kind in ["uts", "pid", "mnt"] {
      let outside = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(initPID)/ns/\(kind)")) ?? "?"
      #expect(lines.contains(outside), "\(kind): \(outside) not in \(r.stdout)")
    }
    let missing = try b.oci(["exec", b.id, "nosuchcommand"])
    #expect(missing.status == 1 && missing.stderr.contains("executable file not found in $PATH"), "\(missing.stderr)")
    let pidFile = b.dir + "/exec.pid"
    let detached = try b.oci(["exec", "--detach", "--pid-file", pidFile, b.id, "sleep", "20"])
    #expect(detached.status == 0, "\(detached.stderr)")
    let pid = Int32((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "") ?? 0
    #expect(pid > 0 && kill(pid, 0) == 0, "the detached process \(pid) is running")
    let cgroup = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
    #expect(cgroup.contains(":pids:") && cgroup.contains("/\(b.id)\n"), "\(cgroup)")
    // ps: the init and the detached process, as the host numbers them.
    let ps = try b.oci(["ps", "--format", "json", b.id])
    let pids = (try? JSONSerialization.jsonObject(with: Data(ps.stdout.utf8))) as? [Int] ?? []
    #expect(pids.contains(initPID) && pids.contains(Int(pid)), "\(ps.stdout) \(ps.stderr)")
    // pause / resume: the freezer's own file says FROZEN, and the state says paused.
    let freezer = cgroup.split(separator: "\n").first { $0.contains(":freezer:") }.map {
      "/sys/fs/cgroup/freezer" + String($0.split(separator: ":", maxSplits: 2)[2]) + "/freezer.state"
    }
    #expect(try b.oci(["pause", b.id]).status == 0)
    #expect(freezer.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } == "FROZEN\n")
    #expect(try b.state()["status"] as? String == "paused")
    let listed = try b.oci(["list", "--format", "json"])
    let entries = (try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8))) as? [[String: Any]] ?? []
    #expect(entries.contains { $0["id"] as? String == b.id && $0["status"] as? String == "paused" }, "\(listed.stdout)")
    let again = try b.oci(["pause", b.id])
    #expect(again.status == 1 && again.stderr.contains("container not running"), "\(again.stderr)")
    let frozenExec = try b.oci(["exec", b.id, "true"])
    #expect(frozenExec.status == 1 && frozenExec.stderr.contains("cannot exec in a paused container"))
    // Edits to config.json after create do not reach exec (it reads create's copy).
    var edited = try Harness.json(String(contentsOfFile: b.dir + "/config.json", encoding: .utf8))
    edited["hostname"] = "edited-later"
    try b.write(edited)
    #expect(try b.oci(["resume", b.id]).status == 0)
    #expect(freezer.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } == "THAWED\n")
    #expect(try b.state()["status"] as? String == "running")
    #expect(try b.oci(["exec", b.id, "hostname"]).stdout == "exec-host\n")
    let badPidFile = try b.oci(["exec", "--detach", "--pid-file", "/nonexistent-dir/p", b.id, "sleep", "20"])
    #expect(badPidFile.status == 1)
    let stillThere = try b.oci(["ps", "--format", "json", b.id]).stdout
    #expect(
      ((try? JSONSerialization.jsonObject(with: Data(stillThere.utf8))) as? [Int] ?? []).count == 2, "\(stillThere)")
    #expect(try b.oci(["kill", b.id, "KILL"]).status == 0)
    for _ in 0..<100 where (try b.state())["status"] as? String != "stopped" { usleep(20_000) }
    let stopped = try b.oci(["exec", b.id, "true"])
    #expect(stopped.status == 1 && stopped.stderr.contains("cannot exec in a stopped container"), "\(stopped.stderr)")
  }

  /// 50 containers created, started, killed and deleted by parallel commands (ten
  /// at a time) through one --root: every command finishes, each container's life
  /// is complete, and no state directory, cgroup or process is left.
  @Test func fiftyParallelLifecyclesThroughOneRoot() throws {
    let b = try Bundle { config in
      Self.setProcess(&config, "args", ["/bin/sleep", "30"])
    }
    defer { b.cleanup() }
    let script = """
      life() {
        id="\(b.id)-$1"; B() { timeout 30 "$BULKHEAD" --root '\(b.root)' "$@" </dev/null; }
        B create --bundle '\(b.dir)' "$id" >/dev/null 2>&1 || { echo "create $1"; return; }
        B start "$id" 2>/dev/null || { echo "start $1"; return; }
        B state "$id" | grep -q '"running"' || echo "state $1"
        B kill "$id" KILL 2>/dev/null || echo "kill $1"
        for _ in $(seq 100); do B state "$id" | grep -q '"stopped"' && break; sleep 0.02; done
        B delete "$id" 2>/dev/null || echo "delete $1"
        echo "done $1"
      }
      for i in $(seq 1 50); do life "$i" & if [ $((i % 10)) -eq 0 ]; then wait; fi; done; wait
      """
    let r = try Harness.shell(script)
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines.filter { $0.hasPrefix("done ") }.count == 50, "\(r.stdout)")
    #expect(lines.filter { !$0.hasPrefix("done ") }.isEmpty, "\(r.stdout)")
    #expect(((try? FileManager.default.contentsOfDirectory(atPath: b.root)) ?? []).isEmpty)
    let groups = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/memory/bulkhead")) ?? [])
      .filter { $0.hasPrefix(b.id) }
    #expect(groups.isEmpty, "\(groups)")
    #expect(Harness.waitUntilGone(b.dir).isEmpty)
  }

  /// The memory extras and cpuset, read from the host's cgroup files of the parked
  /// init; kernel memory, which this kernel accepts and ignores, is applied with a
  /// warning that says so.
  @Test func memoryExtrasAndCpusetAreTheKernels() throws {
    let b = try Bundle { config in
      Self.setProcess(&config, "args", ["/bin/sleep", "30"])
      var linux = config["linux"] as? [String: Any] ?? [:]
      linux["resources"] = [
        "memory": ["limit": 64 << 20, "swappiness": 10, "disableOOMKiller": true, "kernelTCP": 32 << 20],
        "cpu": ["cpus": "0", "mems": "0", "quota": 50000, "period": 100000],
      ]
      config["linux"] = linux
    }
    defer { b.cleanup() }
    let created = try b.oci(["create", "--bundle", b.dir, b.id])
    #expect(created.status == 0, "\(created.stderr)")
    let pid = try b.state()["pid"] as? Int ?? 0
    let cgroups = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
    func file(_ controller: String, _ name: String) -> String {
      let path =
        cgroups.split(separator: "\n").compactMap { line -> String? in
          let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
          return f.count == 3 && f[1].split(separator: ",").contains(Substring(controller)) ? String(f[2]) : nil
        }.first ?? "/?"
      return ((try? String(contentsOfFile: "/sys/fs/cgroup/\(controller)\(path)/\(name)", encoding: .utf8)) ?? "")
        .trimmingCharacters(in: .whitespacesAndNewlines)
    }
    #expect(file("memory", "memory.swappiness") == "10")
    #expect(file("memory", "memory.oom_control").hasPrefix("oom_kill_disable 1"))
    #expect(file("memory", "memory.kmem.tcp.limit_in_bytes") == "\(32 << 20)")
    #expect(file("cpuset", "cpuset.cpus") == "0")
    #expect(file("cpuset", "cpuset.mems") == "0")
    #expect(file("cpu", "cpu.cfs_quota_us") == "50000")
    #expect(try b.oci(["delete", "--force", b.id]).status == 0)
    var config = try Harness.json(String(contentsOfFile: b.dir + "/config.json", encoding: .utf8))
    var linux = config["linux"] as? [String: Any] ?? [:]
    linux["resources"] = ["memory": ["kernel": 64 << 20]]
    config["linux"] = linux
    try b.write(config)
    let kernel = try b.oci(["create", "--bundle", b.dir, b.id])
    #expect(kernel.status == 0, "\(kernel.stderr)")
    let kpid = try b.state()["pid"] as? Int ?? 0
    let kgroups = (try? String(contentsOfFile: "/proc/\(kpid)/cgroup", encoding: .utf8)) ?? ""
    let kmem = kgroups.split(separator: "\n").first { $0.contains(":memory:") }.map {
      "/sys/fs/cgroup/memory" + String($0.split(separator: ":", maxSplits: 2)[2]) + "/memory.kmem.limit_in_bytes"
    }
    let enforced = kmem.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }?.trimmingCharacters(
      in: .whitespacesAndNewlines)
    // Either the kernel holds the limit, or bulkhead says it does not (never silence).
    #expect(enforced == "\(64 << 20)" || kernel.stderr.contains("memory.kernel: not enforced"), "\(kernel.stderr)")
  }

  /// A pod: the second container joins the first's network, IPC, UTS and pid
  /// namespaces by path (as containerd's CRI does with the pause container); the
  /// kernel's /proc/PID/ns links say so from outside, and its mount namespace is
  /// its own. A path that is not there, or a kind not joinable, is refused cleanly.
  @Test func aPodJoinsThePauseContainersNamespacesByPath() throws {
    let pause = try Bundle { config in
      config["hostname"] = "pod-host"
      Self.setProcess(&config, "args", ["/bin/sleep", "30"])
    }
    defer { pause.cleanup() }
    #expect(try pause.oci(["create", "--bundle", pause.dir, pause.id]).status == 0)
    let pausePID = try pause.state()["pid"] as? Int ?? 0
    let joined = ["network": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"]
    let app = try Bundle { config in
      config.removeValue(forKey: "hostname")
      Self.setProcess(&config, "args", ["/bin/sh", "-c", "hostname > /out/host; sleep 30"])
      var linux = config["linux"] as? [String: Any] ?? [:]
      var ns = (linux["namespaces"] as? [[String: Any]] ?? []).filter { joined[$0["type"] as? String ?? ""] == nil }
      for (type, link) in joined { ns.append(["type": type, "path": "/proc/\(pausePID)/ns/\(link)"]) }
      linux["namespaces"] = ns
      config["linux"] = linux
    }
    defer { app.cleanup() }
    let created = try app.oci(["create", "--bundle", app.dir, app.id])
    #expect(created.status == 0, "\(created.stderr)")
    #expect(try app.oci(["start", app.id]).status == 0)
    let appPID = try app.state()["pid"] as? Int ?? 0
    func link(_ pid: Int, _ kind: String) -> String {
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(kind)")) ?? "?"
    }
    for kind in joined.values { #expect(link(appPID, kind) == link(pausePID, kind), "\(kind)") }
    #expect(link(appPID, "mnt") != link(pausePID, "mnt"))
    for _ in 0..<50 where !FileManager.default.fileExists(atPath: app.out + "/host") { usleep(20_000) }
    #expect((try? String(contentsOfFile: app.out + "/host", encoding: .utf8)) == "pod-host\n")
    // exec into the app lands in the pod's namespaces too.
    let exec = try app.oci(["exec", app.id, "hostname"])
    #expect(exec.stdout == "pod-host\n", "\(exec.stdout) \(exec.stderr)")

    var config = try Harness.json(String(contentsOfFile: app.dir + "/config.json", encoding: .utf8))
    var linux = config["linux"] as? [String: Any] ?? [:]
    var ns = linux["namespaces"] as? [[String: Any]] ?? []
    ns = ns.map { $0["type"] as? String == "network" ? ["type": "network", "path": "/proc/999999999/ns/net"] : $0 }
    linux["namespaces"] = ns
    config["linux"] = linux
    try app.write(config)
    let missing = try app.oci(["create", "--bundle", app.dir, app.id + "-2"])
    #expect(missing.status == 1 && missing.stderr.contains("/proc/999999999/ns/net"), "\(missing.stderr)")
    ns.append(["type": "user", "path": "/proc/\(pausePID)/ns/user"])
    linux["namespaces"] = ns
    config["linux"] = linux
    try app.write(config)
    let user = try app.oci(["create", "--bundle", app.dir, app.id + "-3"])
    #expect(user.status == 1 && user.stderr.contains("user namespaces are not supported yet"), "\(user.stderr)")
    let left = ((try? FileManager.default.contentsOfDirectory(atPath: app.root)) ?? []).filter { $0 != app.id }
    #expect(left.isEmpty, "\(left)")
  }

  /// Hooks in the runtime's namespaces: each gets the state JSON on stdin (the
  /// init's host pid, the status of its phase), they run in the listed order, a
  /// failing or timed-out prestart ends create with nothing left, and a failing
  /// poststart is a warning while the container runs on.
  @Test func hooksRunInOrderWithTheStateOnStdin() throws {
    let log = NSTemporaryDirectory() + "bulkhead-hooks-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: log, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: log) }
    func hook(_ name: String) -> [String: Any] {
      ["path": "/bin/sh", "args": ["sh", "-c", "cat > \(log)/\(name).json; echo \(name) >> \(log)/order"]]
    }
    let b = try Bundle { config in
      Self.setProcess(&config, "args", ["/bin/sleep", "30"])
      config["hooks"] = [
        "prestart": [hook("prestart")], "createRuntime": [hook("createRuntime-1"), hook("createRuntime-2")],
        "poststart": [hook("poststart"), ["path": "/bin/false"]], "poststop": [hook("poststop")],
      ]
    }
    defer { b.cleanup() }
    #expect(try b.oci(["create", "--bundle", b.dir, b.id]).status == 0)
    let pid = try b.state()["pid"] as? Int ?? -1
    let started = try b.oci(["start", b.id])
    #expect(started.status == 0, "a failing poststart hook is a warning: \(started.stderr)")
    #expect(
      started.stderr.contains("warning: hooks.poststart[1] (/bin/false): exited with status 1"), "\(started.stderr)")
    #expect(try b.oci(["delete", "--force", b.id]).status == 0)
    let order = (try? String(contentsOfFile: log + "/order", encoding: .utf8)) ?? ""
    #expect(order == "prestart\ncreateRuntime-1\ncreateRuntime-2\npoststart\npoststop\n", "\(order)")
    for (name, status) in [
      ("prestart", "created"), ("createRuntime-2", "created"), ("poststart", "running"), ("poststop", "stopped"),
    ] {
      let state = try Harness.json((try? String(contentsOfFile: "\(log)/\(name).json", encoding: .utf8)) ?? "")
      #expect(state["id"] as? String == b.id && state["status"] as? String == status, "\(name): \(state)")
      #expect(state["pid"] as? Int == pid, "\(name): the init's pid as the host sees it")
    }
    // A prestart that fails, or outlives its timeout: create fails and leaves nothing.
    for (hooks, words) in [
      (["prestart": [["path": "/bin/false"]]], "hooks.prestart[0] (/bin/false): exited with status 1"),
      (["createRuntime": [["path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1]]], "timed out after 1 s"),
    ] {
      var config = try Harness.json(String(contentsOfFile: b.dir + "/config.json", encoding: .utf8))
      config["hooks"] = hooks
      try b.write(config)
      let failed = try b.oci(["create", "--bundle", b.dir, b.id])
      #expect(failed.status == 1 && failed.stderr.contains(words), "\(failed.stderr)")
      #expect(((try? FileManager.default.contentsOfDirectory(atPath: b.root)) ?? []).isEmpty)
      #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/bulkhead/\(b.id)"))
    }
    #expect(Harness.waitUntilGone(b.dir).isEmpty)
  }

  /// `kill --all` reaches every process of the container's cgroup (not only the
  /// init), and `delete` of a created container (no --force: containerd calls it so)
  /// succeeds and ends its parked init.
  @Test func killAllReachesEveryProcessAndACreatedContainerDeletes() throws {
    let b = try Bundle { config in
      Self.setProcess(&config, "args", ["/bin/sh", "-c", "sleep 40 & sleep 40 & wait"])
    }
    defer { b.cleanup() }
    #expect(try b.oci(["create", "--bundle", b.dir, b.id]).status == 0)
    #expect(try b.oci(["start", b.id]).status == 0)
    var pids: [Int] = []
    for _ in 0..<100 where pids.count < 3 {
      pids =
        (try? JSONSerialization.jsonObject(with: Data(try b.oci(["ps", "--format", "json", b.id]).stdout.utf8)))
        as? [Int] ?? []
      usleep(20_000)
    }
    #expect(pids.count == 3, "the shell and its two sleeps: \(pids)")
    // Gone, or a zombie waiting for whoever reaps it here.
    func dead(_ pid: Int) -> Bool {
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
      return stat.contains(") Z ") || stat.contains(") X ")
    }
    // TERM to the init alone: a pid namespace's init without a handler ignores it.
    #expect(try b.oci(["kill", b.id, "TERM"]).status == 0)
    usleep(300_000)
    #expect(pids.allSatisfy { !dead($0) }, "plain kill reached only the init, which ignores TERM: \(pids)")
    // --all: the two sleeps die of it, and the shell's wait returns.
    #expect(try b.oci(["kill", "--all", b.id, "TERM"]).status == 0)
    for _ in 0..<150 where !pids.allSatisfy(dead) { usleep(20_000) }
    #expect(pids.allSatisfy(dead), "every process of the cgroup got the signal: \(pids)")
    #expect(try b.oci(["delete", b.id]).status == 0)

    #expect(try b.oci(["create", "--bundle", b.dir, b.id]).status == 0)
    let parked = try b.state()["pid"] as? Int ?? 0
    #expect(try b.state()["status"] as? String == "created")
    let deleted = try b.oci(["delete", b.id])
    #expect(deleted.status == 0, "\(deleted.stderr)")
    #expect(dead(parked), "the parked init \(parked) is gone")
    #expect(!FileManager.default.fileExists(atPath: b.root + "/" + b.id))
  }

  @Test func versionSpecAndFeatures() throws {
    let v = try Harness.run(["--version"])
    #expect(v.status == 0 && v.stdout.contains("spec: 1.0.2"))
    let f = try Harness.run(["features"])
    let features = try Harness.json(f.stdout)
    #expect(features["ociVersionMax"] as? String == "1.0.2")
    // What it lists is what it does: the four hooks of the runtime's namespaces.
    #expect(features["hooks"] as? [String] == ["prestart", "createRuntime", "poststart", "poststop"])
    let seccomp = (features["linux"] as? [String: Any])?["seccomp"] as? [String: Any] ?? [:]
    #expect((seccomp["operators"] as? [String])?.contains("SCMP_CMP_MASKED_EQ") == true, "\(seccomp)")
    #expect((seccomp["actions"] as? [String])?.contains("SCMP_ACT_NOTIFY") == false, "\(seccomp)")
    let unknown = try Harness.run(["--root", "/nonexistent", "--no-such-flag", "state", "x"])
    #expect(unknown.status == 1 && unknown.stderr.contains("flag provided but not defined"))
    // A command's --help is its usage, not an error; an unknown flag says where to look.
    let help = try Harness.run(["create", "--help"])
    #expect(help.status == 0 && help.stdout.contains("create --bundle DIR") && help.stdout.contains("exec "))
    let bad = try Harness.run(["create", "--nope", "x"])
    #expect(bad.status == 1 && bad.stderr.contains("(see bulkhead create --help)"), "\(bad.stderr)")
  }
}
