import BulkheadCLI
import BulkheadSpec
import Testing

@Suite("Flags become a Spec")
struct RunOptionsTests {
  let host: [(name: String, value: String)] = [
    ("PATH", "/usr/bin:/bin"), ("HOME", "/home/u"), ("TERM", "xterm"), ("SECRET", "s3"), ("LANG", "C"),
  ]

  func spec(_ flags: [String], command: [String] = ["/bin/true"]) throws -> Spec {
    let options = try RunOptions.parse(flags)
    return try options.makeSpec(command: command, hostEnvironment: host, defaultRootfs: { "/default/rootfs" })
  }

  func refusal(_ flags: [String]) -> BulkheadError? {
    do {
      _ = try spec(flags)
      return nil
    } catch let error as BulkheadError {
      return error
    } catch {
      return nil
    }
  }

  @Test func defaultsAreAContainerInTheDefaultRootfs() throws {
    let s = try spec([])
    #expect(s.level == .container)
    #expect(s.rootfs == "/default/rootfs")
    #expect(s.namespaces == NamespaceKind.containerDefault)
    #expect(s.readOnlyRoot)
    #expect(s.hostname == "bulkhead")
    #expect(s.graceMilliseconds == 1000)
    #expect(s.timeoutMilliseconds == nil)
  }

  @Test func environmentIsClearedExceptPathHomeTerm() throws {
    let s = try spec([])
    #expect(s.environment.map(\.name) == ["PATH", "HOME", "TERM"])
    #expect(s.environment[0].value == "/usr/bin:/bin")
  }

  @Test func envFlagsOverrideAndAppend() throws {
    let s = try spec(["--env", "HOME=/root", "--env", "A=1"])
    #expect(s.environment.map(\.assignment) == ["PATH=/usr/bin:/bin", "HOME=/root", "TERM=xterm", "A=1"])
  }

  @Test func keepEnvPassesEverything() throws {
    let s = try spec(["--keep-env"])
    #expect(s.environment.map(\.name) == ["PATH", "HOME", "TERM", "SECRET", "LANG"])
  }

  @Test func pathDefaultsWhenTheHostHasNone() throws {
    let options = try RunOptions.parse([])
    let s = try options.makeSpec(command: ["true"], hostEnvironment: [], defaultRootfs: { "/r" })
    #expect(s.environment.map(\.assignment) == ["PATH=\(Spec.defaultPath)"])
  }

  @Test func shareRemovesKinds() throws {
    let s = try spec(["--share", "net", "--share", "IPC"])
    #expect(s.namespaces == [.pid, .mnt, .uts, .cgroup])
  }

  @Test func mountsKeepTheirOrder() throws {
    let s = try spec(["--bind", "/etc:/e:ro", "--tmpfs", "/scratch", "--rw", "--hostname", "lab", "--cwd", "/tmp"])
    #expect(s.mounts == [.bind(source: "/etc", target: "/e", readOnly: true), .tmpfs(target: "/scratch")])
    #expect(!s.readOnlyRoot)
    #expect(s.hostname == "lab")
    #expect(s.workingDirectory == "/tmp")
  }

  @Test func durationsParse() throws {
    let s = try spec(["--grace", "250ms", "--timeout", "1.5s"])
    #expect(s.graceMilliseconds == 250)
    #expect(s.timeoutMilliseconds == 1500)
    #expect(try parseDurationMilliseconds("2m", field: "x") == 120_000)
    #expect(try parseDurationMilliseconds("3", field: "x") == 3000)
    #expect(throws: BulkheadError.self) { try parseDurationMilliseconds("soon", field: "x") }
    #expect(throws: BulkheadError.self) { try parseDurationMilliseconds("-1s", field: "x") }
  }

  @Test func processLevelHasNoNamespacesNorRootfs() throws {
    let s = try spec(["--level", "process"])
    #expect(s.level == .process)
    #expect(s.namespaces.isEmpty)
    #expect(s.rootfs == nil)
  }

  @Test(arguments: [
    (["--level", "bogus"], "--level"),
    (["--share", "bogus"], "--share"),
    (["--share", "mnt"], "--share"),
    (["--bind", "/etc:relative"], "--bind"),
    (["--bind", "nocolon"], "--bind"),
    (["--tmpfs", "relative"], "--tmpfs"),
    (["--level", "process", "--rw"], "--rw"),
    (["--level", "process", "--bind", "/a:/b"], "--bind"),
    (["--level", "process", "--share", "net"], "--share"),
    (["--level", "process", "--hostname", "x"], "--hostname"),
    (["--share", "uts", "--hostname", "x"], "--hostname"),
    (["--env", "novalue"], "--env"),
    (["--pass-fd", "1"], "--pass-fd"),
    (["--grace", "later"], "--grace"),
    (["--timeout", "0s"], "--timeout"),
    (["--cwd", "relative"], "--cwd"),
  ])
  func badFlagsAreUsageErrorsNamingTheFlag(flags: [String], field: String) {
    let error = refusal(flags)
    #expect(error?.code == .invalidSpec, "\(flags)")
    #expect(error?.step == field, "\(flags): \(String(describing: error))")
    #expect(ExitStatus.code(for: error ?? .invalidSpec(field: "", value: nil, reason: "")) == 2)
  }

