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

  @Test func capAddAllMeansAllThatBulkheadHolds() throws {
    let own = statusFields(try String(contentsOfFile: "/proc/self/status", encoding: .utf8))["CapBnd"] ?? ""
    let r = try Harness.run(["run", "--cap-add", "all", "--", "cat", "/proc/self/status"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(statusFields(r.stdout)["CapBnd"] == own)
    // A capability bulkhead lacks cannot be given: refused by name, not a capset EPERM.
    let bounding = UInt64(own, radix: 16) ?? 0
    if let missing = (0..<41).first(where: { bounding & (UInt64(1) << UInt64($0)) == 0 }) {
      let refused = try Harness.run(["run", "--cap-add", "\(capabilityName(missing))", "--", "true"])
      #expect(refused.status == 125)
      #expect(refused.stderr.contains("does not hold"), "\(refused.stderr)")
    }
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

/// The kernel's name for capability `n` (capabilities(7)), without libcap.
func capabilityName(_ n: Int) -> String {
  let names = [
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
    "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
    "checkpoint_restore",
  ]
  return n < names.count ? names[n] : "\(n)"
}
