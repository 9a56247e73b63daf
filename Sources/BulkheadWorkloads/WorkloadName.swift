/// The built-in workloads: one implementation each, runnable at every level.
public enum WorkloadName: String, Sendable, CaseIterable, Codable {
  // Faults.
  case segv
  case abort
  case trap
  case fpe
  case stackOverflow = "stack-overflow"
  case oom
  case forkBomb = "fork-bomb"
  case fdExhaust = "fd-exhaust"
  case busyHang = "busy-hang"
  case blockHang = "block-hang"
  case exit
  case orphan
  // Helpers.
  case heartbeat
  case echo
  case inspect
  case trySyscall = "try-syscall"
  case ipcPeer = "ipc-peer"
  case canary

  /// Whether this is a fault the crash lab injects (as opposed to a helper).
  public var isFault: Bool {
    switch self {
    case .heartbeat, .echo, .inspect, .trySyscall, .canary, .ipcPeer: false
    default: true
    }
  }

  /// One line for `--list` and help.
  public var summary: String {
    switch self {
    case .segv: "write through a null pointer (SIGSEGV)"
    case .abort: "call abort() (SIGABRT)"
    case .trap: "fail a Swift precondition (SIGILL on x86_64, SIGTRAP on aarch64)"
    case .fpe: "divide an integer by zero (SIGFPE on x86_64; aarch64 has no such trap)"
    case .stackOverflow: "recurse until the stack's guard page (SIGSEGV)"
    case .oom: "[SIZE] allocate and touch memory until stopped, or until SIZE (e.g. 512M)"
    case .forkBomb: "[MAX] fork until fork fails, or MAX processes; then they all wait"
    case .fdExhaust: "[SECONDS] open descriptors until EMFILE, hold them (forever by default)"
    case .busyHang: "spin on the CPU forever"
    case .blockHang: "block in a system call forever"
    case .exit: "N: call exit(N) (at the thread and task levels this ends the host process)"
    case .orphan: "[SECONDS] daemonise a grandchild (fork, setsid, fork) that sleeps (600 s)"
    case .heartbeat:
      "[INTERVAL_MS] [COUNT] print 'alive N' every interval (100 ms, forever); says so when it cannot open a file"
    case .canary: "[INTERVAL_MS] fork a child and allocate 8 MiB every interval (50 ms), print how each went"
    case .echo: "copy stdin to stdout until EOF (an IPC peer)"
    case .inspect: "print what the workload sees, as one JSON object"
    case .trySyscall: "NAME|NUMBER [ARGS] attempt one system call and report the errno"
    case .ipcPeer: "TRANSPORT STYLE CPU ENDPOINT... the responder of bench ipc (echoes until told to stop)"
    }
  }
}

/// A workload and its arguments, as written after `--workload`: `heartbeat 50 10`,
/// or with a delay before it starts, `after=200 segv` (a fault fired after its
/// siblings are under way).
public struct WorkloadInvocation: Sendable, Equatable, Codable {
  public var name: WorkloadName
  public var arguments: [String]
  /// Milliseconds to wait before the workload runs.
  public var delayMilliseconds: Int

  public init(name: WorkloadName, arguments: [String] = [], delayMilliseconds: Int = 0) {
    self.name = name
    self.arguments = arguments
    self.delayMilliseconds = delayMilliseconds
  }

  /// Parses "[after=MS] NAME ARGS..." split on spaces; nil for an unknown name or a
  /// bad delay.
  public init?(parsing text: String) {
    var words = text.split(separator: " ").map(String.init)
    var delay = 0
    if let first = words.first, first.hasPrefix("after=") {
      guard let ms = Int(first.dropFirst(6)), ms >= 0, ms <= 86_400_000 else { return nil }
      delay = ms
      words.removeFirst()
    }
    guard let first = words.first, let name = WorkloadName(rawValue: first) else { return nil }
    self.init(name: name, arguments: Array(words.dropFirst()), delayMilliseconds: delay)
  }

  /// The text again, as parsed.
  public var text: String {
    ((delayMilliseconds > 0 ? ["after=\(delayMilliseconds)"] : []) + [name.rawValue] + arguments)
      .joined(separator: " ")
  }
}
