import BulkheadSpec
import CBulkhead

#if canImport(Glibc)
  import Glibc
#endif

/// A minimal epoll reactor: descriptors registered with a token, `wait` returns the
/// tokens that are ready. One thread owns it; nothing here blocks except `wait`.
public final class EventLoop {
  public let epollFD: Int32

  public init() throws(BulkheadError) {
    epollFD = try syscallChecked("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
  }

  deinit { close(epollFD) }

  /// Watches `fd` for input (a pidfd is readable when its process exits), and for
  /// room to write when `writable`.
  public func add(_ fd: Int32, token: UInt64, writable: Bool = false) throws(BulkheadError) {
    var event = epoll_event()
    event.events = EPOLLIN.rawValue | (writable ? EPOLLOUT.rawValue : 0)
    event.data.u64 = token
    try syscallChecked("epoll_ctl") { epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) }
  }

  /// Watches `fd` for input if epoll can (a regular file or /dev/null cannot: EPERM).
  public func tryAdd(_ fd: Int32, token: UInt64) -> Bool {
    var event = epoll_event()
    event.events = EPOLLIN.rawValue
    event.data.u64 = token
    return epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0
  }

  /// Changes whether a watched `fd` also wakes the loop when it can be written to.
  public func modify(_ fd: Int32, token: UInt64, writable: Bool) {
    var event = epoll_event()
    event.events = EPOLLIN.rawValue | (writable ? EPOLLOUT.rawValue : 0)
    event.data.u64 = token
    _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
  }

  public func remove(_ fd: Int32) {
    _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
  }

  /// Waits up to `timeoutMilliseconds` (-1: forever) and returns the ready tokens.
  public func wait(timeoutMilliseconds: Int32 = -1, max: Int = 64) throws(BulkheadError) -> [UInt64] {
    var events = [epoll_event](repeating: epoll_event(), count: max)
    while true {
      let n = epoll_wait(epollFD, &events, Int32(max), timeoutMilliseconds)
      if n >= 0 { return events[0..<Int(n)].map { $0.data.u64 } }
      if errno == EINTR { continue }
      throw .setupFailed(step: "epoll_wait", errno: errno)
    }
  }
}

/// A signalfd for a set of signals, which are blocked for the calling thread (and
/// for every thread it starts afterwards) so that they arrive only through the fd.
public final class SignalFD {
  public let fd: Int32
  private var oldMask = sigset_t()

  public init(signals: [Int32]) throws(BulkheadError) {
    var mask = sigset_t()
    sigemptyset(&mask)
    for signal in signals { sigaddset(&mask, signal) }
    pthread_sigmask(SIG_BLOCK, &mask, &oldMask)
    fd = try syscallChecked("signalfd") { signalfd(-1, &mask, Int32(SFD_CLOEXEC | SFD_NONBLOCK)) }
  }

  deinit {
    close(fd)
    pthread_sigmask(SIG_SETMASK, &oldMask, nil)
  }

  /// Reads the pending signals (non-blocking).
  public func drain() -> [Int32] {
    var out: [Int32] = []
    var info = signalfd_siginfo()
    while read(fd, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
      out.append(Int32(info.ssi_signo))
    }
    return out
  }
}

/// A one-shot monotonic timer as a descriptor (timerfd_create(2)).
public final class Timer {
  public let fd: Int32

  public init() throws(BulkheadError) {
    fd = try syscallChecked("timerfd_create") {
      timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC | TFD_NONBLOCK))
    }
  }

  deinit { close(fd) }

  /// Arms the timer to fire once after `milliseconds` (0 disarms).
  public func arm(milliseconds: Int) {
    var spec = itimerspec()
    spec.it_value.tv_sec = milliseconds / 1000
    spec.it_value.tv_nsec = (milliseconds % 1000) * 1_000_000
    if milliseconds == 0 { spec.it_value.tv_nsec = 0 }
    timerfd_settime(fd, 0, &spec, nil)
  }

  /// Consumes an expiry; true when the timer had fired.
  public func consume() -> Bool {
    var count: UInt64 = 0
    return read(fd, &count, 8) == 8
  }
}

/// CLOCK_MONOTONIC in nanoseconds.
public func monotonicNanoseconds() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds since the epoch.
public func wallClockNanoseconds() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_REALTIME, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// "SIGSEGV" for 11.
public func signalName(_ signal: Int32) -> String {
  let names: [Int32: String] = [
    SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
    SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
    SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM",
    SIGTERM: "SIGTERM", SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP",
    SIGTSTP: "SIGTSTP", SIGTTIN: "SIGTTIN", SIGTTOU: "SIGTTOU", SIGURG: "SIGURG",
    SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM", SIGPROF: "SIGPROF",
    SIGWINCH: "SIGWINCH", SIGIO: "SIGIO", SIGPWR: "SIGPWR", SIGSYS: "SIGSYS",
  ]
  return names[signal] ?? "SIG\(signal)"
}
