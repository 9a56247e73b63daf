import ArgumentParser
import BulkheadCore
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The root command. Subcommands live in this library so they can be tested
/// without a process; the executable only calls `BulkheadMain.main()`.
public struct BulkheadCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "bulkhead",
    abstract: "Run a workload under a chosen isolation level and measure what it buys and costs.",
    discussion: """
      Examples:
        bulkhead run -- /bin/sh -c 'echo "PID $$ on $(hostname)"'
        bulkhead run --level process -- /bin/true
        bulkhead run --level thread --workload segv --workload heartbeat
        bulkhead inspect --all-levels
        bulkhead crash --levels thread,container --faults segv,fork-bomb
        bulkhead bench spawn --levels thread,container
        bulkhead compare --html report.html
        bulkhead workloads
      """,
    version: "0.1.0",
    subcommands: [
      RunCommand.self, InspectCommand.self, CrashCommand.self, BenchCommand.self, CompareCommand.self,
      WorkloadsCommand.self,
    ])

  public init() {}
}

public enum BulkheadMain {
  /// The signalfd for the forwarded signals, created before any other thread starts
  /// so that every thread inherits the blocked mask.
  nonisolated(unsafe) static var signals: SignalFD?

  /// Parses `arguments`, runs the command, and returns the process exit status.
  public static func main(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Int32 {
    if arguments.first == HostEntry.name { return HostEntry.main(Array(arguments.dropFirst())) }
    // The descriptors the caller gave bulkhead, before it opens any of its own:
    // only these may be passed on with --pass-fd.
    FileDescriptor.recordInherited()
    // A child that dies before reading "go" must not take bulkhead with it through
    // SIGPIPE: the write fails with EPIPE and is reported. (The child resets every
    // disposition before execve.)
    signal(SIGPIPE, SIG_IGN)
    if arguments.first == SeccompExportEntry.name { return SeccompExportEntry.main(Array(arguments.dropFirst())) }
    // The OCI runtime command line (engines call it in place of runc).
    if OCICommandLine.matches(arguments) { return OCICommandLine.main(arguments) }
    // SIGWINCH too: a workload's terminal follows the host's size (it is ignored by default anyway).
    signals = try? SignalFD(signals: Supervisor.forwardedSignals + [SIGWINCH])
    do {
      if let fast = FastRunParser.parse(arguments) {
        return try RunCommand.run(flags: fast.flags, jsonStatus: fast.jsonStatus, command: fast.command)
      }
      var command = try BulkheadCommand.parseAsRoot(arguments)
      try command.run()
      return 0
    } catch let error as BulkheadError {
      printError("bulkhead: \(error)")
      return ExitStatus.code(for: error)
    } catch let code as ExitCode {
      return code.rawValue
    } catch {
      let exit = BulkheadCommand.exitCode(for: error)
      let message = BulkheadCommand.fullMessage(for: error)
      if exit == .success {
        print(message)
        return 0
      }
      // One line: ArgumentParser's first line, and where help is.
      var line = message.split(separator: "\n").first.map(String.init) ?? message
      if line.hasPrefix("Error: ") { line.removeFirst(7) }
      printError("bulkhead: \(line) (see 'bulkhead help')")
      return ExitStatus.usage
    }
  }
}

/// The forwarded signals are blocked for `run`'s signalfd. The labs (crash, bench,
/// compare) forward nothing, and Ctrl-C must end them: their workloads die with
/// bulkhead (PR_SET_PDEATHSIG), and the next bulkhead sweeps the cgroups left.
func unblockForwardedSignals() {
  var set = sigset_t()
  sigemptyset(&set)
  for signal in Supervisor.forwardedSignals { sigaddset(&set, signal) }
  pthread_sigmask(SIG_UNBLOCK, &set, nil)
}
