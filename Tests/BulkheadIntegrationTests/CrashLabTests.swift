import Foundation
import Testing

/// The blast-radius matrix against kernel semantics: one real `bulkhead crash`
/// run over the faults that tell the story, at all four levels, then each cell's
/// verdict checked. The run is shared by the tests (it takes ~20 s).
@Suite(
  "bulkhead crash: each cell's verdict is the kernel's",
  .enabled(if: Harness.canRunWorkloads, Harness.workloadReason), .serialized)
struct CrashLabTests {
  static let svgPath = NSTemporaryDirectory() + "bulkhead-crash-\(getpid()).svg"

  nonisolated(unsafe) static let report: Result<[String: Any], Error> = Result {
    // In a mount namespace of its own (a private copy of this one): the lab counts
    // the mounts its cells leave, and the engines' suites (podman, containerd) mount
    // and unmount their storage in this namespace meanwhile.
    let r = try Harness.runExecutable(
      "/usr/bin/unshare",
      [
        "--mount", "--propagation", "private", Harness.bulkhead, "crash", "--json", "--svg", svgPath, "--levels",
        "task,thread,process,container", "--faults", "segv,abort,trap,oom,fork-bomb,orphan,exit,fd-exhaust,seccomp",
      ], environment: nil)
    guard r.status == 0 else { throw CrashRunFailed(status: r.status, stderr: r.stderr) }
    return try Harness.json(r.stdout)
  }

  @Test func theSVGGridHasEveryFaultAndLevel() throws {
    _ = try Self.report.get()
    defer { try? FileManager.default.removeItem(atPath: Self.svgPath) }
    let svg = try String(contentsOfFile: Self.svgPath, encoding: .utf8)
    #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"))
    for name in [
      "segv", "abort", "trap", "oom", "fork-bomb", "orphan", "exit", "fd-exhaust", "seccomp", "task", "container",
    ] {
      #expect(svg.contains(">\(name)<"), "\(name)")
    }
    // One cell per fault and level, each coloured by its verdict.
    #expect(svg.components(separatedBy: "<title>").count - 1 >= 36)
  }

  struct CrashRunFailed: Error {
    var status: Int32
    var stderr: String
  }

  func cell(_ fault: String, _ level: String) throws -> [String: Any] {
    let cells = try Self.report.get()["cells"] as? [[String: Any]] ?? []
    return try #require(cells.first { $0["fault"] as? String == fault && $0["level"] as? String == level })
  }

  @Test(arguments: ["segv", "abort", "trap", "exit"])
  func aFatalFaultInATaskOrThreadTakesTheSiblingsAndTheHost(fault: String) throws {
    for level in ["task", "thread"] {
      let c = try cell(fault, level)
      #expect(c["siblingsAlive"] as? Int == 0, "\(fault)/\(level): \(c)")
      #expect(c["hostSurvived"] as? Bool == false, "\(fault)/\(level)")
      #expect(c["verdict"] as? String == "spread", "\(fault)/\(level)")
      #expect(c["detectionMilliseconds"] != nil, "\(fault)/\(level): the supervisor saw the host end")
    }
  }

  @Test(arguments: ["segv", "abort", "trap", "exit", "oom"])
  func processesAndContainersKeepEverySibling(fault: String) throws {
    for level in ["process", "container"] {
      let c = try cell(fault, level)
      #expect(c["siblingsAlive"] as? Int == c["siblings"] as? Int, "\(fault)/\(level): \(c)")
      #expect(c["hostSurvived"] == nil || c["hostSurvived"] is NSNull)
      #expect((c["faultyOutcome"] as? String)?.hasPrefix("still running") == false, "\(fault)/\(level) ended")
    }
  }

  @Test func theSegvSignalIsTheOneReported() throws {
    #expect(try cell("segv", "process")["faultyOutcome"] as? String == "signal SIGSEGV")
    #expect(try cell("segv", "thread")["faultyOutcome"] as? String == "host signal SIGSEGV")
    #expect(try cell("exit", "container")["faultyOutcome"] as? String == "exit 3")
  }

