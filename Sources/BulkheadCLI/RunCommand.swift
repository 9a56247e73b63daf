import ArgumentParser
import BulkheadCore
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `bulkhead run`: one workload at the process or container level.
public struct RunCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a command in a container (the default) or as a plain process.",
    discussion: """
      The workload gets a new session, an environment of PATH, HOME and TERM (plus --env), \
      and no descriptor but 0, 1, 2 (plus --pass-fd). It never outlives bulkhead. \
      bulkhead exits with the workload's code, 128+N when a signal N ended it, 125 when \
      setup failed, 126/127 when the command cannot be executed / is not found, 2 for usage errors.

      At a terminal (stdin and stdout), the workload gets a pty of its own (in a container, \
      from its own devpts; also /dev/console) as its controlling terminal, relayed in raw mode: \
      job control, Ctrl-C, Ctrl-Z and window size work inside, and the terminal is restored \
      at exit. -t forces a pty without a terminal, --no-tty refuses one.

      --rootfs host: a fresh tmpfs root with the host's /usr, /bin, /sbin, /lib* read-only, /etc/alternatives and /etc/ssl/certs, and copies of a few /etc files (ld.so.cache, passwd, group, nsswitch.conf, localtime, hosts, os-release); no /home, /root, /run, /var, no shadow. Missing mount points are created only in Bulkhead's own layers (the host view, an overlay, /tmp, a --tmpfs), resolved inside the root; targets under /proc and /dev are refused.

      Examples:
        bulkhead run -- /bin/sh -c 'echo $$; hostname; ip link'
        bulkhead run -- sh                                         # interactive, as docker run -it
        bulkhead run --share net --hostname lab -- sh -c 'hostname; ip link'
        bulkhead run --bind "$PWD":/tmp/work:ro --cwd /tmp/work -- ls -l
        bulkhead run --rootfs host -- python3 -c 'print(42)'      # the host's own programs
        bulkhead run --rootfs host --bind-cwd-ro -- git status     # with this directory, read-only
        bulkhead run --rootfs host --overlay -- sh -c 'touch /usr/x'   # writes vanish at exit
        bulkhead run --rootfs host --bind-overlay "$PWD":/src --cwd /src -- make
        bulkhead run --level process --timeout 2s -- sleep 10
        bulkhead run --json-status status.json -- /bin/true
        bulkhead run --level thread --workload segv --workload 'heartbeat 100'
        bulkhead run --level process --workload 'try-syscall mount'
      """)

  @OptionGroup public var options: RunOptions

  @Flag(
    name: [.customShort("t"), .long],
    help: "Give the workload a terminal (a pty of its own, relayed): the default when stdin is a terminal.")
  public var tty = false

  @Flag(name: .customLong("no-tty"), help: "Never give the workload a terminal: its stdio are bulkhead's own.")
  public var noTty = false

  @Option(help: ArgumentHelp("Write the run's JSON status to a file ('-': stderr).", valueName: "file"))
  public var jsonStatus: String?

  @Argument(
    parsing: .captureForPassthrough,
    help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
  public var command: [String] = []

  public init() {}

  /// The run flags with `-t`/`--no-tty`, which only `run` has.
  public var flags: RunFlags {
    var flags = options.flags
    flags.tty = tty ? true : noTty ? false : nil
    return flags
  }

  public mutating func validate() throws {
    if tty && noTty { throw ValidationError("--tty conflicts with --no-tty; give one of the two") }
    // Passthrough capture starts at the first argument it does not know: an option
    // before the command is a typo or a help request, never the command itself.
    if let first = command.first, first.hasPrefix("-"), first != "--" {
      if first == "-h" || first == "--help" { throw CleanExit.helpRequest(self) }
      throw ValidationError("unknown option '\(first)'; put the command after --")
    }
  }

  public func run() throws {
    let argv = command.first == "--" ? Array(command.dropFirst()) : command
    throw ExitCode(try Self.run(flags: flags, jsonStatus: jsonStatus, command: argv))
  }

  /// Flags to spec to outcome: shared by the full parser and `FastRunParser`.
  static func run(flags: RunFlags, jsonStatus: String?, command: [String]) throws(BulkheadError) -> Int32 {
    let spec = try flags.makeSpec(
      command: command, hostEnvironment: hostEnvironment(), defaultRootfs: defaultRootfsLocation,
      hostTerminal: interactive)
    // Only descriptors the caller gave bulkhead may be passed on, not bulkhead's own.
    for fd in spec.passFDs where !FileDescriptor.wasInherited(fd) {
      throw .invalidSpec(
        field: "--pass-fd", value: "\(fd)", reason: "descriptor \(fd) was not given to bulkhead",
        hint: "open it in the calling shell, e.g. bulkhead run --pass-fd \(fd) ... \(fd)<file")
    }
    return try execute(spec, jsonStatus: jsonStatus)
  }

  /// Runs `spec` to completion, reports on stderr (and as JSON), returns the exit status.
  static func execute(_ spec: Spec, jsonStatus: String?) throws(BulkheadError) -> Int32 {
    if let jsonStatus { try checkWritable(jsonStatus, field: "--json-status") }
    let startWall = wallClockNanoseconds()
    let startMono = monotonicNanoseconds()
    let workload: Workload
    do {
      // The probe runs built-ins at the process level (a container has its own in
      // the rootfs); the host executable runs the thread and task levels. A plain
      // command needs neither, so neither is looked for.
      let builtIn = !spec.workloads.isEmpty
      let launcher = Launcher(
        probePath: builtIn && spec.level == .process ? probeLocation() : nil,
        hostExecutable: builtIn && (spec.level == .thread || spec.level == .task) ? currentExecutablePath() : nil)
      workload = try launcher.start(spec, recordNamespaces: jsonStatus != nil)
    } catch {
      let status = ExitStatus.code(for: error)
      if let jsonStatus {
        try writeJSON(
          RunStatus(
            spec: spec, error: error, exitStatus: status, startedWall: startWall,
            endedWall: wallClockNanoseconds(), startedMono: startMono, endedMono: monotonicNanoseconds()),
          to: jsonStatus, field: "--json-status")
      }
      throw error
    }
    // The built-in profile names a few syscalls newer than this libseccomp on
    // purpose; only a user's profile deserves the note.
    if let confinement = workload.confinement, confinement.seccompProfile != "default",
      case let notes = confinement.seccompNotes, !notes.isEmpty
    {
      let names = notes.compactMap { $0.split(separator: "'").dropFirst().first.map(String.init) }
      printError(
        "bulkhead: seccomp: skipped \(notes.count) syscall name(s) this libseccomp does not know: "
          + (names.isEmpty ? notes.joined(separator: "; ") : names.joined(separator: ", ")))
    }
    let outcome = try Supervisor(signals: BulkheadMain.signals).wait(
      for: workload, options: Supervisor.Options(spec: spec))
    if !outcome.inProcess.isEmpty, outcome.killedBy == nil, case .signaled(let signal, _) = outcome.termination {
      let running = outcome.inProcess.filter { $0.started && $0.returned == nil }.map(\.name)
      printError(
        "bulkhead: the \(spec.level.rawValue)-level host process died with \(signalName(signal))"
          + (running.isEmpty
            ? "" : "; it took down \(running.count) running workload(s): \(running.joined(separator: ", "))"))
    }
    if let reason = outcome.killedBy {
      let escalation = outcome.escalatedToKill ? ", escalated to SIGKILL" : ""
      printError("bulkhead: killed(\(reason.rawValue))\(escalation): \(describe(outcome.termination))")
    }
    if let jsonStatus {
      // The workload ran: its status is what bulkhead exits with, even if the
      // report cannot be written (said on stderr).
      do {
        try writeJSON(
          RunStatus(
            workload: workload, outcome: outcome, endedWall: wallClockNanoseconds(),
            endedMono: monotonicNanoseconds()),
          to: jsonStatus, field: "--json-status")
      } catch {
        printError("bulkhead: \(error)")
      }
    }
    return outcome.exitStatus
  }

  /// Whether `run` was started from a terminal, in its foreground: stdin and stdout
  /// are terminals and bulkhead's process group owns stdin's. Then the workload gets
  /// a terminal of its own without -t (a background `bulkhead run ... &` or a pipe
  /// on either side keeps plain stdio: raw mode from the background would stop it,
  /// and a pty would turn binary output into text).
  static var interactive: Bool {
    isatty(0) == 1 && isatty(1) == 1 && tcgetpgrp(0) == getpgrp()
  }

  static func describe(_ termination: Termination) -> String {
    switch termination {
    case .exited(let code): "exited with \(code)"
    case .signaled(let signal, _): "ended by \(signalName(signal))"
    }
  }
}
