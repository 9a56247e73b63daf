import BulkheadCore
import BulkheadSpec
import BulkheadWorkloads
import CBench

#if canImport(Glibc)
  import Glibc
#endif

/// The process and container levels: the responder is a real Bulkhead unit, the
/// `ipc-peer` workload started by the `Launcher` (the static probe, in `Rootfs/`
/// for a container) and reaped by the `Supervisor`. What it talks through is made
/// here and handed over as the unit allows: descriptors with `passFDs` (a pipe, a
/// socketpair, a memfd with the rings, eventfds), a Unix socket in a host temp
/// directory bind-mounted into the container. Everything is removed afterwards.
enum UnitPeers {
  /// Bytes per ring direction: larger than the largest default message (64 KiB), and
  /// small enough that two rings stay in a core's L2 cache.
  static let ringCapacity = 1 << 20
  /// Where a container sees the host's socket directory (bulkhead creates mount
  /// points under /tmp).
  static let socketDirectoryInside = "/tmp/bulkhead-ipc"

  nonisolated(unsafe) private static var counter = 0

  static func measure(_ c: IPCBench.Case, _ config: IPCBench.Config) throws -> [BenchResult] {
    guard let placement = c.placement else { throw IPCUnavailable(reason: "units are always pinned") }
    var cleanup: [() -> Void] = []
    defer { for step in cleanup.reversed() { step() } }
    func closing(_ fd: Int32) { cleanup.append { close(fd) } }
    counter += 1

    var err: Int32 = 0
    var passed: [Int32] = []  // the peer's descriptors: closed here once it started
    var endpoint: [String] = []
    var mounts: [MountSpec] = []
    var listening: Int32 = -1
    var makeChannel: () -> OpaquePointer? = { nil }
    // The socket's path and directory: removed as soon as the peer is connected
    // (the connection outlives its name), so that an interrupted run leaves them
    // behind only during the start.
    var removeSocket: () -> Void = {}
    defer { removeSocket() }

    switch c.transport {
    case .pipe:
      var toPeer: [Int32] = [-1, -1]
      var fromPeer: [Int32] = [-1, -1]
      guard bhb_pipe(&toPeer) == 0 else { throw IPCFailure(step: "pipe2", errno: errno) }
      guard bhb_pipe(&fromPeer) == 0 else {
        let e = errno
        close(toPeer[0])
        close(toPeer[1])
        throw IPCFailure(step: "pipe2", errno: e)
      }
      closing(fromPeer[0])
      closing(toPeer[1])
      passed = [toPeer[0], fromPeer[1]]
      endpoint = passed.map(String.init)
      makeChannel = { bhb_chan_fd(fromPeer[0], toPeer[1], c.style.c, &err) }
    case .socketpair:
      var sv: [Int32] = [-1, -1]
      let r = bhb_socketpair(&sv)
      if r < 0 { throw IPCFailure(step: "socketpair", errno: -r) }
      closing(sv[0])
      passed = [sv[1]]
      endpoint = ["\(sv[1])"]
      makeChannel = { bhb_chan_fd(sv[0], sv[0], c.style.c, &err) }
    case .unixPath, .unixAbstract:
      let path: String
      if c.transport == .unixAbstract {
        path = "@bulkhead-ipc-\(getpid())-\(counter)"
        endpoint = [path]
      } else {
        var template = Array("/tmp/bulkhead-ipc-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw IPCFailure(step: "mkdtemp", errno: errno) }
        let dir = String(cString: made)
        path = dir + "/socket"
        removeSocket = {
          unlink(path)
          rmdir(dir)
        }
        if c.level == .container {
          mounts = [.bind(source: dir, target: socketDirectoryInside, readOnly: false)]
          endpoint = [socketDirectoryInside + "/socket"]
        } else {
          endpoint = [path]
        }
      }
      listening = bhb_unix_listen(path)
      if listening < 0 { throw IPCFailure(step: "listen on \(path)", errno: -listening) }
      closing(listening)
    case .eventfd, .futex, .shmRing:
      let size = bhb_ring_region_size(ringCapacity)
      let memfd = bhb_memfd(size)
      if memfd < 0 { throw IPCFailure(step: "memfd_create", errno: -memfd) }
      closing(memfd)
      guard let region = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0), region != MAP_FAILED else {
        throw IPCFailure(step: "mmap(memfd)", errno: errno)
      }
      cleanup.append { munmap(region, size) }
      _ = bhb_ring_region_init(region, size)
      passed = [memfd]
      var wake: [Int32] = [-1, -1]
      if c.transport == .eventfd {
        for i in 0..<2 {
          wake[i] = bhb_eventfd()
          if wake[i] < 0 { throw IPCFailure(step: "eventfd", errno: -wake[i]) }
          closing(wake[i])
        }
        // The peer is side 1: it waits on wake[1] and wakes us through wake[0].
        passed += [wake[1], wake[0]]
      }
      endpoint = passed.map(String.init)
      let wait = c.transport.ringWait!
      makeChannel = { bhb_chan_ring(region, size, 0, wait, c.style.c, wake[0], wake[1], &err) }
    default:
      throw IPCUnavailable(reason: "\(c.transport.rawValue) is not a transport between units")
    }
    // The peer's descriptors that we made (not the memfd and eventfds, which we
    // keep using): closed as soon as the peer holds its own copies, so that its
    // death shows here as EOF or EPIPE.
    let peerOnly: [Int32] =
      c.transport == .pipe || c.transport == .socketpair ? passed : []
    var peerOnlyOpen = true
    for fd in peerOnly { cleanup.append { if peerOnlyOpen { close(fd) } } }

    // The peer's stdout: where ipc-peer says why it failed.
    var output: [Int32] = [-1, -1]
    guard bhb_pipe(&output) == 0 else { throw IPCFailure(step: "pipe2 (output)", errno: errno) }
    closing(output[0])
    var outputWriteOpen = true
    cleanup.append { if outputWriteOpen { close(output[1]) } }
    _ = fcntl(output[1], 1031, 1 << 16)  // F_SETPIPE_SZ: room for its lines until it is reaped

    let text = ["ipc-peer", c.transport.rawValue, c.style.rawValue, "\(placement.responder)"] + endpoint
    let spec: Spec
    switch c.level {
    case .container:
      spec = Spec(
        level: .container, command: [], workloads: [text.joined(separator: " ")], rootfs: config.rootfs,
        mounts: mounts, passFDs: passed)
    default:
      spec = Spec(level: .process, command: [], workloads: [text.joined(separator: " ")], passFDs: passed)
    }
    let launcher = Launcher(probePath: config.probePath, stdoutFD: output[1])
    let workload = try launcher.start(spec, recordNamespaces: false)
    for fd in peerOnly { close(fd) }
    peerOnlyOpen = false
    close(output[1])
    outputWriteOpen = false

    var results: [BenchResult] = []
    var failure: Error? = nil
    var connected: Int32 = -1
    if listening >= 0 {
      connected = bhb_unix_accept(listening, workload.pidfd, 5000)
      removeSocket()
      removeSocket = {}
      if connected >= 0 {
        closing(connected)
        let fd = connected
        makeChannel = { bhb_chan_fd(fd, fd, c.style.c, &err) }
      }
    }
    if listening < 0 || connected >= 0 {
      if let chan = makeChannel() {
        cleanup.append { bhb_chan_free(chan) }
        let dog = bhb_watchdog_start(chan, workload.pidfd, &err)
        let pinned = bhb_pin_to_cpu(placement.initiator)
        do {
          if pinned < 0 { throw IPCFailure(step: "sched_setaffinity(cpu \(placement.initiator))", errno: -pinned) }
          let schedule = IPCSchedule(
            config: config, level: c.level.reportName, transport: c.transport, style: c.style,
            placement: placement.label)
          results = try schedule.measure(chan)
        } catch {
          failure = error
          Supervisor.kill(workload, SIGKILL)
        }
        bhb_watchdog_stop(dog)
      } else {
        failure = IPCFailure(step: "channel", errno: err)
        Supervisor.kill(workload, SIGKILL)
      }
    } else if connected != -ECHILD {
      failure = IPCFailure(step: "accept", errno: -connected)
      Supervisor.kill(workload, SIGKILL)
    }
    let outcome = try Supervisor().wait(for: workload, options: Supervisor.Options(spec: spec, forwardSignals: false))
    let said = readAll(output[0]).split(separator: "\n").last.map(String.init)
    if connected == -ECHILD {
      // The peer ended before connecting: for an abstract socket across a network
      // namespace that is the expected answer, and the measurement's result.
      let why = said ?? "the peer exited with status \(outcome.exitStatus) before connecting"
      if c.transport == .unixAbstract && c.level == .container {
        throw IPCUnavailable(
          reason: "an abstract Unix socket does not cross a network namespace (\(why.replacingPrefix("ipc-peer: ")))")
      }
      throw IPCFailure(step: "the peer could not connect: \(why)", errno: 0)
    }
    if outcome.exitStatus == 2 {
      // A probe older than ipc-peer says "unknown workload" on its stderr.
      throw IPCFailure(
        step:
          "ipc-peer refused its arguments, or this bulkhead-probe does not have it (exit 2\(said.map { ": " + $0 } ?? ""); rebuild with Scripts/build and Scripts/rootfs)",
        errno: 0)
    }
    if let failure {
      if let said { throw IPCFailure(step: "\(failure) (peer: \(said))", errno: 0) }
      throw failure
    }
    guard outcome.exitStatus == 0 else {
      throw IPCFailure(step: "peer exited with status \(outcome.exitStatus)\(said.map { ": " + $0 } ?? "")", errno: 0)
    }
    return results
  }

  static func readAll(_ fd: Int32) -> String {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

extension String {
  func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
