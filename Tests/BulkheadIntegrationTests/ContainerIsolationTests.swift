import Foundation
import Testing

@Suite(
  "Container isolation, checked from inside and outside",
  .enabled(if: Harness.canRunContainers, Harness.containerReason))
struct ContainerIsolationTests {
  @Test func theWorkloadIsPID1AndSeesOnlyItsOwnProcesses() throws {
    let r = try Harness.run(["run", "--", "sh", "-c", "echo $$; ls /proc | grep -E '^[0-9]+$'"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.lines.first == "1")
    let pids = r.lines.dropFirst().compactMap { Int($0) }
    // sh, ls and grep at most: nothing of the host's.
    #expect(pids.count <= 3 && pids.allSatisfy { $0 < 10 }, "\(pids)")
    let host = try Harness.run(["run", "--level", "process", "--", "sh", "-c", "ls /proc | grep -cE '^[0-9]+$'"])
    #expect((Int(host.lines.first ?? "0") ?? 0) > 10, "the process level sees the host's processes")
  }

  @Test func theHostnameIsIsolated() throws {
    let before = ProcessInfo.processInfo.hostName
    #expect(try Harness.run(["run", "--", "hostname"]).lines == ["bulkhead"])
    #expect(try Harness.run(["run", "--hostname", "lab", "--", "hostname"]).lines == ["lab"])
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, 255)
    #expect(String(cString: name) != "lab")
    #expect(ProcessInfo.processInfo.hostName == before)
  }

  @Test func aFileWrittenInTmpInsideIsNotVisibleOutside() throws {
    let name = "bulkhead-\(Harness.uniqueMarker())"
    let r = try Harness.run(["run", "--", "sh", "-c", "echo inside > /tmp/\(name) && cat /tmp/\(name)"])
    #expect(r.lines == ["inside"], "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: "/tmp/\(name)"))
    #expect(!FileManager.default.fileExists(atPath: Harness.rootfs + "/tmp/\(name)"))
  }

