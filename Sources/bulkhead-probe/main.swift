// bulkhead-probe: the built-in workloads as one static executable, installed into
// Rootfs/bin so that the container level runs exactly the code the other levels run.
//
//     bulkhead-probe NAME [ARGS...]     run one workload, exit with its code
//     bulkhead-probe --list             the catalogue
import BulkheadWorkloads

#if canImport(Glibc)
  import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
let out = WorkloadContext(level: "process")
if arguments.isEmpty || arguments[0] == "--help" || arguments[0] == "-h" || arguments[0] == "--list" {
  out.emit("usage: bulkhead-probe NAME [ARGS...]")
  for name in WorkloadName.allCases {
    out.emit("  \(name.rawValue.padding(16)) \(name.summary)")
  }
  exit(arguments.isEmpty ? 2 : 0)
}
guard let invocation = WorkloadInvocation(parsing: arguments.joined(separator: " ")) else {
  let err = WorkloadContext(level: "process", outputFD: 2)
  err.emit("bulkhead-probe: unknown workload '\(arguments[0])'; see bulkhead-probe --list")
  exit(2)
}
// The level is what the supervisor says it is; the probe cannot tell a container
// from a process by itself (inspect reports what it sees instead).
let level = getenv("BULKHEAD_LEVEL").map { String(cString: $0) } ?? "process"
exit(Workloads.run(invocation, context: WorkloadContext(level: level)))

extension String {
  func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
