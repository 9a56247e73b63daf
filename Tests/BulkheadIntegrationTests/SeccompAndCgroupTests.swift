import Foundation
import Testing

extension Harness {
  static var fixtures: String { packageRoot + "/../shared/fixtures/seccomp" }
  static var fixturesReady: Bool { FileManager.default.fileExists(atPath: fixtures + "/docker-default.json") }

  /// The verdict of `try-syscall NAME` run as a workload with `flags`.
  static func verdict(_ name: String, _ flags: [String] = [], level: String = "container") throws -> (String, Int?) {
    let r = try run(["run", "--level", level] + flags + ["--workload", "try-syscall \(name)"])
    let object = (try? json(r.lines.last ?? "")) ?? [:]
    return (object["verdict"] as? String ?? "status \(r.status): \(r.stderr)", object["errno"] as? Int)
  }
}

@Suite("seccomp, driven from inside with try-syscall", .enabled(if: Harness.canRunWorkloads, Harness.workloadReason))
struct SeccompTests {
  @Test(arguments: [
    "mount", "unshare", "reboot", "keyctl", "bpf", "ptrace", "kexec_load", "init_module", "perf_event_open",
  ])
  func theDefaultProfileDeniesWithEPERM(name: String) throws {
    let (verdict, errno) = try Harness.verdict(name)
    #expect(verdict == "denied" && errno == 1, "\(name): \(verdict)")
  }

  @Test func clone3FailsWithENOSYSSoThatGlibcFallsBack() throws {
    let (verdict, errno) = try Harness.verdict("clone3")
    #expect(verdict == "unavailable" && errno == 38)
    // And glibc's fallback works: a shell forks under the default profile.
    let r = try Harness.run(["run", "--", "sh", "-c", "(exit 7); echo $?"])
    #expect(r.lines == ["7"])
  }

  @Test func theFilterIsVisibleInProcStatus() throws {
    let r = try Harness.run(["run", "--", "cat", "/proc/self/status"])
    let s = statusFields(r.stdout)
    #expect(s["Seccomp"] == "2")
    #expect(s["Seccomp_filters"] == "1")
    let unconfined = try Harness.run(["run", "--seccomp", "unconfined", "--", "cat", "/proc/self/status"])
    #expect(statusFields(unconfined.stdout)["Seccomp"] == "0")
  }

  @Test func ptraceIsAllowedWithoutTheFilterAtTheProcessLevel() throws {
    #expect(try Harness.verdict("getpid", level: "process").0 == "allowed")
    #expect(try Harness.verdict("ptrace", level: "process").0 == "allowed")
    #expect(try Harness.verdict("ptrace", ["--seccomp", "default"], level: "process").0 == "denied")
  }

  @Test func terminalInjectionIoctlsAreDenied() throws {
    // TIOCSTI is 0x5412: ioctl(0, TIOCSTI, "x") through the raw form of try-syscall.
    #if arch(x86_64)
      let ioctl = "16"
    #else
      let ioctl = "29"
    #endif
    let denied = try Harness.run(["run", "--workload", "try-syscall \(ioctl) 0 21522 0"])
    #expect(denied.stdout.contains("\"errno\":1"), "\(denied.stdout)")
    // TCGETS (0x5401) on a non-terminal is ENOTTY: the filter let it through.
    let allowed = try Harness.run(["run", "--workload", "try-syscall \(ioctl) 0 21505 0"])
    #expect(allowed.stdout.contains("\"errno\":25"), "\(allowed.stdout)")
  }

  @Test(
    .enabled(if: Harness.fixturesReady, "needs ../shared/fixtures/seccomp"),
    arguments: ["docker-default.json", "docker-default.oci.json"])
  func dockersProfileInBothFormsBehavesAsDockerDocuments(file: String) throws {
    let flags = ["--seccomp", Harness.fixtures + "/" + file]
    #expect(try Harness.verdict("mount", flags) == ("denied", 1))
    #expect(try Harness.verdict("clone3", flags) == ("unavailable", 38))
    #expect(try Harness.verdict("keyctl", flags) == ("denied", 1))
    #expect(try Harness.verdict("getpid", flags).0 == "allowed")
    // Docker allows ptrace on kernels from 4.8: the capability check then says no.
    let r = try Harness.run(["run"] + flags + ["--", "sh", "-c", "echo ok"])
    #expect(r.lines == ["ok"], "\(r.stderr)")
  }

  @Test(.enabled(if: Harness.fixturesReady, "needs ../shared/fixtures/seccomp"))
  func dockersProfileFollowsTheCapabilitiesItIsResolvedFor() throws {
    let flags = ["--seccomp", Harness.fixtures + "/docker-default.json", "--cap-add", "sys_admin"]
    #expect(try Harness.verdict("mount", flags).0 == "allowed")
  }

  @Test func aKillActionIsReportedAsKilledSeccomp() throws {
    let dir = NSTemporaryDirectory() + "bulkhead-seccomp-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#
      .write(toFile: dir + "/kill.json", atomically: true, encoding: .utf8)
    #if arch(x86_64)
      let getppid = "110"
    #else
      let getppid = "173"
    #endif
    let r = try Harness.run([
      "run", "--seccomp", dir + "/kill.json", "--json-status", "-", "--workload", "try-syscall \(getppid)",
    ])
    #expect(r.status == 128 + 31)
    #expect(r.stderr.contains("killed(seccomp)"))
  }

