import Foundation
import Testing

/// One podman installation of the test's own: storage, run and temp directories
/// under one temp dir, removed (with the cgroups podman made) by `close()`.
final class PodmanEngine {
  static var podman: String? {
    ["/usr/bin/podman", "/usr/local/bin/podman"].first { FileManager.default.isExecutableFile(atPath: $0) }
  }
  static var available: Bool { Harness.canRunContainers && podman != nil }
  static let reason: Comment = "needs root, a built bulkhead, a populated Rootfs and podman (Scripts/setup installs it)"
  static let image = "localhost/bulkhead-rootfs:test"
  static let controllers = ["memory", "pids", "cpu", "cpuacct", "devices", "freezer", "blkio", "cpuset", "systemd"]

  let dir: String
  let cgroupsBefore: Set<String>

  init() throws {
    cgroupsBefore = Self.podmanCgroups()
    dir = NSTemporaryDirectory() + "bulkhead-podman-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
    let conf = """
      [containers]
      netns = "host"
      default_ulimits = []
      log_driver = "k8s-file"
      [engine]
      cgroup_manager = "cgroupfs"
      events_logger = "file"
      events_logfile_path = "\(dir)/events.log"
      tmp_dir = "\(dir)/tmp"
      static_dir = "\(dir)/storage/libpod"
      volume_path = "\(dir)/storage/volumes"
      runtime_supports_json = ["crun", "runc", "bulkhead"]
      [engine.runtimes]
      bulkhead = ["\(Harness.bulkhead)"]
      """
    try conf.write(toFile: dir + "/containers.conf", atomically: true, encoding: .utf8)
    let storage = """
      [storage]
      driver = "overlay"
      graphroot = "\(dir)/storage"
      runroot = "\(dir)/run"
      """
    try storage.write(toFile: dir + "/storage.conf", atomically: true, encoding: .utf8)
    let tar = try Harness.shell("tar -C '\(Harness.rootfs)' -cf '\(dir)/rootfs.tar' . 2>&1")
    #expect(tar.status == 0, "\(tar.stdout)")
    let imported = try podman("import -q '\(dir)/rootfs.tar' \(Self.image)")
    #expect(imported.status == 0, "podman import: \(imported.stderr)")
  }

  /// `podman ARGS` with bulkhead as the runtime (or `runtime`).
  func podman(_ args: String, runtime: String? = nil) throws -> Harness.Result {
    try script("P \(args)", runtime: runtime)
  }

  /// A shell script in which `P` is podman with this engine's files and runtime,
  /// run as a daemon's parent must be (see `Harness.spawnDetached`).
  func script(_ body: String, runtime: String? = nil) throws -> Harness.Result {
    let text = """
      P() { '\(Self.podman ?? "podman")' --runtime '\(runtime ?? Harness.bulkhead)' "$@"; }
      \(body)
      """
    let status = Harness.spawnDetached(
      ["/bin/sh", "-c", text],
      environment: [
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "CONTAINERS_CONF=\(dir)/containers.conf",
        "CONTAINERS_STORAGE_CONF=\(dir)/storage.conf",
      ], output: dir + "/stdout", errors: dir + "/stderr")
    let out = (try? String(contentsOfFile: dir + "/stdout", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? ""
    return Harness.Result(status: status, stdout: out, stderr: err)
  }

  /// podman's own cgroups (libpod_parent and what is below it), in every hierarchy.
  static func podmanCgroups() -> Set<String> {
    var out: Set<String> = []
    for c in controllers {
      let base = "/sys/fs/cgroup/\(c)/libpod_parent"
      guard FileManager.default.fileExists(atPath: base) else { continue }
      out.insert(base)
      for entry in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: base + "/" + entry, isDirectory: &isDir), isDir.boolValue {
          out.insert(base + "/" + entry)
        }
      }
    }
    return out
  }

  /// Mount points under the engine's directory.
  func mounts() -> [String] {
    let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
      let f = line.split(separator: " ")
      return f.count > 4 && f[4].hasPrefix(dir) ? String(f[4]) : nil
    }
  }

  func close() {
    _ = try? podman("rm -af -t 0")
    _ = try? podman("rmi -af")
    for m in mounts().sorted(by: { $0.count > $1.count }) { umount2(m, Int32(MNT_DETACH)) }
    try? FileManager.default.removeItem(atPath: dir)
    // What podman made for conmon (libpod_parent/conmon, and libpod_parent itself),
    // when they were not there before and are empty (rmdir refuses otherwise); a
    // container's libpod-ID group is bulkhead's to remove, at delete.
    let made = Self.podmanCgroups().subtracting(cgroupsBefore).filter {
      $0.hasSuffix("/libpod_parent") || $0.hasSuffix("/libpod_parent/conmon")
    }.sorted { $0.count > $1.count }
    for path in made { rmdir(path) }
  }
}

