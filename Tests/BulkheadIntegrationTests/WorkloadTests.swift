import Foundation
import Testing

extension Harness {
  static var probeReady: Bool { FileManager.default.isExecutableFile(atPath: rootfs + "/bin/bulkhead-probe") }
  static var canRunWorkloads: Bool { canRunContainers && probeReady }
  static let workloadReason: Comment =
    "needs root, a built bulkhead, and the static bulkhead-probe in Rootfs (Scripts/test builds and installs it)"

  /// Runs a workload at a level and returns the result and its JSON status.
  static func workload(_ level: String, _ workloads: [String], extra: [String] = []) throws -> (Result, [String: Any]) {
    let dir = NSTemporaryDirectory() + "bulkhead-wl-\(uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try run(
      ["run", "--level", level, "--json-status", dir + "/s.json"] + extra + workloads.flatMap { ["--workload", $0] })
    let status = (try? json(String(contentsOfFile: dir + "/s.json", encoding: .utf8))) ?? [:]
    return (r, status)
  }
}

#if arch(x86_64)
  let trapSignal: Int32 = 4  // ud2: SIGILL
  let fpeStatus: Int32 = 128 + 8
#else
  let trapSignal: Int32 = 5  // brk: SIGTRAP
  let fpeStatus: Int32 = 0  // no integer division trap on aarch64
#endif

@Suite("Built-in workloads at every level", .enabled(if: Harness.canRunWorkloads, Harness.workloadReason))
struct WorkloadTests {
  static let levels = ["task", "thread", "process", "container"]

  @Test(
    arguments: levels,
    [
      ("segv", Int32(139)), ("abort", 134), ("trap", 128 + trapSignal), ("fpe", fpeStatus),
      ("stack-overflow", 139), ("exit 3", 3),
    ])
  func faultsEndTheWayTheKernelSays(level: String, fault: (String, Int32)) throws {
    var expected = fault.1
    if level == "container" && fault.0 == "abort" {
      // The workload is PID 1 of its namespace, which ignores a SIGABRT it sends
      // itself; glibc's abort() then falls back to a faulting instruction: SIGSEGV.
      expected = 139
    }
    let (r, status) = try Harness.workload(level, [fault.0])
    #expect(r.status == expected, "\(level) \(fault.0): \(r.stderr)")
    #expect(status["exitStatus"] as? Int == Int(expected))
    #expect(status["swiftBacktrace"] as? String == "enable=no")
    if level == "thread" || level == "task" {
      let workloads = try #require(status["workloads"] as? [[String: Any]])
      #expect(workloads.first?["started"] as? Bool == true)
      // A fault or exit() ends the whole host: the workload never returned.
      #expect(workloads.first?["returned"] == nil)
    }
  }

  @Test(arguments: ["thread", "task"])
  func aFaultingThreadOrTaskTakesItsSiblingsAndTheHostDown(level: String) throws {
    let (r, status) = try Harness.workload(level, ["heartbeat 20", "after=150 segv"])
    #expect(r.status == 139)
    #expect(r.stderr.contains("host process died with SIGSEGV"))
    let workloads = try #require(status["workloads"] as? [[String: Any]])
    #expect(workloads.count == 2)
    #expect(workloads.allSatisfy { $0["started"] as? Bool == true && $0["returned"] == nil }, "\(workloads)")
    #expect((status["outcome"] as? [String: Any])?["signalName"] as? String == "SIGSEGV")
  }

  @Test(arguments: ["thread", "task"])
  func aReturningWorkloadIsReportedAsReturned(level: String) throws {
    let (r, status) = try Harness.workload(level, ["heartbeat 10 3", "try-syscall getpid"])
    #expect(r.status == 0, "\(r.stderr)")
    let workloads = try #require(status["workloads"] as? [[String: Any]])
    #expect(workloads.map { $0["returned"] as? Int } == [0, 0])
  }