  @Test func anOrphanEscapesAProcessButNotAContainer() throws {
    #expect(try cell("orphan", "process")["escapedProcesses"] as? Int == 1)
    #expect(try cell("orphan", "process")["verdict"] as? String == "partial")
    #expect(try cell("orphan", "container")["escapedProcesses"] as? Int == 0)
    #expect(try cell("orphan", "container")["verdict"] as? String == "contained")
  }

  @Test func aForkBombStopsAtTheContainersPidsLimitWhileTheCanaryForks() throws {
    let container = try cell("fork-bomb", "container")
    let canary = try #require(container["canary"] as? [String: Any])
    #expect(canary["forkFailures"] as? Int == 0, "\(canary)")
    #expect((canary["rounds"] as? Int ?? 0) > 0)
    #expect(container["siblingsAlive"] as? Int == 3)
    // At the process level the bomb has only the box's limit: the canary starves.
    let process = try cell("fork-bomb", "process")
    let starved = try #require(process["canary"] as? [String: Any])
    #expect((starved["forkFailures"] as? Int ?? 0) > 0, "\(starved)")
  }

  @Test func aMemoryHogIsOOMKilledInItsContainerWhileTheSiblingsLive() throws {
    let c = try cell("oom", "container")
    #expect(c["faultyOutcome"] as? String == "signal SIGKILL killed(oom)", "\(c)")
    #expect(c["siblingsAlive"] as? Int == 3)
    #expect(c["verdict"] as? String == "contained")
  }

  @Test func threadsShareOneDescriptorTable() throws {
    #expect(try cell("fd-exhaust", "thread")["siblingsImpaired"] as? Int == 3)
    #expect(try cell("fd-exhaust", "process")["siblingsImpaired"] as? Int == 0)
  }

  @Test func seccompIsOnlyForTheConfinedLevel() throws {
    #expect(try cell("seccomp", "process")["verdict"] as? String == "n/a")
    let c = try cell("seccomp", "container")
    #expect(c["faultyOutcome"] as? String == "exit 1", "keyctl denied with EPERM: the probe says so and exits 1")
    #expect(c["verdict"] as? String == "contained")
  }

  @Test func nothingIsLeftBehindAfterAnyCell() throws {
    let cells = try Self.report.get()["cells"] as? [[String: Any]] ?? []
    #expect(cells.count == 36)
    for c in cells {
      let left = try #require(c["leftovers"] as? [String: Int])
      #expect(left.values.allSatisfy { $0 == 0 }, "\(c["fault"]!)/\(c["level"]!): \(left)")
    }
    // And from outside: no lab cgroup of any bulkhead remains, below the cgroup
    // bulkhead ran in (this process's, which it inherited).
    let own = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
    func path(_ controller: String) -> String {
      for line in own.split(separator: "\n") {
        let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        if f.count == 3 && f[1].split(separator: ",").contains(Substring(controller)) {
          return f[2] == "/" ? "" : String(f[2])
        }
      }
      return ""
    }
    for controller in ["memory", "pids"] {
      let dir = "/sys/fs/cgroup/\(controller)\(path(controller))/bulkhead"
      // run-PID-lab: a lab's group is a leftover once its bulkhead is gone (another
      // bulkhead's lab, running beside this suite on the same machine, is not).
      let left =
        (try? FileManager.default.contentsOfDirectory(atPath: dir))?.filter { name in
          guard name.hasSuffix("-lab"), let pid = Int32(name.split(separator: "-").dropFirst().first ?? "") else {
            return false
          }
          return kill(pid, 0) != 0 && errno == ESRCH
        } ?? []
      #expect(left.isEmpty, "\(controller): \(left)")
    }
  }

  @Test func badInputIsOneLineAndExit2() throws {
    for args in [
      ["crash", "--faults", "nosuch"], ["crash", "--levels", "vm"], ["crash", "--siblings", "0"],
      ["crash", "--window", "5x"], ["bench", "memory", "--units", "0"], ["bench", "spawn", "--hold"],
      ["bench", "spawn", "--count", "0"], ["compare", "--json"],
    ] {
      let r = try Harness.run(args)
      #expect(r.status == 2, "\(args)")
      #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
    }
  }
}
