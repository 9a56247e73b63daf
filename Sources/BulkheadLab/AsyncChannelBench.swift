import BulkheadWorkloads
import CBench
import Dispatch

/// The task level: two async tasks of this process exchanging messages through an
/// async channel (a pair of `AsyncStream`s). There is no system call to time here:
/// what is timed is Swift concurrency itself — a continuation resumed, a task
/// scheduled on the cooperative pool. A message is a fresh buffer copied from the
/// sender's (its "write"), and the receiver copies it into its own (its "read"),
/// so that the bytes are moved twice, as through a pipe. Without a placement the
/// cooperative pool places the two tasks; with one, each task prefers a
/// `PinnedExecutor`: one executor thread for both on the same core, one on each
/// CPU for different cores.
enum AsyncChannelBench {
  enum Message: Sendable {
    case echo([UInt8])
    case chunk([UInt8])
    case acknowledge
    case end
  }

  static let poolPlacement = "not pinned (the cooperative pool places tasks)"

  static func label(_ placement: IPCBench.Placement) -> String {
    placement.initiator == placement.responder
      ? "\(placement.label): one executor thread" : "\(placement.label): an executor thread on each"
  }

  static func measure(_ config: IPCBench.Config, placement: IPCBench.Placement?) throws -> [BenchResult] {
    final class Box: @unchecked Sendable { var results: [BenchResult] = [] }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    guard let placement else {
      Task.detached {
        box.results = await run(config, responderExecutor: nil, placement: poolPlacement)
        done.signal()
      }
      done.wait()
      return box.results
    }
    let initiator = try PinnedExecutor(cpu: placement.initiator)
    defer { initiator.stop() }
    var responder = initiator
    if placement.responder != placement.initiator { responder = try PinnedExecutor(cpu: placement.responder) }
    defer { if responder !== initiator { responder.stop() } }
    let executor = responder
    Task(executorPreference: initiator) {
      box.results = await run(config, responderExecutor: executor, placement: label(placement))
      done.signal()
    }
    done.wait()
    return box.results
  }

  static func run(_ config: IPCBench.Config, responderExecutor: PinnedExecutor?, placement: String) async
    -> [BenchResult]
  {
    let (requests, send) = AsyncStream.makeStream(of: Message.self)
    let (replies, reply) = AsyncStream.makeStream(of: Message.self)
    let largest = max(config.sizes.max() ?? 1, config.streamChunk)
    let responder = Task(executorPreference: responderExecutor) {
      var own = [UInt8](repeating: 0, count: largest)
      for await message in requests {
        switch message {
        case .echo(let bytes):
          own.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { dst.copyMemory(from: $0) } }
          reply.yield(.echo(Array(own[0..<bytes.count])))
        case .chunk(let bytes):
          own.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { dst.copyMemory(from: $0) } }
        case .acknowledge:
          reply.yield(.acknowledge)
        case .end:
          reply.finish()
          return
        }
      }
    }
    var incoming = replies.makeAsyncIterator()
    let source = [UInt8](repeating: 0x5a, count: largest)
    let budget = UInt64(config.budgetMilliseconds) * 1_000_000
    let name = "\(IPCTransport.asyncChannel.rawValue) \(IPCStyle.blocking.rawValue)"
    var results: [BenchResult] = []

    func roundTrips(size: Int, count: Int, budget: UInt64) async -> [UInt64] {
      var samples: [UInt64] = []
      samples.reserveCapacity(count)
      let start = bhb_now_ns()
      while samples.count < count {
        let t0 = bhb_now_ns()
        send.yield(.echo(Array(source[0..<size])))
        _ = await incoming.next()
        let t1 = bhb_now_ns()
        samples.append(t1 - t0)
        if t1 - start >= budget { break }
      }
      return samples
    }

    for size in config.sizes {
      _ = await roundTrips(size: size, count: max(20, config.iterations / 10), budget: budget / 5)
      let samples = await roundTrips(size: size, count: config.iterations, budget: budget)
      results.append(
        BenchResult(
          kind: "ipc", level: "task", name: "\(name) rtt \(IPCBench.sizeLabel(size))", metric: "latency",
          distribution: Distribution(samples: samples, unit: "ns"), placement: placement,
          notes: ["round trip: \(size) bytes each way through two AsyncStreams, copied on both sides"]))
    }
    if config.stream {
      let chunk = config.streamChunk
      func round(_ bytes: Int) async -> UInt64 {
        let t0 = bhb_now_ns()
        var sent = 0
        while sent < bytes {
          let k = min(chunk, bytes - sent)
          send.yield(.chunk(Array(source[0..<k])))
          sent += k
        }
        send.yield(.acknowledge)
        _ = await incoming.next()
        return max(1, bhb_now_ns() - t0)
      }
      let first = await round(256 << 10)
      let rate = Double(256 << 10) * 1e9 / Double(first)
      let bytes = min(64 << 20, max(chunk, (Int(rate * IPCSchedule.streamRoundSeconds) / chunk) * chunk))
      var samples: [UInt64] = []
      let start = bhb_now_ns()
      while samples.count < IPCSchedule.streamRounds(config) {
        let ns = await round(bytes)
        samples.append(UInt64(Double(bytes) * 1e9 / Double(ns)))
        if bhb_now_ns() - start >= budget * 2 && samples.count >= 3 { break }
      }
      results.append(
        BenchResult(
          kind: "ipc", level: "task", name: "\(name) stream", metric: "throughput",
          distribution: Distribution(samples: samples, unit: "B/s"), placement: placement,
          notes: [
            "one sample per round of \(IPCBench.sizeLabel(bytes)) in \(IPCBench.sizeLabel(chunk)) messages, to the reader's acknowledgement; the channel is unbounded, so the writer may run ahead"
          ]))
    }
    send.yield(.end)
    send.finish()
    _ = await responder.value
    return results
  }
}
