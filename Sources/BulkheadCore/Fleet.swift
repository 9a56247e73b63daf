import BulkheadSpec
import BulkheadSystem
import CBulkhead

#if canImport(Glibc)
  import Glibc
#endif

/// Watches many workloads from one thread: one epoll over their pidfds, the
/// pipes they print to, the report pipes of thread/task hosts, the signalfd, and
/// one timerfd for every deadline (timeouts, grace periods, CPU-time checks).
/// `Supervisor.wait` is a fleet of one; the crash lab and `bench spawn --count`
/// watch many.
///
/// The fleet owns what it is given: each member's pidfd, report pipe and output
/// pipe are closed, and its cgroup removed, when the member has ended.
public final class Fleet {
  /// Something that happened to a member, with the monotonic time it was seen.
  public enum Event {
    /// A line the member printed: `unit` is the index of the in-process workload
    /// that printed it (thread and task levels), nil for a process's own output.
    case line(member: Int, unit: Int?, text: String, atNanoseconds: UInt64)
    /// An in-process workload of a thread/task host returned `code`.
    case unitReturned(member: Int, unit: Int, code: Int32, atNanoseconds: UInt64)
    /// The member ended and was reaped.
    case ended(member: Int, outcome: Outcome, atNanoseconds: UInt64)
  }

  final class Member {
    let workload: Workload
    let options: Supervisor.Options
    var output: LineBuffer?
    var reports: ReportReader
    var killedBy: KillReason?
    var forwarded: Int32?
    var escalating = false
    var escalated = false
    var graceDeadline: UInt64?
    var timeoutDeadline: UInt64?
    var cpuCheckDeadline: UInt64?
    var ended = false
    var reportUnwatched = false
    /// The relay of its pty (`Spec.terminal`), nil without one.
    var terminal: TerminalRelay?

    init(workload: Workload, options: Supervisor.Options, output: Int32?) {
      self.workload = workload
      self.options = options
      self.output = output.map { LineBuffer(fd: $0) }
      reports = ReportReader(workload: workload)
      if let ms = options.timeoutMilliseconds {
        timeoutDeadline = workload.startedAtMonotonicNanoseconds + UInt64(ms) * 1_000_000
      }
      if options.cpuTimeMilliseconds != nil {
        cpuCheckDeadline = monotonicNanoseconds() + UInt64(Supervisor.cpuCheckMilliseconds) * 1_000_000
      }
    }
  }

  private let signals: SignalFD?
  private let loop: EventLoop
  private let timer: Timer
  /// The members still running, by number: an ended member is dropped, so a fleet
  /// that has watched a million sandboxes holds only the running ones.
  private var members: [Int: Member] = [:]
  /// How many members were ever added.
  public private(set) var count = 0
  /// Members not yet ended.
  public var running: Int { members.count }
  /// The deadline the timer is set for (nil: disarmed).
  private var armedFor: UInt64?

  private static let signalToken = UInt64.max
  private static let timerToken = UInt64.max - 1
  /// bulkhead's stdin, relayed to the one member with a terminal.
  private static let terminalInputToken = UInt64.max - 2
  /// The member whose pty stdin goes to (at most one: there is one stdin).
  private var terminalMember: Int?

  /// `signals`: bulkhead's signalfd for the forwarded signals, or nil to forward none.
  public init(signals: SignalFD? = nil) throws(BulkheadError) {
    self.signals = signals
    loop = try EventLoop()
    timer = try Timer()
    try loop.add(timer.fd, token: Self.timerToken)
    if let signals { try loop.add(signals.fd, token: Self.signalToken) }
  }

  deinit {
    // Members still running when the fleet goes away are killed and reaped: a
    // fleet never leaves a workload behind.
    for (index, member) in members {
      Supervisor.kill(member.workload, SIGKILL)
      var info = siginfo_t()
      _ = bh_waitid_pidfd(member.workload.pidfd, &info, nil, WEXITED)
      finish(index)
    }
  }

