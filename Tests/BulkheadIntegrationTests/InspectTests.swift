import Foundation
import Testing

@Suite(
  "bulkhead inspect, checked against the truth read from outside",
  .enabled(if: Harness.canRunWorkloads, Harness.workloadReason))
struct InspectTests {
  func rows(_ report: [String: Any]) -> [String: [String: Any]] {
    let list = report["rows"] as? [[String: Any]] ?? []
    return Dictionary(
      list.compactMap { r in (r["property"] as? String).map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
  }

  @Test func theDefaultContainerIsolatesSixKindsAndReducesPrivilege() throws {
    let r = try Harness.run(["inspect", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let byProperty = rows(try Harness.json(r.stdout))
    for kind in ["pid", "mnt", "uts", "ipc", "net", "cgroup"] {
      #expect(byProperty["\(kind) namespace"]?["verdict"] as? String == "isolated", "\(kind)")
    }
    for kind in ["user", "time"] {
      #expect(byProperty["\(kind) namespace"]?["verdict"] as? String == "shared", "\(kind)")
    }
    #expect(byProperty["pid namespace"]?["reason"] as? String == "it is PID 1 and sees 1 process(es)")
    #expect(byProperty["seccomp"]?["verdict"] as? String == "reduced")
    #expect(byProperty["no_new_privs"]?["verdict"] as? String == "reduced")
    #expect(byProperty["check: mount"]?["verdict"] as? String == "reduced")
  }

  @Test func sharedKindsAreReportedShared() throws {
    let r = try Harness.run(["inspect", "--json", "--share", "net", "--share", "uts"])
    let byProperty = rows(try Harness.json(r.stdout))
    #expect(byProperty["net namespace"]?["verdict"] as? String == "shared")
    #expect(byProperty["uts namespace"]?["verdict"] as? String == "shared")
    #expect(byProperty["pid namespace"]?["verdict"] as? String == "isolated")
  }

  @Test func pidAgreesWithTheProbesOwnViewAndWithProc() throws {
    // A container whose init runs the probe's inspect into a bound directory, then waits.
    let dir = NSTemporaryDirectory() + "bulkhead-inspect-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let marker = Harness.uniqueMarker()
    let r = try Harness.shell(
      """
      "$BULKHEAD" run --bind \(dir):/tmp/out -- sh -c 'bulkhead-probe inspect > /tmp/out/self.json; sleep 2; : \(marker)' &
      for i in $(seq 50); do [ -s \(dir)/self.json ] && break; sleep 0.05; done
      pid=$(for p in /proc/[0-9]*; do if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^sh -c bulkhead-probe inspect.*\(marker)'; then basename $p; fi; done | head -1)
      "$BULKHEAD" inspect --json --pid "$pid" > \(dir)/outside.json
      for k in pid mnt net uts ipc cgroup user; do echo "$k $(readlink /proc/$pid/ns/$k)"; done
      wait
      """)
    #expect(r.status == 0, "\(r.stderr)")
    let inside = try Harness.json(String(contentsOfFile: dir + "/self.json", encoding: .utf8))
    let outside = try Harness.json(String(contentsOfFile: dir + "/outside.json", encoding: .utf8))
    let fromPid = try #require(outside["workload"] as? [String: Any])
    let insideNS = try #require(inside["namespaces"] as? [String: Int])
    let outsideNS = try #require(fromPid["namespaces"] as? [String: Int])
    for line in r.lines {
      let parts = line.split(separator: " ")
      guard parts.count == 2 else { continue }
      let kind = String(parts[0])
      #expect(parts[1] == "\(kind):[\(outsideNS[kind] ?? -1)]", "\(kind) from --pid vs readlink")
      #expect(insideNS[kind] == outsideNS[kind], "\(kind): the probe's own view vs --pid")
    }
    for key in [
      "capEff", "capBnd", "capPrm", "capInh", "capAmb", "noNewPrivs", "seccomp", "seccomp_filters", "uid", "euid",
    ] {
      #expect("\(inside[key] ?? "nil")" == "\(fromPid[key] ?? "nil")", "\(key)")
    }
  }

  @Test func theScorecardShowsTheLadder() throws {
    let r = try Harness.run(["inspect", "--all-levels", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let card = try Harness.json(r.stdout)
    let columns = try #require(card["columns"] as? [[String: Any]])
    #expect(columns.map { $0["level"] as? String } == ["task", "thread", "process", "container", "host view"])
    for column in columns {
      let byProperty = rows(column)
      let isolated = ["pid", "mnt", "uts", "ipc", "net", "cgroup"].filter {
        byProperty["\($0) namespace"]?["verdict"] as? String == "isolated"
      }
      let paths = byProperty["host paths in view"]
      switch column["level"] as? String {
      case "container":
        #expect(paths?["verdict"] as? String == "isolated", "busybox root: none of the host's files")
      case "host view":
        // The host's own /usr read-only (same device and inode as outside), nothing writable.
        #expect(paths?["verdict"] as? String == "reduced")
        #expect((paths?["workload"] as? String)?.contains("/usr") == true, "\(paths ?? [:])")
        #expect((paths?["workload"] as? String)?.contains("rw") == false, "\(paths ?? [:])")
        #expect((paths?["reason"] as? String)?.contains("/etc/shadow") == true)
      default:
        #expect(paths?["verdict"] as? String == "shared", "\(column["level"] ?? ""): the host's own files, writable")
      }
      if column["level"] as? String == "container" || column["level"] as? String == "host view" {
        #expect(isolated.count == 6)
        #expect(byProperty["check: mount"]?["verdict"] as? String == "reduced")
      } else {
        #expect(isolated.isEmpty, "\(column["level"] ?? "") shares every namespace")
      }
      #expect((column["summary"] as? String)?.contains("namespaces isolated") == true)
    }
  }

  @Test func cgroupLimitsAndRlimitsAreSeenFromInsideWhereReadable() throws {
    let (r, _) = try Harness.workload("process", ["inspect"], extra: ["--memory", "48M", "--rlimit", "nofile=99"])
    let seen = try Harness.json(r.stdout)
    let limits = seen["cgroupLimits"] as? [String: String]
    #expect(
      limits?["memory.limit_in_bytes"] == "\(48 << 20)" || limits?["memory.max"] == "\(48 << 20)", "\(limits ?? [:])")
    let rlimits = seen["rlimits"] as? [String: [Any]]
    #expect(rlimits?["nofile"]?.compactMap { $0 as? Int } == [99, 99])
    #expect(rlimits?["core"]?.compactMap { $0 as? Int } == [0, 0])
  }

  /// The active checks that make something in /tmp (chroot-escape's directory,
  /// mknod-block's node) remove it: on the host side of the report and at the process
  /// level both run in the host's own /tmp. An entry left by a process that is gone
  /// is a leftover; one whose process still runs belongs to a concurrent test.
  @Test func theChecksLeaveNothingInTheHostsTmp() throws {
    func entries() -> Set<String> {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
      return Set(names.filter { $0.hasPrefix(".bulkhead-chroot-") || $0.hasPrefix(".bulkhead-mknod-") })
    }
    let before = entries()
    let r = try Harness.run(["inspect", "--json", "--level", "process"])
    #expect(r.status == 0, "\(r.stderr)")
    let rows = rows(try Harness.json(r.stdout))
    // The check did run for real on both sides (as root it gets as far as chroot).
    #expect((rows["check: chroot-escape"]?["host"] as? String)?.hasPrefix("allowed") == true, "\(rows)")
    let left = entries().subtracting(before).filter { name in
      let pid = name.split(separator: "-").last.map(String.init) ?? ""
      return !FileManager.default.fileExists(atPath: "/proc/\(pid)")
    }
    #expect(left.isEmpty, "left in /tmp: \(left.sorted())")
  }

  @Test func badInspectRequestsAreRefused() throws {
    for (arguments, status) in [
      (["inspect", "--levels", "thread,vm"], Int32(2)), (["inspect", "--pid", "999999999"], 125),
      (["inspect", "--workload", "segv"], 2),
    ] {
      let r = try Harness.run(arguments)
      #expect(r.status == status, "\(arguments): \(r.stderr)")
      #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
  }
}
