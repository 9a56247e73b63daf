import BulkheadSpec
import Testing

@Suite("Spec validation")
struct SpecValidationTests {
  func container(_ command: [String] = ["/bin/true"], mounts: [MountSpec] = []) -> Spec {
    Spec(level: .container, command: command, rootfs: "/srv/rootfs", mounts: mounts)
  }

  @Test func aDefaultContainerSpecIsValid() throws {
    let spec = container()
    try spec.validate()
    #expect(spec.namespaces == [.pid, .mnt, .uts, .ipc, .net, .cgroup])
    #expect(spec.readOnlyRoot)
    #expect(spec.hostname == "bulkhead")
  }

  @Test func aProcessSpecHasNoNamespaces() throws {
    let spec = Spec(level: .process, command: ["true"])
    try spec.validate()
    #expect(spec.namespaces.isEmpty)
  }

  @Test func anEmptyCommandIsRefused() {
    #expect(throws: BulkheadError.self) { try container([]).validate() }
    #expect(throws: BulkheadError.self) { try container([""]).validate() }
  }

  @Test func relativeAndDotTargetsAreRefused() {
    for target in ["data", "/a/../b", "/", "//"] {
      let spec = container(mounts: [.tmpfs(target: target)])
      #expect(throws: BulkheadError.self, "target \(target)") { try spec.validate() }
    }
  }

  @Test func twoMountsOnOneTargetAreRefused() {
    let spec = container(mounts: [.tmpfs(target: "/data"), .bind(source: "/etc", target: "/data/", readOnly: true)])
    #expect(throws: BulkheadError.self) { try spec.validate() }
  }

  @Test func relativeBindSourceIsRefused() {
    let spec = container(mounts: [.bind(source: "etc", target: "/data", readOnly: false)])
    #expect(throws: BulkheadError.self) { try spec.validate() }
  }

  @Test func containerWithoutRootfsOrMountNamespaceIsRefused() {
    var spec = container()
    spec.rootfs = nil
    #expect(throws: BulkheadError.self) { try spec.validate() }
    spec = container()
    spec.rootfs = "relative/rootfs"
    #expect(throws: BulkheadError.self) { try spec.validate() }
    spec = container()
    spec.namespaces.remove(.mnt)
    #expect(throws: BulkheadError.self) { try spec.validate() }
  }

  @Test func processLevelRefusesContainerOnlyFields() {
    var spec = Spec(level: .process, command: ["true"])
    spec.rootfs = "/srv"
    #expect(throws: BulkheadError.self) { try spec.validate() }
    spec = Spec(level: .process, command: ["true"], mounts: [.tmpfs(target: "/x")])
    #expect(throws: BulkheadError.self) { try spec.validate() }
    spec = Spec(level: .process, command: ["true"], namespaces: [.net])
    #expect(throws: BulkheadError.self) { try spec.validate() }
  }

  @Test func inProcessLevelsDoNotRunCommands() {
    for level in [IsolationLevel.task, .thread] {
      #expect(throws: BulkheadError.self) { try Spec(level: level, command: ["true"]).validate() }
    }
  }

  @Test func passedDescriptorsStartAtThreeAndAreUnique() {
    #expect(throws: BulkheadError.self) { try Spec(level: .process, command: ["true"], passFDs: [2]).validate() }
    #expect(throws: BulkheadError.self) { try Spec(level: .process, command: ["true"], passFDs: [4, 4]).validate() }
    #expect(throws: Never.self) { try Spec(level: .process, command: ["true"], passFDs: [3, 7]).validate() }
  }

  @Test func hostnameLengthIsChecked() {
    var spec = container()
    spec.hostname = String(repeating: "h", count: 65)
    #expect(throws: BulkheadError.self) { try spec.validate() }
    spec.hostname = String(repeating: "h", count: 64)
    #expect(throws: Never.self) { try spec.validate() }
  }

  @Test func environmentNamesAreChecked() {
    var spec = container()
    spec.environment = [EnvironmentVariable(name: "A=B", value: "c")]
    #expect(throws: BulkheadError.self) { try spec.validate() }
  }

  @Test func negativeGraceAndZeroTimeoutAreRefused() {
    var spec = container()
    spec.graceMilliseconds = -1
    #expect(throws: BulkheadError.self) { try spec.validate() }
    spec = container()
    spec.timeoutMilliseconds = 0
    #expect(throws: BulkheadError.self) { try spec.validate() }
  }

