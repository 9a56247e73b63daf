import BulkheadSpec
import BulkheadSystem
import CBulkhead

#if canImport(Glibc)
  import Glibc
#endif

/// The reactor that watches a workload: one thread, epoll over the workload's
/// pidfd, a signalfd (signals sent to bulkhead) and timerfds (timeout, grace).
/// `waitid(P_PIDFD)` collects the status and the rusage.
public final class Supervisor {
  public struct Options: Sendable {
    /// Forward SIGINT/SIGTERM/SIGHUP/SIGQUIT received by bulkhead; a second one,
    /// or the grace period running out, escalates to SIGKILL.
    public var forwardSignals: Bool
    public var graceMilliseconds: Int
    public var timeoutMilliseconds: Int?
    /// CPU time (user + system, of the whole cgroup when there is one).
    public var cpuTimeMilliseconds: Int?

    public init(
      forwardSignals: Bool = true, graceMilliseconds: Int = 1000, timeoutMilliseconds: Int? = nil,
      cpuTimeMilliseconds: Int? = nil
    ) {
      self.forwardSignals = forwardSignals
      self.graceMilliseconds = graceMilliseconds
      self.timeoutMilliseconds = timeoutMilliseconds
      self.cpuTimeMilliseconds = cpuTimeMilliseconds
    }

    public init(spec: Spec, forwardSignals: Bool = true) {
      self.init(
        forwardSignals: forwardSignals, graceMilliseconds: spec.graceMilliseconds,
        timeoutMilliseconds: spec.timeoutMilliseconds, cpuTimeMilliseconds: spec.cpuTimeMilliseconds)
    }
  }

  /// The signals bulkhead forwards to its workload.
  public static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

  private let signals: SignalFD?

  /// `signals`: a signalfd created early (before any thread starts) for the
  /// forwarded signals; nil when this supervisor forwards nothing.
  public init(signals: SignalFD? = nil) {
    self.signals = signals
  }

  private enum Token: UInt64 {
    case child = 1
    case signal = 2
    case grace = 3
    case timeout = 4
    case report = 5
    case cpuCheck = 6
  }

  /// How often the CPU-time limit is checked.
  static let cpuCheckMilliseconds = 20

