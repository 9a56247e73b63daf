import BulkheadCore
import BulkheadSpec
import Foundation
import Testing

/// The short version of Scripts/soak: random runs across levels and faults, and
/// SIGKILLs of bulkhead itself, then a look for anything left behind.
@Suite("Leaks under faults (short soak)", .enabled(if: Harness.canRunWorkloads, Harness.workloadReason))
struct SoakTests {
  static let faults = [
    "segv", "abort", "trap", "stack-overflow", "exit 3", "block-hang", "heartbeat 5 2", "fork-bomb 6", "fd-exhaust 0",
    "try-syscall mount",
  ]

  /// Workloads ignore a trailing argument they do not use: it marks this test's
  /// processes, so that parallel tests' workloads are not taken for leftovers.
  let marker = "\(Int.random(in: 70_000_000...79_999_999))"

  func leftovers(cgroupsToo: Bool = true) -> [String] {
    let processes = Harness.processes(containing: marker).map { "process \($0)" }
    let cgroups =
      cgroupsToo ? (try? Harness.shell("find /sys/fs/cgroup -type d -name 'run-*' 2>/dev/null"))?.lines ?? [] : []
    return processes + cgroups
  }

  @Test func randomFaultsAcrossLevelsLeaveNothing() throws {
    var rng = SystemRandomNumberGenerator()
    let mountsBefore = Harness.mountCount()
    for _ in 0..<24 {
      let level = ["task", "thread", "process", "container"].randomElement(using: &rng)!
      var args = ["run", "--level", level, "--timeout", "300ms", "--grace", "50ms"]
      let count = level == "task" || level == "thread" ? Int.random(in: 1...3, using: &rng) : 1
      for _ in 0..<count { args += ["--workload", Self.faults.randomElement(using: &rng)! + " 0 0 \(marker)"] }
      if level != "task" && level != "thread" && Bool.random(using: &rng) { args += ["--pids", "32"] }
      _ = try Harness.run(args)
    }
    #expect(Harness.mountCount() == mountsBefore)
    let deadline = Date().addingTimeInterval(3)
    while !leftovers(cgroupsToo: false).isEmpty && Date() < deadline { usleep(50_000) }
    #expect(leftovers(cgroupsToo: false).isEmpty, "\(leftovers(cgroupsToo: false))")
  }

  @Test(arguments: ["container", "process", "thread"])
  func sigkillOfBulkheadAtRandomMomentsLeavesNothingBehind(level: String) throws {
    var killed: [String] = []
    // A marker of this case's own: the three levels run side by side.
    let marker = "\(self.marker)\(level.count)"
    func leftovers() -> [String] { Harness.processes(containing: marker).map { "process \($0)" } }
    for i in 0..<6 {
      let r = try Harness.shell(
        "\"$BULKHEAD\" run --level \(level) --workload 'fork-bomb 6 \(marker)' >/dev/null 2>&1 & "
          + "sleep \(Double(i) * 0.006); kill -KILL $!; echo $!; wait")
      killed += r.lines
    }
    // The next run that makes a cgroup sweeps those of supervisors that are gone,
    // ending what still runs in them (the forks of a process-level workload).
    let deadline = Date().addingTimeInterval(5)
    func ours() -> [String] {
      ((try? Harness.shell("find /sys/fs/cgroup -type d -name 'run-*' 2>/dev/null"))?.lines ?? []).filter { path in
        killed.contains { path.hasSuffix("/run-\($0)-1") }
      }
    }
    repeat {
      _ = try Harness.run(["run", "--pids", "8", "--", "true"])
      if leftovers().isEmpty && ours().isEmpty { break }
      usleep(100_000)
    } while Date() < deadline
    #expect(leftovers().isEmpty, "\(leftovers())")
    #expect(ours().isEmpty, "\(ours())")
  }

  @Test func aLongLivedSupervisorKeepsItsDescriptorCount() throws {
    func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? -1 }
    let spec = { (command: [String]) in
      Spec(
        level: .container, command: command, rootfs: Harness.rootfs,
        environment: [EnvironmentVariable(name: "PATH", value: "/bin")], timeoutMilliseconds: 2000)
    }
    // Warm up lazily opened descriptors (the seccomp cache, the event loop's first use).
    _ = try Supervisor().wait(for: try Launcher().start(spec(["true"])), options: .init(forwardSignals: false))
    let before = descriptors()
    for i in 0..<40 {
      let command = i % 3 == 0 ? ["sh", "-c", "exit 3"] : i % 3 == 1 ? ["true"] : ["no-such-command"]
      if let workload = try? Launcher().start(spec(command)) {
        _ = try Supervisor().wait(for: workload, options: .init(forwardSignals: false))
      }
    }
    // Other suites run in this process at the same time and open and close their
    // own descriptors, so the count moves by a few either way; a leak per launch
    // would add at least 40.
    let after = descriptors()
    #expect(after - before < 10, "40 launches: \(before) descriptors before, \(after) after")
  }
}
