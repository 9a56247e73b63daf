import BulkheadSpec
import BulkheadWorkloads
import CBench

#if canImport(Glibc)
  import Glibc
#endif

/// The thread level: the initiator is the calling thread, the responder a pthread
/// of this process (C, `bhb_peer_thread_start`), each pinned to its CPU. Rings live
/// in an anonymous mapping; a pipe is two pipes, as between processes.
enum ThreadPeers {
  static func measure(_ c: IPCBench.Case, _ config: IPCBench.Config) throws -> [BenchResult] {
    guard let placement = c.placement else { throw IPCUnavailable(reason: "threads are always pinned") }
    var cleanup: [() -> Void] = []
    defer { for step in cleanup.reversed() { step() } }
    var err: Int32 = 0
    // The initiator's ends of a pipe: released on failure (replaced by /dev/null,
    // keeping the numbers for the cleanup) so that a blocked responder sees EOF.
    var initiatorEnds: [Int32] = []
    let initiator: OpaquePointer?
    let responder: OpaquePointer?
    switch c.transport {
    case .pipe:
      var toPeer: [Int32] = [-1, -1]
      var fromPeer: [Int32] = [-1, -1]
      guard bhb_pipe(&toPeer) == 0 else { throw IPCFailure(step: "pipe2", errno: errno) }
      cleanup.append {
        close(toPeer[0])
        close(toPeer[1])
      }
      guard bhb_pipe(&fromPeer) == 0 else { throw IPCFailure(step: "pipe2", errno: errno) }
      cleanup.append {
        close(fromPeer[0])
        close(fromPeer[1])
      }
      initiatorEnds = [fromPeer[0], toPeer[1]]
      initiator = bhb_chan_fd(fromPeer[0], toPeer[1], c.style.c, &err)
      responder = initiator == nil ? nil : bhb_chan_fd(toPeer[0], fromPeer[1], c.style.c, &err)
    case .eventfd, .spin, .mutexCond:
      let size = bhb_ring_region_size(UnitPeers.ringCapacity)
      guard let region = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
        region != MAP_FAILED
      else { throw IPCFailure(step: "mmap", errno: errno) }
      cleanup.append { munmap(region, size) }
      _ = bhb_ring_region_init(region, size)
      var wake: [Int32] = [-1, -1]
      if c.transport == .eventfd {
        for i in 0..<2 {
          wake[i] = bhb_eventfd()
          if wake[i] < 0 { throw IPCFailure(step: "eventfd", errno: -wake[i]) }
          let fd = wake[i]
          cleanup.append { close(fd) }
        }
      }
      let wait = c.transport.ringWait!
      initiator = bhb_chan_ring(region, size, 0, wait, c.style.c, wake[0], wake[1], &err)
      responder = initiator == nil ? nil : bhb_chan_ring(region, size, 1, wait, c.style.c, wake[1], wake[0], &err)
    default:
      throw IPCUnavailable(reason: "\(c.transport.rawValue) is not a thread transport")
    }
    guard let initiator, let responder else { throw IPCFailure(step: "channel", errno: err) }
    cleanup.append { bhb_chan_free(initiator) }
    cleanup.append { bhb_chan_free(responder) }

    let pinned = bhb_pin_to_cpu(placement.initiator)
    if pinned < 0 { throw IPCFailure(step: "sched_setaffinity(cpu \(placement.initiator))", errno: -pinned) }
    guard let thread = bhb_peer_thread_start(responder, placement.responder, initiator, &err) else {
      throw IPCFailure(step: "pthread_create", errno: err)
    }
    let schedule = IPCSchedule(
      config: config, level: c.level.reportName, transport: c.transport, style: c.style, placement: placement.label)
    let results: [BenchResult]
    do {
      results = try schedule.measure(initiator)
    } catch {
      bhb_chan_abort(responder)
      let null = open("/dev/null", O_RDWR | O_CLOEXEC)
      for fd in initiatorEnds { dup2(null, fd) }
      if null >= 0 { close(null) }
      _ = bhb_peer_thread_join(thread)
      throw error
    }
    let served = bhb_peer_thread_join(thread)
    if served < 0 { throw IPCFailure(step: "responder thread", errno: -served) }
    return results
  }
}