  @Test(arguments: [
    (#"{"defaultAction": 3}"#, "defaultAction"),
    (#"{"defaultAction":"SCMP_ACT_FOO"}"#, "defaultAction"),
    (
      #"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"mount","action":"SCMP_ACT_ALLOW"}]}"#,
      "syscalls[0].names"
    ),
    (
      #"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mount"],"action":"SCMP_ACT_NOPE"}]}"#,
      "syscalls[0].action"
    ),
    (#"{"defaultAction":"#, "JSON"),
  ])
  func badProfilesAreRefusedNamingTheField(text: String, field: String) throws {
    let path = NSTemporaryDirectory() + "bulkhead-bad-\(Harness.uniqueMarker()).json"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let r = try Harness.run(["run", "--seccomp", path, "--", "true"])
    #expect(r.status == 2, "\(r.stderr)")
    #expect(r.stderr.contains(field), "\(r.stderr)")
    #expect(r.stderr.split(separator: "\n").count == 1)
  }
}

@Suite(
  "cgroup limits (v1 here, for real)",
  .enabled(
    if: Harness.canRunWorkloads && Harness.cgroupV1, "needs root, the probe, and cgroup v1 memory/pids/cpu hierarchies")
)
struct CgroupLimitTests {
  @Test func aMemoryHogIsOOMKilledAndReportedWhileASiblingLives() throws {
    // The sibling: a container of its own, beating while the hog dies.
    final class Box: @unchecked Sendable { var result: Harness.Result? }
    let sibling = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      sibling.result = try? Harness.run(["run", "--workload", "heartbeat 50 12"])
      group.leave()
    }
    let (hog, status) = try Harness.workload("container", ["oom 1G"], extra: ["--memory", "64M", "--timeout", "20s"])
    group.wait()
    #expect(hog.status == 137)
    #expect(hog.stderr.contains("killed(oom)"))
    #expect((status["outcome"] as? [String: Any])?["reason"] as? String == "oom")
    #expect((status["cgroup"] as? [String: Any])?["oomKills"] as? Int == 1)
    #expect(sibling.result?.status == 0)
    #expect(sibling.result?.lines.filter { $0.hasPrefix("alive") }.count == 12)
  }

  @Test(arguments: ["process", "container"])
  func aForkBombStopsAtThePidsLimit(level: String) throws {
    let (r, status) = try Harness.workload(
      level, ["fork-bomb"], extra: ["--pids", "16", "--timeout", "1s", "--grace", "100ms"])
    #expect(r.stdout.contains("15 processes, then fork failed"), "\(r.stdout)")
    let cgroup = status["cgroup"] as? [String: Any]
    #expect(cgroup?["pidsPeak"] as? Int == 16)
    #expect((cgroup?["pidsLimitHits"] as? Int ?? 0) > 0)
  }

  @Test func theCgroupDirectoriesAreGoneAfterwards() throws {
    let (r, status) = try Harness.workload(
      "process", ["orphan 30"], extra: ["--memory", "32M", "--pids", "8", "--cpus", "0.5"])
    #expect(r.status == 0)
    // The orphan escaped the process, not the cgroup: removing the cgroup killed it.
    #expect(Harness.waitUntilGone("orphan 30").isEmpty)
    let directories = try #require((status["cgroup"] as? [String: Any])?["directories"] as? [String])
    #expect(directories.count == 4, "memory, pids, cpu and cpuacct: \(directories)")
    for dir in directories {
      #expect(!FileManager.default.fileExists(atPath: dir), "\(dir) left behind")
    }
  }

  @Test func cpuTimeIsEnforcedAndReported() throws {
    let (r, status) = try Harness.workload(
      "container", ["busy-hang"], extra: ["--cpu-time", "300ms", "--grace", "100ms", "--cpus", "1"])
    #expect([137, 143].contains(r.status))
    #expect((status["outcome"] as? [String: Any])?["reason"] as? String == "cpu-time")
  }

  @Test(.enabled(if: Harness.nobodyCanRun, "needs user nobody to reach bulkhead and the Rootfs"))
  func limitsThatCannotBeAppliedAreRefused() throws {
    let r = try Harness.shell(
      "setpriv --reuid 65534 --regid 65534 --clear-groups \"$BULKHEAD\" run --rootfs \"$BULKHEAD_ROOTFS\" --memory 64M -- true"
    )
    #expect(r.status == 125, "\(r.stderr)")
    #expect(r.stderr.contains("cgroup"))
    #expect(r.stderr.contains("delegated") || r.stderr.contains("root"))
  }
}

extension Harness {
  static var cgroupV1: Bool {
    ["memory", "pids", "cpu"].allSatisfy { FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\($0)/cgroup.procs") }
  }

}

@Suite("The filter bulkhead loads is the one it exports", .enabled(if: Harness.binaryReady, "needs a built bulkhead"))
struct SeccompExportTests {
  @Test func theExportedDefaultIsTheLoadedFilterSize() throws {
    let path = NSTemporaryDirectory() + "bulkhead-export-\(Harness.uniqueMarker()).bpf"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let r = try Harness.run(["_seccomp-export", "default", path])
    #expect(r.status == 0, "\(r.stderr)")
    let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    #expect(size > 0 && size % 8 == 0)
    // The status reports the instruction count of the filter a run loads.
    let run = try Harness.run(["run", "--level", "process", "--seccomp", "default", "--json-status", "-", "--", "true"])
    let json = run.stderr.split(separator: "\n").drop { !$0.hasPrefix("{") }.joined(separator: "\n")
    let confinement = try Harness.json(json)["confinement"] as? [String: Any]
    #expect(confinement?["seccompInstructions"] as? Int == size / 8)
    #expect(try Harness.run(["_seccomp-export", "default"]).status == 2)
  }
}
