import CBench
import CWorkloads

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Runs the built-in workloads. One implementation each; the in-process levels call
/// the same functions as `bulkhead-probe`. Where a fault behaves differently at a
/// level, that difference is the kernel's, not ours (see docs/workloads.md).
public enum Workloads {
  /// Runs `invocation` on the calling thread and returns its exit code, if it returns.
  public static func run(_ invocation: WorkloadInvocation, context: WorkloadContext) -> Int32 {
    if invocation.delayMilliseconds > 0 { sleepMilliseconds(invocation.delayMilliseconds) }
    let args = invocation.arguments
    switch invocation.name {
    case .segv:
      context.announce("segv: writing through a null pointer")
      bhw_segv()
      return 1
    case .abort:
      context.announce("abort: calling abort()")
      Glibc.abort()
    case .trap:
      context.announce("trap: failing a precondition")
      trap()
    case .fpe:
      context.announce("fpe: dividing by zero")
      let result = bhw_fpe(0)
      context.emit("fpe: no trap on this architecture: 1 / 0 = \(result)")
      return 0
    case .stackOverflow:
      context.announce("stack-overflow: recursing")
      return bhw_stack_overflow(0)
    case .oom:
      return oom(ceiling: args.first.flatMap(parseSize), context: context)
    case .forkBomb:
      return forkBomb(max: args.first.flatMap { Int($0) } ?? 0, context: context)
    case .fdExhaust:
      return fdExhaust(holdSeconds: args.first.flatMap { UInt32($0) }, context: context)
    case .busyHang:
      context.announce("busy-hang: spinning")
      spin()
    case .blockHang:
      context.announce("block-hang: blocking in pause()")
      while true { pause() }
    case .exit:
      let code = args.first.flatMap { Int32($0) } ?? 0
      context.announce("exit: calling exit(\(code))")
      Glibc.exit(code)
    case .orphan:
      return orphan(seconds: args.first.flatMap { UInt32($0) } ?? 600, context: context)
    case .heartbeat:
      let (interval, count) = heartbeatArguments(args)
      var beat = 0
      while count == 0 || beat < count {
        beat += 1
        context.emit(aliveLine(beat))
        if count != 0 && beat == count { break }
        sleepMilliseconds(interval)
      }
      return 0
    case .canary:
      return canary(intervalMilliseconds: max(1, args.first.flatMap { Int($0) } ?? 50), context: context)
    case .echo:
      return echo(context: context)
    case .inspect:
      context.emit(Inspection.current(level: context.level).json)
      return 0
    case .trySyscall:
      let result = TrySyscall.attempt(args)
      context.emit(result.line)
      return result.allowed ? 0 : 1
    case .ipcPeer:
      return IPCPeer.run(args, context: context)
    }
  }

  /// The task level: the same workloads inside an async task. Only `heartbeat`
  /// awaits (Task.sleep); every other workload runs its blocking code on the
  /// cooperative thread it was given, as blocking code in an async task does.
  public static func runAsync(_ invocation: WorkloadInvocation, context: WorkloadContext) async -> Int32 {
    var invocation = invocation
    if invocation.delayMilliseconds > 0 {
      try? await Task.sleep(for: .milliseconds(invocation.delayMilliseconds))
      invocation.delayMilliseconds = 0
    }
    guard invocation.name == .heartbeat else { return run(invocation, context: context) }
    let (interval, count) = heartbeatArguments(invocation.arguments)
    var beat = 0
    while count == 0 || beat < count {
      beat += 1
      context.emit(aliveLine(beat))
      if count != 0 && beat == count { break }
      try? await Task.sleep(for: .milliseconds(interval))
    }
    return 0
  }