  /// Waits until `workload` ends and returns how it ended. Closes its pidfd.
  public func wait(for workload: Workload, options: Options) throws(BulkheadError) -> Outcome {
    defer {
      close(workload.pidfd)
      if let fd = workload.reportFD { close(fd) }
      // Whatever is left in the cgroup (escaped children) is killed, and it is removed.
      try? workload.cgroup?.remove()
    }
    let loop = try EventLoop()
    try loop.add(workload.pidfd, token: Token.child.rawValue)
    var reports = ReportReader(workload: workload)
    if let fd = workload.reportFD { try loop.add(fd, token: Token.report.rawValue) }
    if options.forwardSignals, let signals {
      try loop.add(signals.fd, token: Token.signal.rawValue)
    }
    let grace = try Timer()
    try loop.add(grace.fd, token: Token.grace.rawValue)
    let timeout = try Timer()
    try loop.add(timeout.fd, token: Token.timeout.rawValue)
    if let ms = options.timeoutMilliseconds {
      let elapsed = Int((monotonicNanoseconds() - workload.startedAtMonotonicNanoseconds) / 1_000_000)
      timeout.arm(milliseconds: max(1, ms - elapsed))
    }
    let cpuCheck = try Timer()
    try loop.add(cpuCheck.fd, token: Token.cpuCheck.rawValue)
    if options.cpuTimeMilliseconds != nil { cpuCheck.arm(milliseconds: Self.cpuCheckMilliseconds) }

    var killedBy: KillReason? = nil
    var forwarded: Int32? = nil
    var escalating = false
    var escalated = false
    while true {
      for token in try loop.wait() {
        switch Token(rawValue: token) {
        case .child:
          // The workload has ended but is not reaped yet, so its pid still names its
          // process group: end what is left of the group (children it did not wait
          // for, forks of a host) before reaping. A daemon that called setsid has
          // left the group and the process level does not stop it: that is the
          // escape the process level allows. A container's pid namespace ends with
          // its init.
          if !workload.inOwnPidNamespace { _ = Glibc.kill(-workload.pid, SIGKILL) }
          var info = siginfo_t()
          var usage = rusage()
          let r = bh_waitid_pidfd(workload.pidfd, &info, &usage, WEXITED | WNOHANG)
          if r == -1 && errno == EINTR { continue }
          if r == -1 { throw .setupFailed(step: "waitid", errno: errno) }
          guard bh_siginfo_pid(&info) != 0 else { continue }  // not yet
          let code = bh_siginfo_code(&info)
          let status = bh_siginfo_status(&info)
          let termination: Termination =
            code == CLD_EXITED
            ? .exited(code: status) : .signaled(signal: status, coreDumped: code == CLD_DUMPED)
          reports.drain()
          let stats = workload.cgroup?.stats()
          if killedBy == nil, case .signaled(let signal, _) = termination {
            if signal == SIGKILL, let kills = stats?.oomKills, kills > 0 {
              killedBy = .oom
            } else if signal == SIGSYS && workload.seccompFiltered {
              killedBy = .seccomp
            }
          }
          var outcome = Outcome(
            termination: termination, killedBy: killedBy, escalatedToKill: escalated,
            forwardedSignal: forwarded,
            userCPUSeconds: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            systemCPUSeconds: Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6,
            maxRSSKiB: usage.ru_maxrss)
          outcome.inProcess = reports.statuses
          outcome.cgroup = stats
          return outcome
        case .cpuCheck:
          guard cpuCheck.consume(), let limit = options.cpuTimeMilliseconds else { continue }
          let used = workload.cgroup?.cpuUsageNanoseconds() ?? Self.cpuNanoseconds(of: workload.pid)
          if let used, used >= UInt64(limit) * 1_000_000, !escalating {
            killedBy = killedBy ?? .cpuTime
            Self.kill(workload, SIGTERM)
            escalating = true
            grace.arm(milliseconds: max(1, options.graceMilliseconds))
          } else {
            cpuCheck.arm(milliseconds: Self.cpuCheckMilliseconds)
          }
        case .report:
          reports.drain()
        case .signal:
          for signal in signals?.drain() ?? [] {
            if escalating {
              Self.kill(workload, SIGKILL)
              escalated = true
            } else {
              forwarded = signal
              killedBy = killedBy ?? .forwardedSignal
              Self.kill(workload, signal)
              escalating = true
              grace.arm(milliseconds: max(1, options.graceMilliseconds))
            }
          }
        case .grace:
          if grace.consume() {
            Self.kill(workload, SIGKILL)
            escalated = true
          }
        case .timeout:
          if timeout.consume() {
            killedBy = killedBy ?? .timeout
            Self.kill(workload, SIGTERM)
            if !escalating {
              escalating = true
              grace.arm(milliseconds: max(1, options.graceMilliseconds))
            }
          }
        case nil:
          continue
        }
      }
    }
  }

  /// CPU time of one process, all its threads (utime + stime of /proc/PID/stat), in ns.
  static func cpuNanoseconds(of pid: Int32) -> UInt64? {
    guard let text = CgroupFiles.read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
    let ticks = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
    return (user + system) * 1_000_000_000 / ticks
  }

  /// Signals a workload: a container through its init (when PID 1 of a pid
  /// namespace dies the kernel kills the rest), a process through its process
  /// group (it called setsid, so its pgid is its pid, held while it is unreaped).
  public static func kill(_ workload: Workload, _ signal: Int32) {
    if !workload.inOwnPidNamespace {
      if Glibc.kill(-workload.pid, signal) == 0 { return }
    }
    _ = bh_pidfd_send_signal(workload.pidfd, signal)
  }
}

/// Reads the host's report lines as they come (non-blocking), so the host never
/// blocks on a full pipe, and keeps each workload's status.
struct ReportReader {
  let fd: Int32?
  let start: UInt64
  var pending: [UInt8] = []
  var statuses: [InProcessStatus]

  init(workload: Workload) {
    fd = workload.reportFD
    start = workload.startedAtMonotonicNanoseconds
    statuses =
      workload.reportFD == nil
      ? []
      : workload.spec.workloads.enumerated().map { index, text in
        InProcessStatus(index: index, name: String(text.split(separator: " ").first { !$0.hasPrefix("after=") } ?? ""))
      }
    if let fd { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
  }

  mutating func drain() {
    guard let fd else { return }
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      pending.append(contentsOf: buffer[0..<n])
    }
    let now = Double(monotonicNanoseconds() - start) / 1e9
    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
      let line = String(decoding: pending[..<newline], as: UTF8.self)
      pending.removeSubrange(...newline)
      InProcessStatus.apply(Substring(line), to: &statuses, atSeconds: now)
    }
  }
}