  @Test func specRoundTripsThroughJSONCoding() throws {
    // Codable conformance is the spec file format; equality after a round trip.
    let spec = container(mounts: [.bind(source: "/etc", target: "/e", readOnly: true), .tmpfs(target: "/t")])
    let encoded = try JSONRoundTrip.encode(spec)
    #expect(try JSONRoundTrip.decode(Spec.self, encoded) == spec)
  }
}

@Suite("Parsing pieces of flags")
struct FlagPieceTests {
  @Test(arguments: [
    ("/a:/b", MountSpec.bind(source: "/a", target: "/b", readOnly: false)),
    ("/a:/b:ro", .bind(source: "/a", target: "/b", readOnly: true)),
    ("/a:/b:rw", .bind(source: "/a", target: "/b", readOnly: false)),
  ])
  func bindParses(text: String, expected: MountSpec) throws {
    #expect(try MountSpec.parseBind(text) == expected)
  }

  @Test(arguments: ["/a", "/a:/b:rx", ":/b", "/a:", "/a:/b:ro:x"])
  func badBindIsRefusedNamingTheFlag(text: String) {
    #expect {
      try MountSpec.parseBind(text)
    } throws: { error in
      (error as? BulkheadError)?.step == "--bind" && (error as? BulkheadError)?.code == .invalidSpec
    }
  }

  @Test func environmentAssignmentParses() throws {
    let variable = try EnvironmentVariable(parsing: "A=b=c")
    #expect(variable.name == "A" && variable.value == "b=c")
    #expect(throws: BulkheadError.self) { try EnvironmentVariable(parsing: "=x") }
    #expect(throws: BulkheadError.self) { try EnvironmentVariable(parsing: "novalue") }
  }

  @Test func namespaceKindsParseAsUsersWriteThem() {
    #expect(NamespaceKind(userText: "NET") == .net)
    #expect(NamespaceKind(userText: "network") == .net)
    #expect(NamespaceKind(userText: "mount") == .mnt)
    #expect(NamespaceKind(userText: "bogus") == nil)
  }

  @Test func quotedInputCannotBreakTheLine() {
    let error = BulkheadError.invalidSpec(field: "--seccomp", value: "cl\none\u{1}", reason: "not a syscall")
    #expect(error.description == "--seccomp: not a syscall (cl\\none\\x01)")
  }

  @Test func errorDescriptionIsOneLineNamingStepErrnoAndHint() {
    let error = BulkheadError.setupFailed(step: "pivot_root", value: "/srv", errno: 22, hint: "check the rootfs")
    #expect(error.description == "pivot_root: Invalid argument (errno 22, /srv); check the rootfs")
    #expect(!error.description.contains("\n"))
  }
}

@Suite("Confinement values")
struct ConfinementValueTests {
  @Test func rlimitsParse() throws {
    #expect(try ResourceLimit(parsing: "nofile=1024") == ResourceLimit(name: "nofile", soft: 1024, hard: 1024))
    #expect(try ResourceLimit(parsing: "as=1G:2G") == ResourceLimit(name: "as", soft: 1 << 30, hard: 2 << 30))
    #expect(try ResourceLimit(parsing: "CPU=5:unlimited") == ResourceLimit(name: "cpu", soft: 5, hard: nil))
    #expect(try ResourceLimit(parsing: "core=unlimited") == ResourceLimit(name: "core", soft: nil, hard: nil))
    for bad in ["nofile", "files=1", "nofile=x", "nofile=2:1", "nofile=unlimited:5", "nofile=1:2:3"] {
      #expect(throws: BulkheadError.self, "\(bad)") { try ResourceLimit(parsing: bad) }
    }
  }

  @Test func usersParse() throws {
    #expect(try UserIdentity(parsing: "1000") == UserIdentity(uid: 1000, gid: 1000))
    #expect(try UserIdentity(parsing: "1000:50") == UserIdentity(uid: 1000, gid: 50))
    for bad in ["root", "1000:", ":5", "1:2:3", "-1"] {
      #expect(throws: BulkheadError.self, "\(bad)") { try UserIdentity(parsing: bad) }
    }
  }
}
