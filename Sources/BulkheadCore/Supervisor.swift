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

  /// How often the CPU-time limit is checked.
  static let cpuCheckMilliseconds = 20

  /// Waits until `workload` ends and returns how it ended. Closes its pidfd and
  /// removes its cgroup. A fleet of one.
  public func wait(for workload: Workload, options: Options) throws(BulkheadError) -> Outcome {
    let fleet: Fleet
    do {
      fleet = try Fleet(signals: options.forwardSignals ? signals : nil)
    } catch {
      // Nothing watches it: end it rather than leave it behind.
      Self.kill(workload, SIGKILL)
      var info = siginfo_t()
      _ = bh_waitid_pidfd(workload.pidfd, &info, nil, WEXITED)
      close(workload.pidfd)
      if let fd = workload.reportFD { close(fd) }
      try? workload.cgroup?.remove()
      throw error
    }
    try fleet.add(workload, options: options)
    var outcome: Outcome? = nil
    try fleet.run { event in
      if case .ended(_, let ended, _) = event { outcome = ended }
    }
    return outcome!
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
/// blocks on a full pipe, and keeps each workload's status. `line INDEX TEXT`
/// reports carry what an in-process workload printed, attributed to it.
struct ReportReader {
  let fd: Int32?
  let start: UInt64
  var buffer: LineBuffer?
  var statuses: [InProcessStatus]

  init(workload: Workload) {
    fd = workload.reportFD
    start = workload.startedAtMonotonicNanoseconds
    buffer = fd.map { LineBuffer(fd: $0) }
    statuses =
      workload.reportFD == nil
      ? []
      : workload.spec.workloads.enumerated().map { index, text in
        InProcessStatus(index: index, name: String(text.split(separator: " ").first { !$0.hasPrefix("after=") } ?? ""))
      }
    if let fd { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
  }

  /// What a host reported, in order.
  enum Item {
    case line(unit: Int, text: String)
    case returned(unit: Int, code: Int32)
  }

  /// Whether the host's end of the pipe is closed (it and all its forks are gone).
  var closed = false

  /// Applies what arrived; returns the printed lines and the returns, in order.
  mutating func drain() -> [Item] {
    guard var reader = buffer else { return [] }
    let (lines, eof) = reader.drain(final: false)
    buffer = reader
    closed = closed || eof
    let now = Double(monotonicNanoseconds() - start) / 1e9
    var items: [Item] = []
    for line in lines {
      if line.hasPrefix("line ") {
        let rest = line.dropFirst(5)
        if let space = rest.firstIndex(of: " "), let index = Int(rest[..<space]) {
          items.append(.line(unit: index, text: String(rest[rest.index(after: space)...])))
        }
      } else {
        InProcessStatus.apply(Substring(line), to: &statuses, atSeconds: now)
        let words = line.split(separator: " ")
        if words.count == 3, words[0] == "end", let unit = Int(words[1]), let code = Int32(words[2]) {
          items.append(.returned(unit: unit, code: code))
        }
      }
    }
    return items
  }
}
