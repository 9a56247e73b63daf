import Foundation
import Testing

/// Reads "Key:\tvalue" lines of /proc/self/status printed by the workload.
func statusFields(_ text: String) -> [String: String] {
  var out: [String: String] = [:]
  for line in text.split(separator: "\n") {
    guard let colon = line.firstIndex(of: ":") else { continue }
    out[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
  }
  return out
}

@Suite(
  "Capabilities, identity, rlimits, user namespaces", .enabled(if: Harness.canRunContainers, Harness.containerReason))
struct ConfinementTests {
  static let dockerDefaultMask = "00000000a80425fb"

  @Test func aContainerKeepsDockersFourteenCapabilitiesInEverySet() throws {
    let r = try Harness.run(["run", "--", "cat", "/proc/self/status"])
    let s = statusFields(r.stdout)
    #expect(s["CapBnd"] == Self.dockerDefaultMask)
    #expect(s["CapEff"] == Self.dockerDefaultMask)
    #expect(s["CapPrm"] == Self.dockerDefaultMask)
    #expect(s["CapInh"] == "0000000000000000")
    #expect(s["CapAmb"] == "0000000000000000")
    #expect(s["NoNewPrivs"] == "1")
  }

  @Test func capAddAndDropChangeTheSetAsRequested() throws {
    let r = try Harness.run([
      "run", "--cap-add", "sys_admin", "--cap-drop", "CAP_NET_RAW", "--", "cat", "/proc/self/status",
    ])
    let eff = UInt64(statusFields(r.stdout)["CapEff"] ?? "", radix: 16) ?? 0
    #expect(eff & (1 << 21) != 0, "CAP_SYS_ADMIN added")
    #expect(eff & (1 << 13) == 0, "CAP_NET_RAW dropped")
    #expect(eff & (1 << 0) != 0, "CAP_CHOWN kept")
    let none = try Harness.run(["run", "--cap-drop", "all", "--", "cat", "/proc/self/status"])
    #expect(statusFields(none.stdout)["CapBnd"] == "0000000000000000")
    #expect(statusFields(none.stdout)["CapEff"] == "0000000000000000")
  }

  @Test func theProcessLevelKeepsItsCapabilitiesUnlessAskedToDropThem() throws {
    let kept = try Harness.run(["run", "--level", "process", "--", "cat", "/proc/self/status"])
    #expect(statusFields(kept.stdout)["NoNewPrivs"] == "0")
    let dropped = try Harness.run(["run", "--level", "process", "--cap-drop", "all", "--", "cat", "/proc/self/status"])
    #expect(statusFields(dropped.stdout)["CapEff"] == "0000000000000000")
    #expect(statusFields(dropped.stdout)["NoNewPrivs"] == "1")
  }

  @Test func userSwitchesUidAndGidAndClearsCapabilities() throws {
    let r = try Harness.run([
      "run", "--user", "1000:1001", "--", "sh", "-c", "id -u; id -g; id -G; grep CapEff /proc/self/status",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(Array(r.lines.prefix(3)) == ["1000", "1001", "1001"])
    #expect(r.lines.last?.hasSuffix("0000000000000000") == true)
  }

  @Test func rlimitsAreVisibleInsideAndCoreIsZeroByDefault() throws {
    let r = try Harness.run(["run", "--rlimit", "nofile=64:128", "--", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c"])
    #expect(r.lines == ["64", "128", "0"], "\(r.stderr)")
    let p = try Harness.run(["run", "--level", "process", "--", "sh", "-c", "ulimit -c"])
    #expect(p.lines == ["0"])
  }

  @Test func raisingAHardLimitWithoutTheCapabilityIsRefusedClearly() throws {
    let hard = try Harness.shell("ulimit -Hn").lines.first ?? "unlimited"
    guard let value = Int(hard) else { return }  // unlimited here: nothing to raise
    let r = try Harness.run(["run", "--rlimit", "nofile=\(value + 1000)", "--", "true"])
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let eff = UInt64(statusFields(status)["CapEff"] ?? "0", radix: 16) ?? 0
    if eff & (1 << 24) != 0 {
      #expect(r.status == 0, "with CAP_SYS_RESOURCE the limit can be raised: \(r.stderr)")
    } else {
      #expect(r.status == 125)
      #expect(r.stderr.contains("CAP_SYS_RESOURCE"))
    }
  }

  @Test func usernsMapsRootInsideToAnUnprivilegedRange() throws {
    let r = try Harness.run(["run", "--userns", "--", "sh", "-c", "id -u; cat /proc/self/uid_map; echo $$"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.lines.first == "0")
    let map = r.lines.dropFirst().first?.split(separator: " ").map(String.init) ?? []
    #expect(map.count == 3 && map[0] == "0" && map[1] != "0", "\(map)")
    #expect(r.lines.last == "1")
  }

  @Test(arguments: [
    (["run", "--cap-add", "bogus", "--", "true"], Int32(2), "--cap-add"),
    (["run", "--cap-drop", "CAP_NOPE", "--", "true"], 2, "--cap-drop"),
    (["run", "--user", "root", "--", "true"], 2, "--user"),
    (["run", "--rlimit", "files=1", "--", "true"], 2, "--rlimit"),
    (["run", "--rlimit", "nofile=10:5", "--", "true"], 2, "--rlimit"),
    (["run", "--rlimit", "nofile=1", "--rlimit", "nofile=2", "--", "true"], 2, "--rlimit"),
    (["run", "--level", "process", "--userns", "--", "true"], 2, "--userns"),
    (["run", "--seccomp", "nonsense", "--", "true"], 2, "--seccomp"),
  ])
  func badConfinementFlagsAreUsageErrors(arguments: [String], status: Int32, field: String) throws {
    let r = try Harness.run(arguments)
    #expect(r.status == status, "\(arguments): \(r.stderr)")
    #expect(r.stderr.contains(field))
    #expect(r.stderr.split(separator: "\n").count == 1)
  }
}
