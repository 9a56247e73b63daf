import BulkheadSpec
import BulkheadWorkloads
import CBench

#if canImport(Glibc)
  import Glibc
#endif

/// The initiator's side of one case: for each size a warm-up and then timed round
/// trips, then streaming rounds; each batch a call into C (`bhb_rtt`,
/// `bhb_stream`), so that Swift runs only between batches, never inside a sample.
struct IPCSchedule {
  var config: IPCBench.Config
  var level: String
  var transport: IPCTransport
  var style: IPCStyle
  var placement: String?

  /// Round-trip samples: at most `count`, or fewer when `budget` ns ran out. The
  /// batches grow to fill the remaining budget at the speed of the last one, so a
  /// slow case (busy polling on one core: a time slice per round trip) stops on
  /// time and a fast one is not slowed by Swift between samples.
  static func roundTrips(_ chan: OpaquePointer, size: Int, count: Int, budget: UInt64) throws -> [UInt64] {
    var samples: [UInt64] = []
    samples.reserveCapacity(count)
    var buffer = [UInt64](repeating: 0, count: 512)
    let start = bhb_now_ns()
    var batch = 1
    while samples.count < count {
      let n = Swift.min(batch, count - samples.count, buffer.count)
      let r = buffer.withUnsafeMutableBufferPointer { bhb_rtt(chan, size, n, $0.baseAddress) }
      if r < 0 { throw IPCFailure(step: "round trip of \(IPCBench.sizeLabel(size))", errno: -r) }
      samples += buffer[0..<n]
      let elapsed = bhb_now_ns() - start
      if elapsed >= budget { break }
      let mean = Swift.max(1, buffer[0..<n].reduce(0, +) / UInt64(n))
      batch = Int(Swift.min(UInt64(buffer.count), Swift.max(1, (budget - elapsed) / mean)))
    }
    return samples
  }

  /// How long a streaming round should last: short enough that most rounds of a
  /// busy poller fall between two preemptions by other programs (so that the
  /// distribution shows both kinds of round rather than their mixture), long
  /// enough that the acknowledgement's wake-up (tens of µs across cores here) is
  /// a small part of it.
  static let streamRoundSeconds = 0.002

  /// Rounds per stream measurement, at most.
  static func streamRounds(_ config: IPCBench.Config) -> Int { Swift.max(5, Swift.min(100, config.iterations / 20)) }

  /// Streaming rounds: each round `bytes` in writes of `chunk` and an
  /// acknowledgement; one sample (bytes/s) per round. The first round (256 KiB) is
  /// a warm-up that also sizes the others to about `streamRoundSeconds` each.
  static func stream(_ chan: OpaquePointer, chunk: Int, rounds: Int, budget: UInt64) throws -> (
    samples: [UInt64], bytes: Int
  ) {
    var elapsed: UInt64 = 0
    var r = bhb_stream(chan, 256 << 10, chunk, &elapsed)
    if r < 0 { throw IPCFailure(step: "stream", errno: -r) }
    let rate = Double(256 << 10) * 1e9 / Double(Swift.max(1, elapsed))
    let target = Int(rate * streamRoundSeconds)
    let bytes = Swift.min(64 << 20, Swift.max(chunk, (target / chunk) * chunk))
    var samples: [UInt64] = []
    let start = bhb_now_ns()
    while samples.count < rounds {
      r = bhb_stream(chan, bytes, chunk, &elapsed)
      if r < 0 { throw IPCFailure(step: "stream", errno: -r) }
      samples.append(UInt64(Double(bytes) * 1e9 / Double(Swift.max(1, elapsed))))
      if bhb_now_ns() - start >= budget && samples.count >= 3 { break }
    }
    return (samples, bytes)
  }

  /// Runs the whole schedule over the initiator's channel and returns its results
  /// (the responder is told to finish only by the caller, after this returns).
  func measure(_ chan: OpaquePointer) throws -> [BenchResult] {
    let budget = UInt64(config.budgetMilliseconds) * 1_000_000
    var results: [BenchResult] = []
    for size in config.sizes {
      _ = try Self.roundTrips(chan, size: size, count: Swift.max(20, config.iterations / 10), budget: budget / 5)
      let samples = try Self.roundTrips(chan, size: size, count: config.iterations, budget: budget)
      results.append(
        BenchResult(
          kind: "ipc", level: level, name: "\(transport.rawValue) \(style.rawValue) rtt \(IPCBench.sizeLabel(size))",
          metric: "latency", distribution: Distribution(samples: samples, unit: "ns"), placement: placement,
          notes: ["round trip: \(size) bytes each way, one sample per round trip"]))
    }
    if config.stream {
      let (samples, bytes) = try Self.stream(
        chan, chunk: config.streamChunk, rounds: Self.streamRounds(config),
        budget: budget * 2)
      results.append(
        BenchResult(
          kind: "ipc", level: level, name: "\(transport.rawValue) \(style.rawValue) stream", metric: "throughput",
          distribution: Distribution(samples: samples, unit: "B/s"), placement: placement,
          notes: [
            "one sample per round of \(IPCBench.sizeLabel(bytes)) in \(IPCBench.sizeLabel(config.streamChunk)) writes, to the reader's acknowledgement"
          ]))
    }
    let r = bhb_finish(chan)
    if r < 0 { throw IPCFailure(step: "finish", errno: -r) }
    return results
  }
}

/// A system call of the exchange failed (the peer died: EPIPE or ECANCELED), or,
/// with errno 0, the peer said what went wrong.
struct IPCFailure: Error, CustomStringConvertible {
  var step: String
  var errno: Int32

  var description: String {
    errno == 0 ? step : "\(step): \(BulkheadError.describe(errno: errno)) (errno \(errno))"
  }
}
