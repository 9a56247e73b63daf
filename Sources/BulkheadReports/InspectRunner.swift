import BulkheadCore
import BulkheadSpec
import BulkheadSystem
import BulkheadWorkloads

#if canImport(Glibc)
  import Glibc
#endif

/// Runs the probe's `inspect` at a level, with the same launcher, supervisor and
/// options as `bulkhead run`, and reads back what it printed.
public struct InspectRunner: Sendable {
  public var probePath: String?
  public var hostExecutable: String?

  public init(probePath: String?, hostExecutable: String?) {
    self.probePath = probePath
    self.hostExecutable = hostExecutable
  }

  /// The host's own view: the same inspection, run in this process.
  public static func host() throws(BulkheadError) -> InspectionReport {
    try InspectionReport.parse(Inspection.current(level: "host").json)
  }

  /// The cgroup limits of a running process, read from outside (this process's
  /// view of the cgroup filesystem, the process's /proc/PID/cgroup).
  public static func cgroupLimits(pid: Int32) -> [String: String]? {
    let lines = (readText("/proc/\(pid)/cgroup") ?? "").split(separator: "\n").map(String.init)
    let limits = Inspection.cgroupLimits(lines)
    return limits.isEmpty ? nil : Dictionary(limits, uniquingKeysWith: { a, _ in a })
  }

  /// `spec` must name the `inspect` workload (and nothing else).
  public func inspect(_ spec: Spec) throws(BulkheadError) -> InspectionReport {
    let pipe = try FileDescriptor.pipe(step: "pipe2 (inspect output)")
    // A large pipe: the report is read once the workload has ended.
    _ = fcntl(pipe.write.rawValue, 1031, 1 << 20)  // F_SETPIPE_SZ, not imported
    let launcher = Launcher(probePath: probePath, hostExecutable: hostExecutable, stdoutFD: pipe.write.rawValue)
    let workload: Workload
    do {
      workload = try launcher.start(spec, recordNamespaces: false)
    } catch {
      pipe.read.close()
      pipe.write.close()
      throw error
    }
    pipe.write.close()
    defer { pipe.read.close() }
    // The limits of its cgroup, read from outside while it is there: the supervisor's
    // view has the cgroup filesystem the workload's may lack (a container without /sys).
    let limits = Self.cgroupLimits(pid: workload.pid)
    let cgroupsOutside = readText("/proc/\(workload.pid)/cgroup").map { $0.split(separator: "\n").map(String.init) }
    let outcome = try Supervisor().wait(for: workload, options: Supervisor.Options(spec: spec, forwardSignals: false))
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(pipe.read.rawValue, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      bytes.append(contentsOf: buffer[0..<n])
    }
    guard outcome.exitStatus == 0 else {
      throw BulkheadError(
        code: .setupFailed, step: "inspect", value: spec.level.rawValue,
        reason: "the probe ended with status \(outcome.exitStatus) before it reported")
    }
    let text = String(decoding: bytes, as: UTF8.self)
    let line = text.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? text
    var report = try InspectionReport.parse(line)
    report.cgroupLimits = limits
    report.cgroupsOutside = cgroupsOutside
    return report
  }
}
