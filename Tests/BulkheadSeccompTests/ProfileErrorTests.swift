import BulkheadSpec
import Testing

@testable import BulkheadSeccomp

@Suite("Profile errors")
struct ProfileErrorTests {
  static func parse(_ text: String) throws(BulkheadError) -> SeccompProfile {
    try SeccompProfiles.parse(Array(text.utf8), capabilities: [], architecture: "amd64", kernel: (6, 18))
  }

  /// A profile text and the reason its error must give, path first.
  struct Case: CustomTestStringConvertible, Sendable {
    var json: String
    var reason: String
    var testDescription: String { reason }
  }

  static let cases: [Case] = [
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ERRNO", "#,
      reason: "invalid JSON at line 1, column 37: unexpected end of input"),
    Case(
      json: "{\n  \"defaultAction\": SCMP_ACT_ERRNO\n}", reason: "invalid JSON at line 2, column 20: unexpected 'S'"),
    Case(json: #"{"defaultAction": "SCMP_ACT_ALLOW"} x"#, reason: "after the document"),
    Case(json: "[]", reason: "expected an object, found an array"),
    Case(json: "{}", reason: "defaultAction: missing"),
    Case(json: #"{"defaultAction": 1}"#, reason: "defaultAction: expected a string, found a number"),
    Case(json: #"{"defaultAction": "SCMP_ACT_FOO"}"#, reason: "defaultAction: unknown action 'SCMP_ACT_FOO'"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, "#
        + #"{"names": ["write"], "action": "SCMP_ACT_FOO"}]}"#,
      reason: "syscalls[1].action: unknown action 'SCMP_ACT_FOO'"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}]}"#,
      reason: "syscalls[0].names: expected an array, found a string"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read", 3], "action": "SCMP_ACT_ERRNO"}]}"#,
      reason: "syscalls[0].names[1]: expected a string, found a number"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#,
      reason: "syscalls[0].names: expected at least one system call name"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "names": ["write"], "#
        + #""action": "SCMP_ACT_ERRNO"}]}"#,
      reason: "syscalls[0].name: both 'name' and 'names' are given"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "#
        + #""args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
      reason: "syscalls[0].args[0].index: 7 is out of range (0...5)"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "#
        + #""args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}"#,
      reason: "syscalls[0].args[0].value: expected a non-negative integer, found -1"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "#
        + #""args": [{"index": 0, "value": 18446744073709551616, "op": "SCMP_CMP_EQ"}]}]}"#,
      reason: "syscalls[0].args[0].value: 18446744073709551616 is out of range"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "#
        + #""args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}"#,
      reason: "syscalls[0].args[0].op: unknown operator 'SCMP_CMP_ABOUT'"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "#
        + #""args": [{"index": 0, "value": 1}]}]}"#,
      reason: "syscalls[0].args[0].op: missing"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]}"#,
      reason: "architectures[1]: unknown architecture 'SCMP_ARCH_Z80'"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "#
        + #""includes": {"arches": ["amd65"]}}]}"#,
      reason: "syscalls[0].includes.arches[0]: unknown architecture 'amd65'"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "#
        + #""excludes": {"minKernel": "4.8.1"}}]}"#,
      reason: "syscalls[0].excludes.minKernel: invalid kernel version '4.8.1'"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "#
        + #""includes": {"caps": ["sys_admin"]}}]}"#,
      reason: "syscalls[0].includes.caps[0]: 'sys_admin' is not a capability name"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "#
        + #""errnoRet": 5}]}"#,
      reason: "syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return code"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000}"#,
      reason: "defaultErrnoRet: 5000 is above the largest errno, 4095"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#,
      reason: "syscalls[0].action: SCMP_ACT_NOTIFY is not supported"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}"#,
      reason: "flags[0]: flag SECCOMP_FILTER_FLAG_NEW_LISTENER is not supported"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}"#,
      reason: "flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_FAST'"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"nmes": ["read"], "action": "SCMP_ACT_ERRNO"}]}"#,
      reason: "syscalls[0].nmes: unknown field"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "defaultAction": "SCMP_ACT_LOG"}"#,
      reason: "defaultAction: duplicate field"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "#
        + #""archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}]}"#,
      reason: "archMap: both 'architectures' and 'archMap' are given"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}"#,
      reason: "listenerPath: seccomp notifications are not supported"),
    Case(
      json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["Read!"], "action": "SCMP_ACT_ERRNO"}]}"#,
      reason: "syscalls[0].names[0]: 'Read!' is not a system call name"),
    Case(json: #"{"ociVersion": "1.0.2", "linux": {}}"#, reason: "ociVersion: unknown field"),
  ]

  @Test(arguments: cases)
  func anInvalidProfileIsRefusedNamingTheField(_ test: Case) {
    do {
      let profile = try Self.parse(test.json)
      Issue.record("accepted: \(profile)")
    } catch {
      #expect(error.code == .invalidSpec)
      #expect(error.step == "--seccomp")
      #expect(error.reason.contains(test.reason), "reason: \(error.reason)")
      #expect(!error.description.contains("\n"), "one line: \(error.description)")
    }
  }

  @Test func aWholeConfigJSONGetsAHint() {
    #expect {
      try Self.parse(#"{"ociVersion": "1.0.2"}"#)
    } throws: { error in
      (error as? BulkheadError)?.hint?.contains("linux.seccomp") == true
    }
  }

  @Test func loadNamesTheFileAndCarriesErrno() {
    let missing = "/nonexistent/bulkhead/profile.json"
    do {
      _ = try SeccompProfiles.load(path: missing, capabilities: [], architecture: "amd64", kernel: (6, 18))
      Issue.record("loaded a missing file")
    } catch {
      #expect(error.code == .invalidSpec)
      #expect(error.value == missing)
      #expect(error.errno == 2)  // ENOENT
    }
  }

  @Test func anUnknownRunningArchitectureIsRefused() {
    #expect(throws: BulkheadError.self) {
      try SeccompProfiles.parse(
        Array(#"{"defaultAction": "SCMP_ACT_ALLOW"}"#.utf8), capabilities: [], architecture: "z80", kernel: (6, 18))
    }
  }

  @Test func nullMeansAbsentAsInGo() throws {
    let profile = try Self.parse(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": null, "architectures": null, "#
        + #""syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": null, "includes": null}]}"#)
    #expect(profile.defaultAction == .errno(1))
    #expect(profile.rules == [SeccompRule(names: ["read"], action: .allow)])
  }

  @Test func actionsAndReturnCodesAreRead() throws {
    let profile = try Self.parse(
      #"{"defaultAction": "SCMP_ACT_KILL", "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": ["#
        + #"{"name": "a", "action": "SCMP_ACT_ERRNO", "errnoRet": 38},"#
        + #"{"names": ["b"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},"#
        + #"{"names": ["c"], "action": "SCMP_ACT_TRACE"},"#
        + #"{"names": ["d"], "action": "SCMP_ACT_KILL_PROCESS"},"#
        + #"{"names": ["e"], "action": "SCMP_ACT_KILL_THREAD"},"#
        + #"{"names": ["f"], "action": "SCMP_ACT_TRAP"},"#
        + #"{"names": ["g"], "action": "SCMP_ACT_LOG", "comment": "why"},"#
        + #"{"names": ["h"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 5, "value": 18446744073709551615, "#
        + #""valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#)
    #expect(profile.defaultAction == .killThread)
    #expect(profile.flags == ["SECCOMP_FILTER_FLAG_LOG"])
    #expect(
      profile.rules.map(\.action) == [.errno(38), .trace(7), .trace(1), .killProcess, .killThread, .trap, .log, .allow])
    #expect(profile.rules[0].names == ["a"])
    #expect(profile.rules[7].arguments == [SeccompArgument(index: 5, value: .max, valueTwo: 3, op: .maskedEqual)])
  }

  @Test func kernelReleasesAreReadAsMobyReadsThem() {
    #expect(SeccompProfiles.kernelVersion(release: "6.18.44-fc-v595").map { [$0.0, $0.1] } == [6, 18])
    #expect(SeccompProfiles.kernelVersion(release: "3.12-1-amd64").map { [$0.0, $0.1] } == [3, 12])
    #expect(SeccompProfiles.kernelVersion(release: "5.4.0").map { [$0.0, $0.1] } == [5, 4])
    #expect(SeccompProfiles.kernelVersion(release: "6.1rc2").map { [$0.0, $0.1] } == [6, 1])
    #expect(SeccompProfiles.kernelVersion(release: "linux") == nil)
    #expect(SeccompProfiles.kernelVersion(release: "6") == nil)
    let running = try? SeccompProfiles.runningKernel()
    #expect((running?.0 ?? 0) >= 3)
  }
}
