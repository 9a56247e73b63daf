import CBench

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Where a workload runs and where its lines go.
public struct WorkloadContext: Sendable {
  /// "task", "thread", "process" or "container": the level it was started at.
  public var level: String
  /// Its index among the workloads of one host (0 outside a host).
  public var index: Int
  /// The descriptor its lines are written to (stdout).
  public var outputFD: Int32

  /// In a thread/task host: the report pipe, where each line is repeated as
  /// `line INDEX TEXT` so the supervisor knows which sibling printed it; else -1.
  public var reportFD: Int32

  public init(level: String, index: Int = 0, outputFD: Int32 = 1, reportFD: Int32 = -1) {
    self.level = level
    self.index = index
    self.outputFD = outputFD
    self.reportFD = reportFD
  }

  /// A fault's announcement, written just before it fires, stamped with
  /// CLOCK_MONOTONIC (one clock in every pid namespace): the crash lab measures from
  /// it how long the supervisor took to learn how the fault ended.
  public func announce(_ line: String) {
    emit("\(line) [monotonic \(bhb_now_ns())]")
  }

  /// Writes one line with a single write(2), so lines of sibling workloads do not interleave.
  public func emit(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    _ = bytes.withUnsafeBytes { write(outputFD, $0.baseAddress, $0.count) }
    // Up to PIPE_BUF a pipe write is atomic: siblings' reports never interleave.
    if reportFD >= 0 && bytes.count < 4000 {
      let report = Array("line \(index) ".utf8) + bytes
      _ = report.withUnsafeBytes { write(reportFD, $0.baseAddress, $0.count) }
    }
  }
}
