import Foundation
import Testing

/// One containerd of the test's own (Debian's 1.6): config, root, state, socket and
/// the runtime's --root under a temp dir, the CRI plugin off; stopped, its shims
/// gone and its files removed by `close()`.
final class ContainerdEngine {
  static var available: Bool {
    PodmanEngine.available && FileManager.default.isExecutableFile(atPath: "/usr/bin/containerd")
      && FileManager.default.isExecutableFile(atPath: "/usr/bin/ctr")
  }
  static let reason: Comment =
    "needs root, a built bulkhead, a populated Rootfs, podman (to make the image) and containerd (Scripts/setup installs them)"

  let dir: String
  let namespace = "bh\(Harness.uniqueMarker())"
  var daemon: Int32 = 0

  init() throws {
    dir = NSTemporaryDirectory() + "bulkhead-containerd-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let config = """
      version = 2
      root = "\(dir)/root"
      state = "\(dir)/state"
      disabled_plugins = ["io.containerd.grpc.v1.cri"]
      [grpc]
        address = "\(dir)/containerd.sock"
      [ttrpc]
        address = "\(dir)/containerd.sock.ttrpc"
      """
    try config.write(toFile: dir + "/config.toml", atomically: true, encoding: .utf8)
    // The daemon is a grandchild of the test (sh exits at once), with a clean signal mask.
    _ = Harness.spawnDetached(
      [
        "/bin/sh", "-c", "/usr/bin/containerd --config '\(dir)/config.toml' >'\(dir)/log' 2>&1 & echo $! >'\(dir)/pid'",
      ],
      environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], output: "/dev/null")
    daemon =
      Int32(
        ((try? String(contentsOfFile: dir + "/pid", encoding: .utf8)) ?? "").trimmingCharacters(
          in: .whitespacesAndNewlines)) ?? 0
    // From here a failure stops the daemon and removes its files before it throws.
    do { try prepare() } catch {
      close()
      throw error
    }
  }

  private func prepare() throws {
    for _ in 0..<100 where !FileManager.default.fileExists(atPath: dir + "/containerd.sock") { usleep(50_000) }
    try #require(FileManager.default.fileExists(atPath: dir + "/containerd.sock"), "containerd did not start")
    // The image: podman imports the Rootfs tar and saves it as a docker archive.
    let podman = try PodmanEngine()
    defer { podman.close() }
    let saved = try podman.podman("save -q -o '\(dir)/image.tar' \(PodmanEngine.image)")
    #expect(saved.status == 0, "podman save: \(saved.stderr)")
    let imported = try ctr("images import '\(dir)/image.tar'")
    try #require(imported.status == 0, "ctr images import: \(imported.stderr)")
  }

  /// `ctr ARGS` against this containerd, in this test's namespace.
  func ctr(_ args: String, wrapped: String? = nil) throws -> Harness.Result {
    let status = Harness.spawnDetached(
      ["/bin/sh", "-c", wrapped ?? "/usr/bin/ctr -a '\(dir)/containerd.sock' -n \(namespace) \(args)"],
      environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"], output: dir + "/stdout",
      errors: dir + "/stderr")
    let out = (try? String(contentsOfFile: dir + "/stdout", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? ""
    return Harness.Result(status: status, stdout: out, stderr: err)
  }

  /// `ctr ARGS` with a terminal of its own (ctr -t insists on one): util-linux's script.
  func ctrInTerminal(_ args: String) throws -> Harness.Result {
    try ctr(
      "", wrapped: "/usr/bin/script -qec \"/usr/bin/ctr -a '\(dir)/containerd.sock' -n \(namespace) \(args)\" /dev/null"
    )
  }

  /// ctr's options that make bulkhead the runc of the runc shim.
  var runtime: String { "--runc-binary '\(Harness.bulkhead)' --runc-root '\(dir)/runc'" }

  func close() {
    for task in ((try? ctr("tasks ls -q"))?.stdout ?? "").split(separator: "\n") {
      _ = try? ctr("tasks kill -s 9 \(task)")
      usleep(100_000)
      _ = try? ctr("tasks delete -f \(task)")
    }
    for container in ((try? ctr("containers ls -q"))?.stdout ?? "").split(separator: "\n") {
      _ = try? ctr("containers delete \(container)")
    }
    _ = try? ctr("images rm \(PodmanEngine.image)")
    if daemon > 0 {
      kill(daemon, SIGTERM)
      for _ in 0..<100 where kill(daemon, 0) == 0 { usleep(20_000) }
    }
    let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    let mounts = text.split(separator: "\n").compactMap { line -> String? in
      let f = line.split(separator: " ")
      return f.count > 4 && f[4].hasPrefix(dir) ? String(f[4]) : nil
    }
    for m in mounts.sorted(by: { $0.count > $1.count }) { umount2(m, Int32(MNT_DETACH)) }
    try? FileManager.default.removeItem(atPath: dir)
  }
}

/// containerd drives `bulkhead` through its runc shim (`ctr --runc-binary`), which
/// calls create, start, state, exec, ps, pause, resume, kill and delete with
/// --log-format json, as under Kubernetes' CRI.
@Suite(
  "containerd runs its tasks with bulkhead", .serialized,
  .enabled(if: ContainerdEngine.available, ContainerdEngine.reason))
struct ContainerdTests {
  @Test func runExecPsPauseKillAndDeleteThroughTheRuncShim() throws {
    let engine = try ContainerdEngine()
    defer { engine.close() }
    let image = PodmanEngine.image
    let ok = try engine.ctr("run --rm \(engine.runtime) \(image) ok /bin/true")
    #expect(ok.status == 0, "\(ok.stderr)")
    let three = try engine.ctr("run --rm \(engine.runtime) \(image) three sh -c 'echo out; exit 3'")
    #expect(three.status == 3 && three.stdout == "out\n", "\(three.stdout) \(three.stderr)")
    let tty = try engine.ctrInTerminal("run --rm -t \(engine.runtime) \(image) tty tty")
    #expect(tty.stdout.contains("/dev/pts/0"), "\(tty.stdout) \(tty.stderr)")

    let started = try engine.ctr("run -d \(engine.runtime) \(image) long sleep 60")
    #expect(started.status == 0, "\(started.stderr)")
    let exec = try engine.ctr("tasks exec --exec-id e1 long sh -c 'echo $$; exit 4'")
    #expect(exec.status == 4 && exec.stdout.hasPrefix("2"), "\(exec.stdout) \(exec.stderr)")
    let listed = try engine.ctr("tasks ps long")
    let pid = try #require(
      ((try? engine.ctr("tasks ls"))?.stdout ?? "").split(separator: "\n").first { $0.hasPrefix("long") }.flatMap {
        Int32($0.split(separator: " ", omittingEmptySubsequences: true)[1])
      }, "ctr tasks ls")
    #expect(listed.status == 0 && listed.stdout.contains("\(pid)"), "\(listed.stdout) \(listed.stderr)")

    #expect(try engine.ctr("tasks pause long").status == 0)
    let cgroup = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
    let freezer = cgroup.split(separator: "\n").first { $0.contains(":freezer:") }.map {
      String($0.split(separator: ":", maxSplits: 2)[2])
    }
    let state = freezer.flatMap {
      try? String(contentsOfFile: "/sys/fs/cgroup/freezer\($0)/freezer.state", encoding: .utf8)
    }
    #expect(state == "FROZEN\n", "freezer \(freezer ?? "?"): \(state ?? "?")")
    #expect(try engine.ctr("tasks ls").stdout.contains("PAUSED"))
    #expect(try engine.ctr("tasks resume long").status == 0)
    #expect(try engine.ctr("tasks ls").stdout.contains("RUNNING"))
    #expect(try engine.ctr("tasks kill -s 9 long").status == 0)
    for _ in 0..<100 where kill(pid, 0) == 0 { usleep(20_000) }
    #expect(kill(pid, 0) != 0, "the task \(pid) outlived SIGKILL")
    #expect(try engine.ctr("tasks delete long").status == 0)
    #expect(try engine.ctr("containers delete long").status == 0)
    let left = (try? FileManager.default.contentsOfDirectory(atPath: engine.dir + "/runc/\(engine.namespace)")) ?? []
    #expect(left.isEmpty, "state left in the runtime's root: \(left)")
    if let freezer {
      #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/freezer\(freezer)"), "cgroup \(freezer) left")
    }
  }
}