/// podman 4.3 (Debian's) drives `bulkhead` as its OCI runtime, configured only by
/// files under a temp dir (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), with an image
/// imported from a tar of the project's Rootfs. What podman asked for is read back
/// from outside: the cgroup files of the container's cgroup, /proc/PID/status and
/// mountinfo, and the UTS namespace through nsenter.
@Suite(
  "podman runs its containers with bulkhead", .serialized,
  .enabled(if: PodmanEngine.available, PodmanEngine.reason))
struct PodmanTests {
  static func field(_ text: String, _ name: String) -> String? {
    text.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
      $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
    }
  }

  @Test func exitStatusesPassThroughPodmanAsWithRunc() throws {
    let engine = try PodmanEngine()
    defer { engine.close() }
    let ok = try engine.podman("run --rm \(PodmanEngine.image) /bin/true")
    #expect(ok.status == 0, "\(ok.stderr)")
    let three = try engine.podman("run --rm \(PodmanEngine.image) sh -c 'echo out; exit 3'")
    #expect(three.status == 3, "\(three.stderr)")
    #expect(three.stdout == "out\n")
    let missing = try engine.podman("run --rm \(PodmanEngine.image) /no/such/command")
    #expect(missing.status == 127, "\(missing.stderr)")
    #expect(missing.stderr.contains("executable file not found in $PATH"), "\(missing.stderr)")
    // podman deletes a container whose create failed; bulkhead says nothing then, as runc.
    #expect(!missing.stderr.contains("container does not exist"), "\(missing.stderr)")
    // -t: conmon receives the pty through bulkhead's --console-socket.
    let tty = try engine.podman("run --rm -t \(PodmanEngine.image) sh -c 'tty; exit 4'")
    #expect(tty.status == 4, "\(tty.stderr)")
    #expect(tty.stdout.contains("/dev/pts/0"), "\(tty.stdout)")
    // The same three with runc, in the same engine: the reference.
    if FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") {
      #expect(try engine.podman("run --rm \(PodmanEngine.image) sh -c 'exit 3'", runtime: "/usr/sbin/runc").status == 3)
      #expect(
        try engine.podman("run --rm \(PodmanEngine.image) /no/such/command", runtime: "/usr/sbin/runc").status == 127)
    }
  }

  @Test func podmansLimitsAreTheKernelsFromOutsideAndStopAndKillWork() throws {
    let engine = try PodmanEngine()
    defer { engine.close() }
    let started = try engine.podman(
      "run -d --memory 64m --pids-limit 50 --cap-drop all --read-only --hostname podman-bh \(PodmanEngine.image) "
        + "sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max > /tmp/seen; exec sleep 60'"
    )
    #expect(started.status == 0, "\(started.stderr)")
    let id = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    let inspected = try engine.podman("inspect -f '{{.State.Pid}}' \(id)")
    let pid = Int32(inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    try #require(pid > 0, "podman inspect: \(inspected.stdout) \(inspected.stderr)")

    let cgroups = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
    func path(_ controller: String) -> String? {
      cgroups.split(separator: "\n").compactMap { line -> String? in
        let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        return f.count == 3 && f[1].split(separator: ",").contains(Substring(controller)) ? String(f[2]) : nil
      }.first
    }
    let memory = try #require(path("memory"), "\(cgroups)")
    let pids = try #require(path("pids"), "\(cgroups)")
    #expect(memory.hasSuffix("libpod-\(id)"), "\(memory)")
    func read(_ file: String) -> String {
      ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
    #expect(read("/sys/fs/cgroup/memory\(memory)/memory.limit_in_bytes") == "\(64 << 20)")
    #expect(read("/sys/fs/cgroup/pids\(pids)/pids.max") == "50")
    let status = read("/proc/\(pid)/status")
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
      #expect(Self.field(status, set) == "0000000000000000", "\(set) in \(status)")
    }
    // The root is mounted read-only (mountinfo's fifth field is the mount point).
    let mountinfo = read("/proc/\(pid)/mountinfo")
    let root = mountinfo.split(separator: "\n").first {
      $0.split(separator: " ").count > 5 && $0.split(separator: " ")[4] == "/"
    }
    #expect(root.map { $0.split(separator: " ")[5].split(separator: ",").contains("ro") } == true, "\(root ?? "")")
    let uts = try Harness.shell("nsenter -t \(pid) -u hostname")
    #expect(uts.stdout == "podman-bh\n", "\(uts.stderr)")
    // Inside, /sys/fs/cgroup shows the container's own cgroup (as with runc).
    var seen = ""
    for _ in 0..<50 {
      seen = read("/proc/\(pid)/root/tmp/seen")
      if !seen.isEmpty { break }
      usleep(20_000)
    }
    #expect(seen.split(separator: "\n") == ["\(64 << 20)", "50"], "\(seen)")

    // podman stop: sh's exec'd sleep is PID 1 and ignores SIGTERM, so podman
    // escalates to SIGKILL through `bulkhead kill`; the container ends up exited.
    let stopped = try engine.podman("stop -t 1 \(id)")
    #expect(stopped.status == 0, "\(stopped.stderr)")
    #expect(try engine.podman("inspect -f '{{.State.Status}}' \(id)").stdout == "exited\n")
    #expect(kill(pid, 0) != 0, "the init \(pid) outlived podman stop")
    #expect(try engine.podman("rm \(id)").status == 0)

    let second = try engine.podman("run -d \(PodmanEngine.image) sleep 60")
    // podman exec: conmon runs `bulkhead exec --process FILE --detach --pid-file F`.
    let execID = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    let exec = try engine.podman("exec \(execID) sh -c 'echo in-$$; exit 5'")
    #expect(exec.status == 5 && exec.stdout == "in-2\n", "\(exec.stdout) \(exec.stderr)")
    let execTTY = try engine.podman("exec -t \(execID) tty")
    #expect(execTTY.status == 0 && execTTY.stdout.contains("/dev/pts/"), "\(execTTY.stdout) \(execTTY.stderr)")
    #expect(try engine.podman("exec \(execID) /no/such/command").status == 127)
    let other = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(second.status == 0, "\(second.stderr)")
    #expect(try engine.podman("pause \(other)").status == 0)
    #expect(try engine.podman("inspect -f '{{.State.Status}}' \(other)").stdout == "paused\n")
    #expect(try engine.podman("unpause \(other)").status == 0)
    #expect(try engine.podman("inspect -f '{{.State.Status}}' \(other)").stdout == "running\n")
    // A signal the workload handles: sh traps USR1 and writes a file podman's exec reads.
    let trapper = try engine.podman(
      "run -d \(PodmanEngine.image) sh -c 'trap \"echo got > /tmp/usr1\" USR1; while :; do sleep 0.1; done'")
    let trapperID = trapper.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(trapper.status == 0, "\(trapper.stderr)")
    #expect(try engine.podman("kill -s USR1 \(trapperID)").status == 0)
    var got = ""
    for _ in 0..<50 where got != "got\n" {
      got = try engine.podman("exec \(trapperID) cat /tmp/usr1").stdout
      usleep(50_000)
    }
    #expect(got == "got\n", "the trap did not run: \(got)")
    #expect(try engine.podman("rm -f -t 0 \(trapperID)").status == 0)
    let killed = try engine.podman("kill -s KILL \(other)")
    #expect(killed.status == 0, "\(killed.stderr)")
    let waited = try engine.podman("wait \(other)")
    #expect(waited.stdout == "137\n", "\(waited.stdout) \(waited.stderr)")
    #expect(try engine.podman("rm \(other)").status == 0)
  }

  @Test func aHundredRunsLeaveNothingBehind() throws {
    let engine = try PodmanEngine()
    defer { engine.close() }
    let stateBefore = Set((try? FileManager.default.contentsOfDirectory(atPath: "/run/bulkhead")) ?? [])
    let loop = try engine.script(
      "for i in $(seq 1 100); do P run --rm \(PodmanEngine.image) /bin/true || exit $i; done")
    #expect(loop.status == 0, "run \(loop.status) failed: \(loop.stderr)")
    let listed = try engine.podman("ps -aq")
    #expect(listed.stdout.isEmpty, "\(listed.stdout)")
    let stateAfter = Set((try? FileManager.default.contentsOfDirectory(atPath: "/run/bulkhead")) ?? [])
    // podman's IDs are 64 hex digits (the host-view suite's "stage" comes and goes).
    let left = stateAfter.subtracting(stateBefore).filter { $0.count == 64 || $0.hasPrefix(".creating-") }
    #expect(left.isEmpty, "\(left)")
    let containers = PodmanEngine.podmanCgroups().filter { $0.contains("/libpod-") }
    #expect(containers.isEmpty, "\(containers)")
    let mounts = engine.mounts().filter { $0.contains("/merged") || $0.contains("/shm") }
    #expect(mounts.isEmpty, "\(mounts)")
  }
}
