import Foundation
import Testing

/// Runs the real `bulkhead` binary and the real Rootfs. Integration suites are
/// enabled only as root with a populated Rootfs; the reason is shown when skipped.
enum Harness {
  static let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  static var bulkhead: String {
    if let bin = ProcessInfo.processInfo.environment["BULKHEAD_BIN"], !bin.isEmpty { return bin }
    return packageRoot + "/.build/debug/bulkhead"
  }

  static var rootfs: String {
    if let dir = ProcessInfo.processInfo.environment["BULKHEAD_ROOTFS"], !dir.isEmpty { return dir }
    return packageRoot + "/Rootfs"
  }

  static var isRoot: Bool { getuid() == 0 }
  static var rootfsReady: Bool { FileManager.default.isExecutableFile(atPath: rootfs + "/bin/busybox") }
  static var binaryReady: Bool { FileManager.default.isExecutableFile(atPath: bulkhead) }
  static var canRunContainers: Bool { isRoot && rootfsReady && binaryReady }
  static let containerReason: Comment =
    "needs root, a built bulkhead and a populated Rootfs (Scripts/test does all three)"

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
  }

  /// Runs `bulkhead ARGS` to completion.
  static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> Result {
    try runExecutable(bulkhead, arguments, environment: environment)
  }

  /// Runs a shell command line (for fd and privilege set-ups around bulkhead).
  static func shell(_ script: String) throws -> Result {
    try runExecutable("/bin/sh", ["-c", script], environment: nil)
  }

  static func runExecutable(_ path: String, _ arguments: [String], environment: [String: String]?) throws -> Result {
    let process = Process()
    // A hung test must not hang the suite: coreutils' timeout ends the command
    // after two minutes (its output is then short, and the test fails on it).
    process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    process.arguments = ["--signal=KILL", "120", path] + arguments
    var env = environment ?? ProcessInfo.processInfo.environment
    env["BULKHEAD_ROOTFS"] = rootfs
    env["BULKHEAD"] = bulkhead
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes to the end before waiting: a full pipe would block the child.
    final class Box: @unchecked Sendable { var data = Data() }
    let stderrBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      stderrBox.data = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let stderr = stderrBox.data
    process.waitUntilExit()
    let status =
      process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return Result(
      status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
  }

  /// Runs `argv` to completion for a program that leaves daemons behind (tmux's
  /// server, podman's conmon): posix_spawn with an empty signal mask and default
  /// dispositions (the test process blocks signals that a daemon would inherit and
  /// then never see), every inherited descriptor closed (a daemon must not hold the
  /// test runner's pipes open), stdin /dev/null, stdout to `output` and stderr to
  /// `errors` (or to `output`). Returns the exit status, or 128+N for signal N.
  static func spawnDetached(_ argv: [String], environment: [String], output: String, errors: String? = nil) -> Int32 {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    if let errors {
      posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    } else {
      posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    for fd in open where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
    let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { text in text.withCString { strdup($0) } } + [nil]
    defer { for pointer in cArguments { free(pointer) } }
    let cEnvironment: [UnsafeMutablePointer<CChar>?] =
      environment.map { text in text.withCString { strdup($0) } } + [nil]
    defer { for pointer in cEnvironment { free(pointer) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, argv[0], &actions, &attributes, cArguments, cEnvironment) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
  }

  /// Pids of live (non-zombie) processes whose command line contains `marker`.
  static func processes(containing marker: String) -> [Int32] {
    let me = getpid()
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
      guard pid != me, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
      let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
      if stat.contains(") Z ") { return false }
      return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(marker)
    }
  }

  /// Waits until no process contains `marker` (up to `seconds`), returning the stragglers.
  static func waitUntilGone(_ marker: String, seconds: Double = 3) -> [Int32] {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if processes(containing: marker).isEmpty { return [] }
      usleep(20_000)
    }
    return processes(containing: marker)
  }

  static func uniqueMarker() -> String { "bh\(UInt32.random(in: 100_000...999_999))" }

  /// A private copy of the Rootfs that a test may write to; removed by `body`'s end.
  static func withRootfsCopy<T>(_ body: (String) throws -> T) throws -> T {
    let dir = NSTemporaryDirectory() + "bulkhead-rootfs-\(uniqueMarker())"
    let copy = try shell("cp -a '\(rootfs)' '\(dir)'")
    guard copy.status == 0 else { throw CocoaError(.fileWriteUnknown) }
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
  }

  static func json(_ text: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
  }

  /// Whether user nobody can execute bulkhead and read the Rootfs (a checkout
  /// under a private home directory would not let it).
  static var nobodyCanRun: Bool {
    guard canRunContainers, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return false }
    let r = try? shell(
      "setpriv --reuid 65534 --regid 65534 --clear-groups sh -c 'test -x \"$BULKHEAD\" && test -x \"$BULKHEAD_ROOTFS/bin/busybox\"'"
    )
    return r?.status == 0
  }

  /// Mounts in this namespace, less those of the engines' own storage (podman's and
  /// containerd's overlays and shm come and go while other suites count in parallel).
  static func mountCount() -> Int {
    ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n").filter {
      !$0.contains("/bulkhead-podman-") && !$0.contains("/bulkhead-containerd-")
    }.count
  }
}