  /// Watches `workload` from now on; `output` is the read end of a pipe it prints
  /// to (the fleet reads it line by line and closes it). Returns its member index.
  @discardableResult
  public func add(_ workload: Workload, options: Supervisor.Options, output: Int32? = nil) throws(BulkheadError)
    -> Int
  {
    let index = count
    let member = Member(workload: workload, options: options, output: output)
    // Watched from here on, or ended and reaped here: never a member no one watches.
    members[index] = member
    count += 1
    let base = UInt64(index) << 2
    do throws(BulkheadError) {
      try loop.add(workload.pidfd, token: base)
      if let fd = workload.reportFD { try loop.add(fd, token: base | 1) }
      if let fd = output {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        try loop.add(fd, token: base | 2)
      }
      if let master = workload.terminalFD {
        if terminalMember == nil {
          member.terminal = try TerminalRelay(
            master: master, loop: loop, masterToken: base | 3, inputToken: Self.terminalInputToken)
          terminalMember = index
        } else {
          close(master)
        }
      }
    } catch {
      Supervisor.kill(workload, SIGKILL)
      var info = siginfo_t()
      _ = bh_waitid_pidfd(workload.pidfd, &info, nil, WEXITED)
      finish(index)
      throw error
    }
    return index
  }

  /// The workload of member `index`, while it runs (nil once it has ended).
  public func workload(_ index: Int) -> Workload? { members[index]?.workload }

  /// Whether member `index` has ended.
  public func hasEnded(_ index: Int) -> Bool { members[index] == nil }

  /// Sends `signal` to member `index` (a container through its init, a process
  /// through its process group); nothing once it has ended: its pid may name
  /// another process by then.
  public func signal(_ index: Int, _ signal: Int32) {
    guard let member = members[index] else { return }
    Supervisor.kill(member.workload, signal)
  }

  /// Runs until every member has ended or `deadline` (monotonic ns) passes, calling
  /// `handle` for each event. Returns true when every member has ended.
  @discardableResult
  public func run(until deadline: UInt64? = nil, _ handle: (Event) -> Void = { _ in }) throws(BulkheadError) -> Bool {
    while running > 0 {
      let now = monotonicNanoseconds()
      if let deadline, now >= deadline { return false }
      armTimer(now: now, deadline: deadline)
      let tokens = try loop.wait()
      try dispatch(tokens, at: monotonicNanoseconds(), handle)
    }
    return true
  }

  /// Handles whatever is ready now, without waiting (between launches of a big fleet).
  public func poll(_ handle: (Event) -> Void = { _ in }) throws(BulkheadError) {
    expireDeadlines(now: monotonicNanoseconds())
    let tokens = try loop.wait(timeoutMilliseconds: 0, max: 256)
    try dispatch(tokens, at: monotonicNanoseconds(), handle)
  }

  /// `at`: when the loop woke, the time of every event of this batch (a death and
  /// the last line before it are seen together: what the supervisor learned when).
  private func dispatch(_ tokens: [UInt64], at: UInt64, _ handle: (Event) -> Void) throws(BulkheadError) {
    for token in tokens {
      switch token {
      case Self.signalToken:
        for signal in signals?.drain() ?? [] {
          // A resize is the terminal's business, never forwarded as a signal.
          if signal == SIGWINCH {
            terminalMember.flatMap { members[$0]?.terminal }?.resize()
          } else {
            forward(signal)
          }
        }
      case Self.terminalInputToken:
        terminalMember.flatMap { members[$0]?.terminal }?.inputReady()
      case Self.timerToken:
        _ = timer.consume()
        armedFor = nil
        expireDeadlines(now: monotonicNanoseconds())
      default:
        let index = Int(token >> 2)
        guard members[index] != nil else { continue }
        switch token & 3 {
        case 0: try reap(index, at: at, handle)
        case 1: deliverReports(index, at: at, handle)
        case 2: deliverOutput(index, at: at, handle, final: false)
        default: members[index]?.terminal?.masterReady()
        }
      }
    }
  }

  // MARK: - Events