  @Test(arguments: levels)
  func trySyscallGetpidSucceedsEverywhere(level: String) throws {
    let (r, _) = try Harness.workload(level, ["try-syscall getpid"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("\"verdict\":\"allowed\""))
  }

  @Test(arguments: levels)
  func heartbeatBeatsTheGivenNumberOfTimes(level: String) throws {
    let (r, _) = try Harness.workload(level, ["heartbeat 10 3"])
    #expect(r.status == 0)
    #expect(r.lines.filter { $0.hasPrefix("alive ") } == ["alive 1", "alive 2", "alive 3"])
  }

  @Test(arguments: ["thread", "container"], ["busy-hang", "block-hang"])
  func hangsAreEndedByTheTimeout(level: String, hang: String) throws {
    let start = Date()
    let (r, status) = try Harness.workload(level, [hang], extra: ["--timeout", "300ms", "--grace", "200ms"])
    #expect([137, 143].contains(r.status), "\(r.stderr)")
    #expect((status["outcome"] as? [String: Any])?["reason"] as? String == "timeout")
    #expect(Date().timeIntervalSince(start) < 10)
  }

  @Test(arguments: ["process", "container"])
  func aCappedForkBombStopsAtItsCapAndLeavesNothing(level: String) throws {
    let cap = Int.random(in: 20...39)
    let (r, _) = try Harness.workload(level, ["fork-bomb \(cap)"], extra: ["--timeout", "1s", "--grace", "100ms"])
    #expect(r.stdout.contains("fork-bomb: \(cap) processes (the cap)"), "\(r.stdout)")
    #expect(r.stderr.contains("killed(timeout)"))
    #expect(Harness.waitUntilGone("fork-bomb \(cap)").isEmpty)
  }

  @Test func anOrphanEscapesAtTheProcessLevelButNotFromAContainer() throws {
    let seconds = Int.random(in: 700...799)
    let (process, _) = try Harness.workload("process", ["orphan \(seconds)"])
    #expect(process.status == 0)
    let escaped = Harness.processes(containing: "orphan \(seconds)")
    #expect(escaped.count == 1, "the daemonised grandchild outlives its parent and the supervisor")
    for pid in escaped { kill(pid, SIGKILL) }
    #expect(Harness.waitUntilGone("orphan \(seconds)").isEmpty)

    let (container, _) = try Harness.workload("container", ["orphan \(seconds)"])
    #expect(container.status == 0)
    #expect(Harness.waitUntilGone("orphan \(seconds)").isEmpty, "the pid namespace ends with its init")
  }

  @Test func oomStopsAtItsCeilingWhenNothingStopsItFirst() throws {
    let (r, _) = try Harness.workload("process", ["oom 48M"])
    #expect(r.status == 3)
    #expect(r.stdout.contains("reached the ceiling of 48 MiB"))
  }

  @Test(arguments: ["thread", "process"])
  func fdExhaustionStopsAtEMFILE(level: String) throws {
    let (r, _) = try Harness.workload(level, ["fd-exhaust 0"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("errno 24"), "\(r.stdout)")
  }

  @Test func echoCopiesStdinInAContainer() throws {
    let r = try Harness.shell("printf 'ping\\n' | \"$BULKHEAD\" run --workload echo")
    #expect(r.lines == ["ping"])
  }

  @Test func theStaticProbeInspectsABareRootfs() throws {
    // No library directory in the rootfs: only a static binary can run there.
    for lib in ["lib", "lib64", "usr/lib"] {
      #expect(!FileManager.default.fileExists(atPath: Harness.rootfs + "/" + lib), "\(lib) in Rootfs")
    }
    let r = try Harness.run(["run", "--workload", "inspect"])
    #expect(r.status == 0, "\(r.stderr)")
    let seen = try Harness.json(r.stdout)
    #expect(seen["pid"] as? Int == 1)
    #expect(seen["hostname"] as? String == "bulkhead")
    #expect(seen["rootReadOnly"] as? Bool == true)
    #expect(seen["level"] as? String == "container")
    #expect((seen["interfaces"] as? [String]) == ["lo UP"])
    #expect((seen["openDescriptors"] as? [Int]) == [0, 1, 2])
  }

  @Test func aDelayedWorkloadStartsLater() throws {
    let start = Date()
    let (r, _) = try Harness.workload("thread", ["after=300 exit 4"])
    #expect(r.status == 4)
    #expect(Date().timeIntervalSince(start) >= 0.3)
  }

  /// check name -> verdict, from the inspect workload at `level`.
  func checks(_ level: String) throws -> [String: String] {
    let (r, _) = try Harness.workload(level, ["inspect"])
    let seen = try Harness.json(r.stdout)
    let list = try #require(seen["checks"] as? [[String: Any]], "\(r.stdout.prefix(300))")
    return Dictionary(
      uniqueKeysWithValues: list.compactMap { c in
        (c["check"] as? String).map { ($0, c["verdict"] as? String ?? "") }
      })
  }

  @Test func activeChecksShowWhatTheDefaultContainerDenies() throws {
    let container = try checks("container")
    for denied in [
      "mount", "unshare-user", "unshare-net", "reboot", "keyctl", "bpf", "perf_event_open", "write-proc-sys",
    ] {
      #expect(container[denied] == "denied", "\(denied): \(container[denied] ?? "missing")")
    }
    // Nothing outside its own pid namespace is in view to signal, trace or join.
    for skipped in ["kill", "ptrace", "setns-host"] {
      #expect(container[skipped] == "skipped", "\(skipped): \(container[skipped] ?? "missing")")
    }
    #expect(container.count == 17)
  }

  @Test func activeChecksShowThatRootAtTheProcessLevelKeepsItsPowers() throws {
    guard getuid() == 0 else { return }
    let process = try checks("process")
    for allowed in ["mount", "write-proc-sys", "kill", "keyctl"] {
      #expect(process[allowed] == "allowed", "\(allowed): \(process[allowed] ?? "missing")")
    }
  }

  @Test func badWorkloadRequestsAreUsageErrors() throws {
    for arguments in [
      ["run", "--workload", "no-such-workload"], ["run", "--level", "thread", "--", "true"],
      ["run", "--level", "thread", "--workload", "after=x segv"],
      ["run", "--workload", "segv", "--", "true"],
      ["run", "--level", "process", "--workload", "segv", "--workload", "abort"],
    ] {
      let r = try Harness.run(arguments)
      #expect(r.status == 2, "\(arguments): \(r.stderr)")
      #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
  }
}
