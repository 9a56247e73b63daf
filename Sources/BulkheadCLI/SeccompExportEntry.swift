import BulkheadCore
import BulkheadSeccomp
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `bulkhead _seccomp-export PROFILE FILE`: writes the compiled filter as raw
/// `struct sock_filter` bytes, the form `bwrap --seccomp FD` reads, so that the
/// startup benchmark can give bubblewrap the very filter bulkhead loads. Hidden:
/// a tool for benchmarks, not a user command.
enum SeccompExportEntry {
  static let name = "_seccomp-export"

  static func main(_ arguments: [String]) -> Int32 {
    guard arguments.count == 2 else {
      printError("bulkhead: _seccomp-export PROFILE FILE (PROFILE: default or a JSON file)")
      return ExitStatus.usage
    }
    do {
      let filter = try LaunchPlan.seccompFilter(
        profile: arguments[0],
        keptCapabilities: try Capabilities.resolve(base: Capabilities.dockerDefault, add: [], drop: []))
      let fd = open(arguments[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
      guard fd >= 0 else { throw BulkheadError.setupFailed(step: "open", value: arguments[1], errno: errno) }
      defer { close(fd) }
      let written = filter.withProgram { pointer, count in write(fd, pointer, count * 8) }
      guard written == filter.instructions.count * 8 else {
        throw BulkheadError.setupFailed(step: "write", value: arguments[1], errno: errno)
      }
      return 0
    } catch let error as BulkheadError {
      printError("bulkhead: \(error)")
      return ExitStatus.code(for: error)
    } catch {
      printError("bulkhead: \(error)")
      return ExitStatus.setupFailed
    }
  }
}