  private func reap(_ index: Int, at: UInt64, _ handle: (Event) -> Void) throws(BulkheadError) {
    guard let member = members[index] else { return }
    let workload = member.workload
    // The workload has ended but is not reaped yet, so its pid still names its
    // process group: end what is left of the group (children it did not wait for,
    // forks of a host) before reaping. A daemon that called setsid has left the
    // group and the process level does not stop it: that is the escape the process
    // level allows. A container's pid namespace ends with its init.
    if !workload.inOwnPidNamespace { _ = Glibc.kill(-workload.pid, SIGKILL) }
    var info = siginfo_t()
    var usage = rusage()
    let r = bh_waitid_pidfd(workload.pidfd, &info, &usage, WEXITED | WNOHANG)
    if r == -1 && errno == EINTR { return }
    if r == -1 { throw .setupFailed(step: "waitid", errno: errno) }
    guard bh_siginfo_pid(&info) != 0 else { return }  // not yet
    let code = bh_siginfo_code(&info)
    let status = bh_siginfo_status(&info)
    let termination: Termination =
      code == CLD_EXITED ? .exited(code: status) : .signaled(signal: status, coreDumped: code == CLD_DUMPED)
    deliverReports(index, at: at, handle)
    deliverOutput(index, at: at, handle, final: true)
    // What it printed last, then the host terminal as it was: before anyone reports.
    member.terminal?.finish()
    let stats = workload.cgroup?.stats()
    // A sandbox group (not a tracking one) is killed whole on removal: what is still
    // in it now outlived the workload (a container's pid namespace allows none).
    let outlived = workload.cgroup.map { $0.tracking ? [] : $0.members() } ?? []
    var killedBy = member.killedBy
    if killedBy == nil, case .signaled(let signal, _) = termination {
      if signal == SIGKILL, let kills = stats?.oomKills, kills > 0 {
        killedBy = .oom
      } else if signal == SIGSYS && workload.seccompFiltered {
        killedBy = .seccomp
      }
    }
    var outcome = Outcome(
      termination: termination, killedBy: killedBy, escalatedToKill: member.escalated,
      forwardedSignal: member.forwarded,
      userCPUSeconds: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
      systemCPUSeconds: Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6,
      maxRSSKiB: usage.ru_maxrss)
    outcome.inProcess = member.reports.statuses
    outcome.cgroup = stats
    finish(index)
    let escaped = outlived + (workload.cgroup?.released ?? [])
    if !escaped.isEmpty { outcome.escaped = escaped }
    handle(.ended(member: index, outcome: outcome, atNanoseconds: at))
  }

  /// Closes what the member held and removes its cgroup (whatever is left in it,
  /// escaped children, is killed; a tracking group's is moved out and recorded).
  private func finish(_ index: Int) {
    guard let member = members.removeValue(forKey: index) else { return }
    member.ended = true
    member.terminal?.finish()
    member.terminal = nil
    if terminalMember == index { terminalMember = nil }
    loop.remove(member.workload.pidfd)
    close(member.workload.pidfd)
    if let fd = member.workload.reportFD {
      if !member.reportUnwatched { loop.remove(fd) }
      close(fd)
    }
    if let fd = member.output?.fd {
      loop.remove(fd)
      close(fd)
    }
    member.output = nil
    try? member.workload.cgroup?.remove(processGroup: member.workload.inOwnPidNamespace ? nil : member.workload.pid)
  }

  private func deliverReports(_ index: Int, at: UInt64, _ handle: (Event) -> Void) {
    guard let member = members[index] else { return }
    for item in member.reports.drain() {
      switch item {
      case .line(let unit, let text): handle(.line(member: index, unit: unit, text: text, atNanoseconds: at))
      case .returned(let unit, let code):
        handle(.unitReturned(member: index, unit: unit, code: code, atNanoseconds: at))
      }
    }
    // At EOF the pipe stays readable: stop watching it (it is closed at the end).
    if member.reports.closed, let fd = member.workload.reportFD, !member.reportUnwatched {
      loop.remove(fd)
      member.reportUnwatched = true
    }
  }

  private func deliverOutput(_ index: Int, at: UInt64, _ handle: (Event) -> Void, final: Bool) {
    guard let member = members[index], var buffer = member.output else { return }
    let (lines, eof) = buffer.drain(final: final)
    if eof {
      loop.remove(buffer.fd)
      close(buffer.fd)
      member.output = nil
    } else {
      member.output = buffer
    }
    for line in lines { handle(.line(member: index, unit: nil, text: line, atNanoseconds: at)) }
  }

