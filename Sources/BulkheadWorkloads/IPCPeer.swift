import CBench

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// What carries the bytes between two IPC peers (the cost lab's `bench ipc`).
public enum IPCTransport: String, Sendable, CaseIterable, Codable {
  /// Two pipes, one per direction (perf bench sched pipe's set-up).
  case pipe
  /// One connected AF_UNIX stream socketpair.
  case socketpair
  /// A Unix stream socket bound to a path in a directory both peers see.
  case unixPath = "unix-path"
  /// A Unix stream socket with an abstract name (a name in the network namespace).
  case unixAbstract = "unix-abstract"
  /// A shared-memory ring per direction; the peers wake each other with an eventfd.
  case eventfd
  /// The same rings; the peers wake each other with a futex in the shared memory.
  case futex
  /// The same rings; the peers spin on the ring's indices (no system call).
  case shmRing = "shm-ring"
  /// Threads: the rings in the process's memory, spinning on atomics.
  case spin
  /// Threads: the rings, a pthread mutex and condition variable to wait.
  case mutexCond = "mutex-cond"
  /// Tasks: an async channel (AsyncStream) in one process.
  case asyncChannel = "async-channel"

  /// The waiting styles that make sense for it: a futex or a condition variable
  /// only blocks, spinning only polls, a descriptor does all three.
  public var styles: [IPCStyle] {
    switch self {
    case .pipe, .socketpair, .unixPath, .unixAbstract, .eventfd: [.blocking, .epoll, .busyPoll]
    case .futex, .mutexCond, .asyncChannel: [.blocking]
    case .shmRing, .spin: [.busyPoll]
    }
  }
}

/// How a peer waits (the textbook's three styles).
public enum IPCStyle: String, Sendable, CaseIterable, Codable {
  case blocking
  case epoll
  case busyPoll = "busy-poll"

  public var c: bhb_style {
    switch self {
    case .blocking: BHB_STYLE_BLOCKING
    case .epoll: BHB_STYLE_EPOLL
    case .busyPoll: BHB_STYLE_BUSY_POLL
    }
  }
}

extension IPCTransport {
  /// How a side of a ring transport waits; nil for descriptor transports.
  public var ringWait: bhb_wait? {
    switch self {
    case .eventfd: BHB_WAIT_EVENTFD
    case .futex: BHB_WAIT_FUTEX
    case .shmRing, .spin: BHB_WAIT_SPIN
    case .mutexCond: BHB_WAIT_CONDVAR
    case .pipe, .socketpair, .unixPath, .unixAbstract, .asyncChannel: nil
    }
  }
}

/// The responder of `bulkhead bench ipc` at the process and container levels: the
/// `ipc-peer` workload. It connects to what the initiator prepared (descriptors it
/// was passed, a socket path) and echoes until told to stop (`bhb_serve`).
///
///     ipc-peer pipe STYLE CPU RFD WFD
///     ipc-peer socketpair STYLE CPU FD
///     ipc-peer unix-path|unix-abstract STYLE CPU PATH      (@NAME: abstract)
///     ipc-peer eventfd STYLE CPU MEMFD WAKE_SELF_FD WAKE_PEER_FD
///     ipc-peer futex|shm-ring STYLE CPU MEMFD
///
/// CPU -1: not pinned. Exit 0 when the initiator finished, 1 when the exchange
/// failed, 2 for bad arguments, 3 when the connection could not be made (the
/// reason on stdout).
public enum IPCPeer {
  public static let usage =
    "usage: ipc-peer TRANSPORT STYLE CPU ENDPOINT... (pipe RFD WFD | socketpair FD | unix-path PATH | "
    + "eventfd MEMFD WAKE_SELF WAKE_PEER | futex MEMFD | shm-ring MEMFD)"

  public static func run(_ args: [String], context: WorkloadContext) -> Int32 {
    guard args.count >= 4, let transport = IPCTransport(rawValue: args[0]), let style = IPCStyle(rawValue: args[1]),
      let cpu = Int32(args[2])
    else {
      context.emit(usage)
      return 2
    }
    let endpoint = Array(args.dropFirst(3))
    let fds = endpoint.compactMap { Int32($0) }
    // A peer that is gone must show as EPIPE, not kill this process.
    signal(SIGPIPE, SIG_IGN)
    if cpu >= 0 {
      let r = bhb_pin_to_cpu(cpu)
      if r < 0 { return fail(context, "sched_setaffinity(cpu \(cpu))", -r, code: 3) }
    }
    var err: Int32 = 0
    var channel: OpaquePointer?
    var mapping: (UnsafeMutableRawPointer, Int)?
    switch transport {
    case .pipe:
      guard fds.count == 2 else { return usageError(context) }
      channel = bhb_chan_fd(fds[0], fds[1], style.c, &err)
    case .socketpair:
      guard fds.count == 1 else { return usageError(context) }
      channel = bhb_chan_fd(fds[0], fds[0], style.c, &err)
    case .unixPath, .unixAbstract:
      let fd = bhb_unix_connect(endpoint[0])
      if fd < 0 { return fail(context, "connect \(endpoint[0])", -fd, code: 3) }
      channel = bhb_chan_fd(fd, fd, style.c, &err)
    case .eventfd, .futex, .shmRing:
      let wait = transport.ringWait!
      guard fds.count == (transport == .eventfd ? 3 : 1) else { return usageError(context) }
      var st = stat()
      guard fstat(fds[0], &st) == 0 else { return fail(context, "fstat(memfd)", errno, code: 3) }
      let size = Int(st.st_size)
      guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0), p != MAP_FAILED else {
        return fail(context, "mmap(memfd)", errno, code: 3)
      }
      mapping = (p, size)
      channel = bhb_chan_ring(
        p, size, 1, wait, style.c, fds.count == 3 ? fds[1] : -1, fds.count == 3 ? fds[2] : -1, &err)
    case .spin, .mutexCond, .asyncChannel:
      context.emit("ipc-peer: \(transport.rawValue) is for threads and tasks in one process")
      return 2
    }
    defer { if let mapping { munmap(mapping.0, mapping.1) } }
    guard let channel else { return fail(context, "channel", err, code: 3) }
    defer { bhb_chan_free(channel) }
    let r = bhb_serve(channel)
    if r < 0 { return fail(context, "serve", -r, code: 1) }
    return 0
  }

  static func usageError(_ context: WorkloadContext) -> Int32 {
    context.emit(usage)
    return 2
  }

  static func fail(_ context: WorkloadContext, _ what: String, _ err: Int32, code: Int32) -> Int32 {
    context.emit("ipc-peer: \(what): \(String(cString: strerror(err))) (errno \(err))")
    return code
  }
}