  /// "alive N", and whether the heartbeat could still open a file: siblings that
  /// share a descriptor table (threads, tasks) lose that together.
  static func aliveLine(_ beat: Int) -> String {
    let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
      close(fd)
      return "alive \(beat)"
    }
    let err = errno
    return "alive \(beat) (cannot open a file: \(String(cString: strerror(err))))"
  }

  /// The crash lab's canary: a bystander of the same user that keeps forking and
  /// allocating, and says how each round went and how long it took.
  static func canary(intervalMilliseconds: Int, context: WorkloadContext) -> Int32 {
    var round = 0
    while true {
      round += 1
      let start = bhb_now_ns()
      var forkErr: Int32 = 0
      let allocated = bhw_canary_round(8 << 20, &forkErr) == 1
      let micros = (bhb_now_ns() - start) / 1000
      let fork = forkErr == 0 ? "ok" : String(cString: strerror(forkErr))
      context.emit("canary \(round) fork=\(fork) alloc=\(allocated ? "ok" : "failed") us=\(micros)")
      sleepMilliseconds(intervalMilliseconds)
    }
  }

  static func heartbeatArguments(_ args: [String]) -> (interval: Int, count: Int) {
    (max(1, args.first.flatMap { Int($0) } ?? 100), max(0, args.dropFirst().first.flatMap { Int($0) } ?? 0))
  }

  @inline(never)
  static func trap() -> Never {
    precondition(CommandLine.arguments.count < 0, "bulkhead trap workload")
    fatalError("unreachable")
  }

  @inline(never)
  static func spin() -> Never {
    var x: UInt64 = 0
    while true {
      x &+= 1
      withUnsafeMutablePointer(to: &x) { _ = $0 }
    }
  }

  static func sleepMilliseconds(_ ms: Int) {
    var request = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
  }

  /// "512M" -> bytes; K, M, G suffixes (powers of 1024) or a plain byte count.
  public static func parseSize(_ text: String) -> Int? {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    if let last = text.last?.uppercased().first, let unit = units[last] {
      return Int(text.dropLast()).map { $0 * unit }
    }
    return Int(text)
  }

  static func oom(ceiling: Int?, context: WorkloadContext) -> Int32 {
    let chunk = 16 << 20
    var total = 0
    var lastReport = 0
    context.announce(
      "oom: allocating \(chunk >> 20) MiB chunks\(ceiling.map { " up to \($0 >> 20) MiB" } ?? " until stopped")")
    var held: [UnsafeMutableRawPointer] = []
    while ceiling == nil || total < ceiling! {
      // Every page is written: untouched memory is not charged.
      guard let p = bhw_alloc_touch(chunk) else {
        context.emit("oom: malloc failed after \(total >> 20) MiB (ENOMEM)")
        return 4
      }
      held.append(p)
      total += chunk
      if total - lastReport >= 256 << 20 {
        lastReport = total
        context.emit("oom: \(total >> 20) MiB")
      }
    }
    context.emit("oom: reached the ceiling of \(total >> 20) MiB without being stopped (\(held.count) chunks held)")
    for p in held { free(p) }
    return 3
  }

  static func forkBomb(max: Int, context: WorkloadContext) -> Int32 {
    context.announce("fork-bomb: forking\(max > 0 ? " up to \(max) processes" : " until fork fails")")
    var stopErrno: Int32 = 0
    let count = bhw_fork_bomb(max, &stopErrno)
    if stopErrno != 0 {
      context.emit(
        "fork-bomb: \(count) processes, then fork failed: \(String(cString: strerror(stopErrno))) (errno \(stopErrno))")
    } else {
      context.emit("fork-bomb: \(count) processes (the cap)")
    }
    // A fork bomb does not end by itself: its processes stay until the sandbox ends.
    while true { pause() }
  }

  static func fdExhaust(holdSeconds: UInt32?, context: WorkloadContext) -> Int32 {
    var opened: [Int32] = []
    var err: Int32 = 0
    while true {
      let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
      if fd < 0 {
        err = errno
        break
      }
      opened.append(fd)
    }
    context.emit(
      "fd-exhaust: opened \(opened.count) descriptors, then \(String(cString: strerror(err))) (errno \(err))")
    guard let holdSeconds else {
      while true { pause() }
    }
    sleepMilliseconds(Int(holdSeconds) * 1000)
    for fd in opened { close(fd) }
    return 0
  }

  static func orphan(seconds: UInt32, context: WorkloadContext) -> Int32 {
    let pid = bhw_orphan(seconds)
    guard pid > 0 else {
      context.emit("orphan: could not daemonise: errno \(-pid)")
      return 1
    }
    context.emit("orphan: daemonised pid \(pid), sleeping \(seconds) s")
    return 0
  }

  static func echo(context: WorkloadContext) -> Int32 {
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
      if n == 0 { return 0 }
      if n < 0 {
        if errno == EINTR { continue }
        return 1
      }
      var off = 0
      while off < n {
        let w = buffer.withUnsafeBytes { write(context.outputFD, $0.baseAddress! + off, n - off) }
        if w < 0 {
          if errno == EINTR { continue }
          return 1
        }
        off += w
      }
    }
  }
}