  // MARK: - Signals and deadlines

  private func forward(_ signal: Int32) {
    for member in members.values where member.options.forwardSignals {
      if member.escalating {
        Supervisor.kill(member.workload, SIGKILL)
        member.escalated = true
      } else {
        member.forwarded = signal
        member.killedBy = member.killedBy ?? .forwardedSignal
        Supervisor.kill(member.workload, signal)
        startGrace(member)
      }
    }
  }

  private func startGrace(_ member: Member) {
    member.escalating = true
    member.graceDeadline = monotonicNanoseconds() + UInt64(max(1, member.options.graceMilliseconds)) * 1_000_000
  }

  private func expireDeadlines(now: UInt64) {
    for member in members.values {
      if let at = member.graceDeadline, at <= now {
        member.graceDeadline = nil
        Supervisor.kill(member.workload, SIGKILL)
        member.escalated = true
      }
      if let at = member.timeoutDeadline, at <= now {
        member.timeoutDeadline = nil
        member.killedBy = member.killedBy ?? .timeout
        Supervisor.kill(member.workload, SIGTERM)
        if !member.escalating { startGrace(member) }
      }
      if let at = member.cpuCheckDeadline, at <= now, let limit = member.options.cpuTimeMilliseconds {
        member.cpuCheckDeadline = nil
        let workload = member.workload
        let used = workload.cgroup?.cpuUsageNanoseconds() ?? Supervisor.cpuNanoseconds(of: workload.pid)
        if let used, used >= UInt64(limit) * 1_000_000, !member.escalating {
          member.killedBy = member.killedBy ?? .cpuTime
          Supervisor.kill(workload, SIGTERM)
          startGrace(member)
        } else {
          member.cpuCheckDeadline = now + UInt64(Supervisor.cpuCheckMilliseconds) * 1_000_000
        }
      }
    }
  }

  /// Arms the one timer for the earliest deadline of any member, or `deadline`.
  private func armTimer(now: UInt64, deadline: UInt64?) {
    var earliest = deadline
    for member in members.values {
      for case let at? in [member.graceDeadline, member.timeoutDeadline, member.cpuCheckDeadline] {
        earliest = min(earliest ?? at, at)
      }
    }
    // The timer is set only when the earliest deadline changed: most wakeups (a
    // line, an end) leave it as it was, and a run without deadlines never sets it.
    guard earliest != armedFor else { return }
    armedFor = earliest
    guard let earliest else {
      timer.arm(milliseconds: 0)
      return
    }
    // Rounded up: a timer that fires early would only spin.
    timer.arm(milliseconds: Int(max(1, (earliest &- min(earliest, now) + 999_999) / 1_000_000)))
  }
}

/// Splits what a non-blocking descriptor delivers into lines.
struct LineBuffer {
  let fd: Int32
  var pending: [UInt8] = []

  init(fd: Int32) { self.fd = fd }

  /// Reads what is there; returns complete lines (and, when `final` or at EOF,
  /// the unterminated rest) and whether the writer closed its end.
  mutating func drain(final: Bool) -> (lines: [String], eof: Bool) {
    var buffer = [UInt8](repeating: 0, count: 16384)
    var eof = false
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n == 0 { eof = true }
      if n <= 0 { break }
      pending.append(contentsOf: buffer[0..<n])
    }
    var lines: [String] = []
    // A workload that prints without newlines does not grow the supervisor without
    // bound: past 64 KiB, what is pending is a line of its own.
    if pending.count > 65536 && !pending.contains(UInt8(ascii: "\n")) {
      lines.append(String(decoding: pending, as: UTF8.self))
      pending.removeAll()
    }
    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
      lines.append(String(decoding: pending[..<newline], as: UTF8.self))
      pending.removeSubrange(...newline)
    }
    if (final || eof) && !pending.isEmpty {
      lines.append(String(decoding: pending, as: UTF8.self))
      pending.removeAll()
    }
    return (lines, eof)
  }
}
