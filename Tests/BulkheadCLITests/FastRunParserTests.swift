import ArgumentParser
import Testing

@testable import BulkheadCLI

@Suite("The fast run parser agrees with ArgumentParser")
struct FastRunParserTests {
  /// What the full parser makes of `arguments` (without the leading "run").
  func full(_ arguments: [String]) -> FastRunParser.Parsed? {
    guard let command = try? RunCommand.parse(Array(arguments.dropFirst())) else { return nil }
    let argv = command.command.first == "--" ? Array(command.command.dropFirst()) : command.command
    return FastRunParser.Parsed(flags: command.flags, jsonStatus: command.jsonStatus, command: argv)
  }

  static let shapes: [[String]] = [
    ["run", "--", "/bin/true"],
    ["run", "true"],
    ["run", "echo", "-n", "--level", "x"],
    ["run", "--level", "process", "--", "sh", "-c", "exit 3"],
    ["run", "--level=process", "--timeout=2s", "--", "sleep", "1"],
    ["run", "--share", "net", "--share", "ipc", "--hostname", "lab", "--", "hostname"],
    ["run", "--rootfs", "/srv/r", "--rw", "--bind", "/a:/b:ro", "--tmpfs", "/t", "--cwd", "/t", "--", "ls"],
    ["run", "--env", "A=1", "--env", "B=2", "--keep-env", "--pass-fd", "5", "--grace", "250ms", "--", "env"],
    ["run", "--json-status", "-", "--", "true"],
    ["run", "--seccomp", "default", "--cap-add", "net_admin", "--cap-drop", "all", "--user", "1000:1000", "--", "id"],
    ["run", "--rlimit", "nofile=64", "--rlimit=core=0", "--userns", "--workload", "inspect"],
    ["run", "--memory", "64M", "--memory-swap", "64M", "--pids", "20", "--cpus", "0.5", "--cpu-time", "2s", "--", "x"],
    ["run", "--json-status", "/tmp/s.json", "--", "true", "--", "x"],
    ["run", "--rootfs", "host", "--overlay", "--bind-cwd", "--bind-overlay", "/s:/d", "--", "python3"],
    ["run", "--rootfs=host", "--overlay-dir", "/tmp/o", "--bind-cwd-ro", "--", "cc", "--version"],
    ["run", "--tty", "--", "sh"],
    ["run", "--no-tty", "--level", "process", "--", "sh"],
    ["run", "--rootfs", "host", "--overlay", "--overlay-size", "64M", "--bind-overlay", "/s:/d", "--", "make"],
    ["run"],
  ]

  @Test(arguments: shapes)
  func acceptedShapesParseTheSameBothWays(arguments: [String]) throws {
    let fast = try #require(FastRunParser.parse(arguments))
    #expect(fast == full(arguments))
  }

  @Test(arguments: [
    ["run", "--help"], ["run", "-h"], ["run", "--levl", "x", "--", "true"], ["run", "--level"],
    ["run", "--level", "--rw", "--", "true"], ["run", "--pass-fd", "x", "--", "true"],
    ["run", "--rw=yes", "--", "true"], ["run", "--overlay=1", "--", "true"], ["run", "--bind-cwd=ro", "--", "x"],
    ["run", "-e", "x"], ["inspect"], [], ["run", "-t", "--", "sh"],
    ["run", "--tty", "--no-tty", "--", "sh"], ["run", "--tty=1", "--", "sh"],
  ])
  func anythingElseGoesToTheFullParser(arguments: [String]) {
    #expect(FastRunParser.parse(arguments) == nil)
  }
}
