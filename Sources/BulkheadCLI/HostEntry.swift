import BulkheadWorkloads

#if canImport(Glibc)
  import Glibc
#endif

/// The hidden entry of the thread- and task-level host process:
/// `bulkhead _host thread|task REPORT_FD WORKLOAD...`. The launcher starts it as a
/// process-level workload; it never parses user flags.
enum HostEntry {
  static let name = "_host"

  static func main(_ arguments: [String]) -> Int32 {
    guard arguments.count >= 3, let mode = InProcessHost.Mode(rawValue: arguments[0]),
      let reportFD = Int32(arguments[1])
    else {
      printError("bulkhead: _host is internal: _host thread|task REPORT_FD WORKLOAD...")
      return ExitStatus.usage
    }
    var invocations: [WorkloadInvocation] = []
    for text in arguments.dropFirst(2) {
      guard let invocation = WorkloadInvocation(parsing: text) else {
        printError("bulkhead: _host: unknown workload '\(text)'")
        return ExitStatus.usage
      }
      invocations.append(invocation)
    }
    return InProcessHost.run(mode: mode, invocations: invocations, reportFD: reportFD)
  }
}