  @Test func noCommandIsAUsageError() throws {
    let options = try RunOptions.parse([])
    #expect(throws: BulkheadError.self) {
      try options.makeSpec(command: [], hostEnvironment: host, defaultRootfs: { "/r" })
    }
  }

  @Test func aMissingDefaultRootfsIsASetupFailure() throws {
    let options = try RunOptions.parse([])
    #expect {
      try options.makeSpec(command: ["true"], hostEnvironment: host, defaultRootfs: { nil })
    } throws: { error in
      (error as? BulkheadError).map { ExitStatus.code(for: $0) } == 125
    }
  }

  @Test func exitStatusMapping() {
    #expect(ExitStatus.code(for: BulkheadError(code: .notFound, step: "execve", reason: "")) == 127)
    #expect(ExitStatus.code(for: BulkheadError(code: .notExecutable, step: "execve", reason: "")) == 126)
    #expect(ExitStatus.code(for: BulkheadError(code: .setupFailed, step: "mount", reason: "")) == 125)
    #expect(ExitStatus.code(for: BulkheadError(code: .unsupported, step: "clone", reason: "")) == 125)
  }

  @Test func rootfsHostIsTheHostViewAndADirectoryNamedHostIsDotSlashHost() throws {
    let view = try spec(["--rootfs", "host"])
    #expect(view.rootfs == nil)
    #expect(view.hostView == .standard(sharesNetwork: false))
    #expect(view.hostView?.files.contains("/etc/shadow") == false)
    #expect(try spec(["--rootfs", "host", "--share", "net"]).hostView?.files.contains(HostView.resolverFile) == true)
    #expect(try spec(["--rootfs", "./host"]).hostView == nil)
  }

  @Test func overlaySizeIsTheThrowawayLayersSize() throws {
    #expect(try spec(["--overlay", "--overlay-size", "64M"]).overlaySizeBytes == 64 << 20)
    #expect(try spec(["--overlay"]).overlaySizeBytes == nil)
    #expect(try spec(["--bind-overlay", "/tmp:/s", "--overlay-size", "1G"]).overlaySizeBytes == 1 << 30)
  }

  @Test func overlayFlagsBecomeARootOverlay() throws {
    #expect(try spec(["--overlay"]).overlay == RootOverlay())
    #expect(try spec(["--overlay-dir", "/tmp/o"]).overlay == RootOverlay(upperDirectory: "/tmp/o"))
    let relative = try spec(["--overlay-dir", "o"]).overlay?.upperDirectory
    #expect(relative?.hasPrefix("/") == true && relative?.hasSuffix("/o") == true)
    #expect(try spec(["--bind-overlay", "/src:/work"]).mounts == [.overlay(source: "/src", target: "/work")])
  }

  @Test func bindCwdBindsTheCurrentDirectoryAtItsPathAndStartsThere() throws {
    let options = try RunOptions.parse(["--bind-cwd-ro"])
    let s = try options.flags.makeSpec(
      command: ["ls"], hostEnvironment: host, defaultRootfs: { "/r" }, currentDirectory: { "/home/u/project" })
    #expect(s.mounts == [.bind(source: "/home/u/project", target: "/home/u/project", readOnly: true)])
    #expect(s.workingDirectory == "/home/u/project")
    let rw = try RunOptions.parse(["--bind-cwd", "--cwd", "/tmp"]).flags.makeSpec(
      command: ["ls"], hostEnvironment: host, defaultRootfs: { "/r" }, currentDirectory: { "/p" })
    #expect(rw.mounts == [.bind(source: "/p", target: "/p", readOnly: false)] && rw.workingDirectory == "/tmp")
    #expect(throws: BulkheadError.self) {
      try RunOptions.parse(["--bind-cwd"]).flags.makeSpec(
        command: ["ls"], hostEnvironment: host, defaultRootfs: { "/r" }, currentDirectory: { "/" })
    }
  }

  @Test(arguments: [
    (["--level", "process", "--overlay"], "--overlay"), (["--level", "process", "--bind-cwd"], "--bind-cwd"),
    (["--level", "process", "--bind-overlay", "/a:/b"], "--bind-overlay"),
    (["--bind-cwd", "--bind-cwd-ro"], "--bind-cwd-ro"), (["--bind-overlay", "a:/b"], "--bind-overlay"),
    (["--bind-overlay", "/a"], "--bind-overlay"),
  ])
  func badLayerFlagsAreUsageErrors(flags: [String], field: String) {
    let error = refusal(flags)
    #expect(error?.code == .invalidSpec, "\(flags)")
    #expect(error?.step == field, "\(flags): \(String(describing: error))")
  }
}
