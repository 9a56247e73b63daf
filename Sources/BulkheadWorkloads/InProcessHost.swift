#if canImport(Glibc)
  import Glibc
#endif

/// The host process of the thread and task levels: it runs several workloads in
/// one address space, as threads (pthreads) or as Swift concurrency tasks, so that
/// a fault takes the host down exactly as it would take down a multi-threaded
/// server. It reports to the supervisor over `reportFD`, one line per event:
///
///     start INDEX NAME
///     end INDEX CODE
///
/// An `end` line means the workload returned; a host that dies leaves the
/// workloads that were running without one.
public enum InProcessHost {
  public enum Mode: String, Sendable, CaseIterable {
    case thread
    case task
  }

  /// Runs every invocation to completion and returns the first non-zero code (0 if
  /// none). Never returns when a workload ends the process (a fault, exit()).
  public static func run(mode: Mode, invocations: [WorkloadInvocation], reportFD: Int32) -> Int32 {
    let codes = UnsafeMutablePointer<Int32>.allocate(capacity: max(invocations.count, 1))
    codes.initialize(repeating: 0, count: max(invocations.count, 1))
    defer { codes.deallocate() }
    switch mode {
    case .thread:
      var threads: [pthread_t] = []
      for (index, invocation) in invocations.enumerated() {
        let job = Job(
          invocation: invocation, context: WorkloadContext(level: "thread", index: index, reportFD: reportFD),
          reportFD: reportFD,
          result: codes + index)
        var thread = pthread_t()
        let box = Unmanaged.passRetained(job).toOpaque()
        let r = pthread_create(
          &thread, nil,
          { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.result.pointee = job.runBlocking()
            return nil
          }, box)
        if r != 0 {
          Unmanaged<Job>.fromOpaque(box).release()
          report(reportFD, "error \(index) pthread_create \(r)")
          return 125
        }
        threads.append(thread)
      }
      for thread in threads { pthread_join(thread, nil) }
    case .task:
      var done: [Int32] = [-1, -1]
      guard pipe(&done) == 0 else { return 125 }
      for (index, invocation) in invocations.enumerated() {
        let job = Job(
          invocation: invocation, context: WorkloadContext(level: "task", index: index, reportFD: reportFD),
          reportFD: reportFD,
          result: codes + index)
        let signal = done[1]
        Task.detached {
          job.result.pointee = await job.runAsync()
          var byte: UInt8 = 1
          _ = write(signal, &byte, 1)
        }
      }
      var byte: UInt8 = 0
      var finished = 0
      while finished < invocations.count {
        let n = read(done[0], &byte, 1)
        if n == 1 { finished += 1 } else if n < 0 && errno == EINTR { continue } else { break }
      }
    }
    for i in 0..<invocations.count where codes[i] != 0 { return codes[i] }
    return 0
  }

  static func report(_ fd: Int32, _ line: String) {
    guard fd >= 0 else { return }
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
  }

  final class Job: @unchecked Sendable {
    let invocation: WorkloadInvocation
    let context: WorkloadContext
    let reportFD: Int32
    let result: UnsafeMutablePointer<Int32>

    init(invocation: WorkloadInvocation, context: WorkloadContext, reportFD: Int32, result: UnsafeMutablePointer<Int32>)
    {
      self.invocation = invocation
      self.context = context
      self.reportFD = reportFD
      self.result = result
    }

    func runBlocking() -> Int32 {
      InProcessHost.report(reportFD, "start \(context.index) \(invocation.name.rawValue)")
      let code = Workloads.run(invocation, context: context)
      InProcessHost.report(reportFD, "end \(context.index) \(code)")
      return code
    }

    func runAsync() async -> Int32 {
      InProcessHost.report(reportFD, "start \(context.index) \(invocation.name.rawValue)")
      let code = await Workloads.runAsync(invocation, context: context)
      InProcessHost.report(reportFD, "end \(context.index) \(code)")
      return code
    }
  }
}