  @Test func theRootIsReadOnlyUnlessRW() throws {
    let r = try Harness.run(["run", "--", "touch", "/etc/bulkhead-ro-test"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("Read-only file system"))
    #expect(!FileManager.default.fileExists(atPath: Harness.rootfs + "/etc/bulkhead-ro-test"))
    try Harness.withRootfsCopy { copy in
      let rw = try Harness.run(["run", "--rootfs", copy, "--rw", "--", "touch", "/etc/rw-test"])
      #expect(rw.status == 0, "\(rw.stderr)")
      #expect(FileManager.default.fileExists(atPath: copy + "/etc/rw-test"))
    }
  }

  @Test(arguments: [[String](), ["--userns"]])
  func procSysIsReadOnlyAndKernelStateIsMasked(flags: [String]) throws {
    // Root in a container without a user namespace is root for /proc/sys: a
    // writable core_pattern would run a program on the host.
    let r = try Harness.run(
      ["run"] + flags + [
        "--", "sh", "-c",
        "echo x > /proc/sys/kernel/domainname || echo refused; wc -c < /proc/keys; ls /proc/acpi | wc -l",
      ])
    #expect(r.lines == ["refused", "0", "0"], "\(r.stdout) \(r.stderr)")
    #expect(r.stderr.contains("Read-only file system"))
  }

  @Test func onlyLoopbackIsThereAndItIsUp() throws {
    let r = try Harness.run(["run", "--", "ip", "-o", "link"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.lines.count == 1)
    #expect(r.lines.first?.contains("lo:") == true)
    #expect(r.lines.first?.contains("UP") == true)
  }

  @Test(arguments: [[String](), ["net", "ipc", "uts", "cgroup"], ["pid"]])
  func namespaceIDsDifferWhenUnsharedAndMatchWhenShared(shared: [String]) throws {
    let dir = NSTemporaryDirectory() + "bulkhead-status-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let statusFile = dir + "/status.json"
    let r = try Harness.run(
      ["run", "--json-status", statusFile] + shared.flatMap { ["--share", $0] } + ["--", "true"])
    #expect(r.status == 0, "\(r.stderr)")
    let status = try Harness.json(String(contentsOfFile: statusFile, encoding: .utf8))
    let namespaces = try #require(status["namespaces"] as? [String: Any])
    let workload = try #require(namespaces["workload"] as? [String: Int])
    let host = try #require(namespaces["host"] as? [String: Int])
    let unshared = Set(["pid", "mnt", "uts", "ipc", "net", "cgroup"]).subtracting(shared)
    for kind in ["pid", "mnt", "uts", "ipc", "net", "cgroup", "user", "time"] {
      let mine = try #require(workload[kind], "\(kind)")
      let theirs = try #require(host[kind], "\(kind)")
      if unshared.contains(kind) {
        #expect(mine != theirs, "\(kind) should be isolated")
      } else {
        #expect(mine == theirs, "\(kind) should be shared")
      }
    }
    #expect((status["outcome"] as? [String: Any])?["kind"] as? String == "exited")
    #expect(status["schema"] as? String == "bulkhead.run-status/1")
  }

  /// With limits the workload is in a cgroup of its own; its cgroup namespace is
  /// rooted there (on v1, made after the parent placed it), so it sees "/" while the
  /// host sees the path. Without limits it stays in bulkhead's group: "/" too.
  @Test(arguments: [[String](), ["--memory", "64m"]])
  func theCgroupNamespaceIsRootedAtTheWorkloadsOwnGroup(limits: [String]) throws {
    let quoted = limits.map { "'\($0)'" }.joined(separator: " ")
    let marker = Harness.uniqueMarker()
    let result = try Harness.shell(
      """
      "$BULKHEAD" run \(quoted) -- sh -c 'grep :memory: /proc/self/cgroup; sleep 2; : \(marker)' &
      for _ in $(seq 50); do
        pid=$(pgrep -f "^sh -c grep :memory: /proc/self/cgroup; sleep 2; : \(marker)" | head -1)
        [ -n "$pid" ] && break
        sleep 0.05
      done
      echo "host $(grep :memory: /proc/$pid/cgroup)"
      wait
      """)
    #expect(result.status == 0, "\(result.stderr)")
    let inside = result.lines.first { !$0.hasPrefix("host ") } ?? ""
    let host = result.lines.first { $0.hasPrefix("host ") } ?? ""
    #expect(inside.hasSuffix(":memory:/"), "\(result.stdout)")
    if !limits.isEmpty { #expect(host.contains("/bulkhead/run-"), "\(result.stdout)") }
  }

  @Test(arguments: [[String](), ["--memory", "64m"]])
  func theStatusNamespaceIDsAreTheOnesReadFromOutside(limits: [String]) throws {
    // While the workload sleeps, read /proc/PID/ns/* of its pid from outside and
    // compare with what --json-status reports when it ends.
    let dir = NSTemporaryDirectory() + "bulkhead-status-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let marker = Harness.uniqueMarker()
    let result = try Harness.shell(
      """
      "$BULKHEAD" run \(limits.joined(separator: " ")) --json-status \(dir)/s.json -- sh -c 'sleep 3; : \(marker)' &
      # Found by polling, not after a fixed delay: a loaded machine starts it later.
      for _ in $(seq 50); do
        pid=$(for p in /proc/[0-9]*; do if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^sh -c sleep 3; : \(marker)'; then basename $p; fi; done | head -1)
        [ -n "$pid" ] && break
        sleep 0.05
      done
      for k in pid mnt net uts ipc cgroup; do echo "$k $(readlink /proc/$pid/ns/$k)"; done
      wait
      """)
    #expect(result.status == 0, "\(result.stderr)")
    let status = try Harness.json(String(contentsOfFile: dir + "/s.json", encoding: .utf8))
    let workload = try #require((status["namespaces"] as? [String: Any])?["workload"] as? [String: Int])
    #expect(result.lines.count == 6)
    for line in result.lines {
      let parts = line.split(separator: " ")
      #expect(parts.count == 2 && parts[1] == "\(parts[0]):[\(workload[String(parts[0])] ?? -1)]", "\(line)")
    }
  }

  @Test func onlyDescriptors0To2AndPassedOnesAreOpenInside() throws {
    for level in ["container", "process"] {
      let leaked = try Harness.shell(
        "exec 7</etc/hostname; \"$BULKHEAD\" run --level \(level) -- sh -c 'ls /proc/$$/fd; true'")
      #expect(leaked.lines == ["0", "1", "2"], "\(level): \(leaked.stdout) \(leaked.stderr)")
      let passed = try Harness.shell(
        "exec 5</etc/hostname 7</etc/hostname; \"$BULKHEAD\" run --level \(level) --pass-fd 5 -- sh -c 'ls /proc/$$/fd; head -c 1 <&5 >/dev/null && echo readable'"
      )
      #expect(passed.lines == ["0", "1", "2", "5", "readable"], "\(level): \(passed.stdout) \(passed.stderr)")
    }
  }

  @Test func theEnvironmentIsClearedExceptPathHomeTerm() throws {
    let r = try Harness.run(
      ["run", "--env", "EXTRA=1", "--", "env"], environment: ["PATH": "/usr/bin:/bin", "HOME": "/root", "SECRET": "x"])
    let names = Set(r.lines.compactMap { $0.split(separator: "=").first.map(String.init) })
    // busybox sh is not involved: env prints exactly what execve received.
    #expect(names == ["PATH", "HOME", "EXTRA"], "\(r.stdout)")
  }

  @Test func theWorkloadRunsInANewSession() throws {
    let r = try Harness.run(["run", "--level", "process", "--", "sh", "-c", "cut -d' ' -f6 /proc/$$/stat; echo $$"])
    #expect(r.lines.count == 2 && r.lines[0] == r.lines[1], "session id == pid: \(r.stdout)")
  }

  @Test func bindMountsLandWhereTheyClaimAndReadOnlyHolds() throws {
    let dir = NSTemporaryDirectory() + "bulkhead-bind-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try "hello\n".write(toFile: dir + "/file", atomically: true, encoding: .utf8)
    let r = try Harness.run([
      "run", "--bind", "\(dir):/tmp/in:ro", "--bind", "\(dir)/file:/tmp/one", "--tmpfs", "/tmp/scratch",
      "--cwd", "/tmp/in", "--", "sh", "-c",
      "cat file; cat /tmp/one; pwd; touch x || echo ro; touch /tmp/scratch/y && echo rw",
    ])
    #expect(r.lines == ["hello", "hello", "/tmp/in", "ro", "rw"], "\(r.stdout) \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/x"))
  }
}
