import Foundation
import Testing

/// Escape attempts from inside a default container, each failing if the escape
/// works: the classes behind runc's, crun's and bubblewrap's CVEs and the usual
/// ways out of a sandbox. Run as root, at the default container level.
@Suite("Escape attempts hold", .enabled(if: Harness.canRunWorkloads, Harness.workloadReason))
struct EscapeTests {
  func inside(_ script: String, _ flags: [String] = []) throws -> Harness.Result {
    try Harness.run(["run"] + flags + ["--", "sh", "-c", script])
  }

  func verdict(_ name: String, _ flags: [String] = []) throws -> String {
    try Harness.verdict(name, flags).0
  }

  // runc CVE-2019-5736: the runtime binary through /proc/self/exe or /proc/PID/exe.
  @Test func nothingOfBulkheadsIsReachableThroughProcExe() throws {
    let r = try inside("for p in /proc/[0-9]*; do readlink $p/exe; done; ls /proc | grep -cE '^[0-9]+$'")
    #expect(!r.stdout.contains("bulkhead\n") && !r.stdout.contains("/bulkhead "), "\(r.stdout)")
    #expect(!r.stdout.contains(".build"), "\(r.stdout)")
  }

  @Test func theWorkloadsOwnExecutableCannotBeOverwritten() throws {
    let r = try inside("echo x >> /proc/self/exe && echo wrote || echo refused; echo x >> /bin/busybox || echo refused")
    #expect(r.lines == ["refused", "refused"], "\(r.stdout) \(r.stderr)")
  }

  // runc CVE-2024-21626: a descriptor or working directory leaked from the host.
  @Test func noDescriptorOrDirectoryLeadsOutOfTheRootfs() throws {
    let r = try Harness.shell(
      "exec 7</etc/hostname 8</; cd /etc; \"$BULKHEAD\" run -- sh -c 'for f in /proc/self/fd/*; do readlink $f; done; readlink /proc/self/cwd; readlink /proc/1/cwd; ls /proc/self/fd/'"
    )
    #expect(!r.stdout.contains("/etc"), "\(r.stdout)")
    // Both working directories are the sandbox's root; the descriptors are 0-2 and ls's own.
    let cwd = r.lines.firstIndex(of: "/")
    #expect(cwd != nil && r.lines[cwd! + 1] == "/", "\(r.stdout)")
    #expect(cwd.map { Array(r.lines[($0 + 2)...]) } == ["0", "1", "2", "3"], "\(r.stdout)")
  }

  // bubblewrap CVE-2017-5226: TIOCSTI into the caller's terminal.
  @Test func terminalInputCannotBeInjected() throws {
    #expect(try Harness.workload("container", ["inspect"]).0.stdout.contains(#""check":"tiocsti","verdict":"denied""#))
    // And the workload has no controlling terminal to inject into: it is a new session.
    let r = try inside("cat /dev/tty 2>&1 || true")
    #expect(r.stdout.contains("No such device") || r.stdout.contains("No such device or address"), "\(r.stdout)")
  }

  // runc/crun: symlinks in the rootfs pointing outside it.
  @Test func aSymlinkedMountPointInTheRootfsStaysInside() throws {
    try Harness.withRootfsCopy { root in
      // /mnt in the rootfs is an absolute symlink to the host's /etc.
      try FileManager.default.createSymbolicLink(atPath: root + "/mnt", withDestinationPath: "/etc")
      try FileManager.default.createDirectory(atPath: root + "/etc/inner", withIntermediateDirectories: true)
      let before = Harness.mountCount()
      let r = try Harness.run([
        "run", "--rootfs", root, "--tmpfs", "/mnt/inner", "--", "sh", "-c",
        "grep ' /etc/inner ' /proc/self/mounts | cut -d' ' -f3",
      ])
      #expect(r.status == 0, "\(r.stderr)")
      // RESOLVE_IN_ROOT: /mnt/inner is the rootfs's /etc/inner, not the host's.
      #expect(r.lines == ["tmpfs"], "\(r.stdout)")
      #expect(Harness.mountCount() == before)
      #expect(!FileManager.default.fileExists(atPath: "/etc/inner"))
    }
  }

  @Test func aSymlinkedProcInTheRootfsCannotRedirectTheProcMount() throws {
    try Harness.withRootfsCopy { root in
      try FileManager.default.removeItem(atPath: root + "/proc")
      try FileManager.default.createSymbolicLink(atPath: root + "/proc", withDestinationPath: "/etc")
      let r = try Harness.run([
        "run", "--rootfs", root, "--", "sh", "-c", "cat /etc/hostname; ls /proc/self >/dev/null && echo proc",
      ])
      // Either it runs with proc inside the rootfs, or it refuses cleanly: never the host's /etc.
      #expect(r.status == 0 || r.status == 125, "\(r.stderr)")
      #expect(FileManager.default.fileExists(atPath: "/etc/hostname"))
      #expect(!r.stdout.contains(ProcessInfo.processInfo.hostName + "\n") || r.stdout.hasPrefix("bulkhead"))
    }
  }

  @Test func theSupervisorAndHostProcessesAreOutOfView() throws {
    let r = try Harness.shell(
      "\"$BULKHEAD\" run --env SUPERVISOR=$$ -- sh -c 'kill -0 $SUPERVISOR 2>&1 || echo no-such; ls /proc/$SUPERVISOR 2>&1 | head -1'"
    )
    #expect(r.stdout.contains("no-such"), "\(r.stdout)")
    #expect(r.stdout.contains("No such file"), "\(r.stdout)")
    #expect(try verdict("ptrace") == "skipped" || (try verdict("ptrace")) == "denied")
  }

  @Test func setnsIntoHostNamespacesFindsNoneToJoin() throws {
    let r = try inside("readlink /proc/1/ns/net; readlink /proc/self/ns/net")
    #expect(r.lines.count == 2 && r.lines[0] == r.lines[1], "PID 1 is the workload itself: \(r.stdout)")
    #expect(try verdict("setns") == "denied")
  }

  @Test func procOneRootIsTheSandboxesOwnRoot() throws {
    let r = try inside("ls /proc/1/root/")
    #expect(r.lines.contains("bin") && !r.lines.contains("work") && !r.lines.contains("opt"), "\(r.stdout)")
  }

  @Test func theRootCannotBeRemountedWritable() throws {
    let r = try inside("mount -o remount,rw / 2>&1; touch /escape 2>&1 || echo ro")
    #expect(r.lines.last == "ro", "\(r.stdout)")
  }

  // A read-only bind is read-only all the way down: a host mount below the bound
  // directory must not stay writable inside (a bind is recursive; a plain remount
  // would make only its top read-only).
  @Test func aReadOnlyBindIsReadOnlyAllTheWayDown() throws {
    let dir = NSTemporaryDirectory() + "bulkhead-robind-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
    let mounted = try Harness.shell("mount -t tmpfs -o size=1m none \(dir)/sub")
    defer {
      _ = try? Harness.shell("umount \(dir)/sub")
      try? FileManager.default.removeItem(atPath: dir)
    }
    #expect(mounted.status == 0, "\(mounted.stderr)")
    let r = try inside(
      "touch /tmp/in/top 2>/dev/null && echo top-writable; touch /tmp/in/sub/x 2>/dev/null && echo sub-writable; echo done",
      ["--bind", "\(dir):/tmp/in:ro"])
    #expect(r.lines == ["done"], "\(r.stdout) \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/sub/x"))
  }

  @Test func mountAndUmountAreDenied() throws {
    let r = try inside(
      "mount -t tmpfs none /tmp/x 2>/dev/null || echo mount-denied; umount /proc 2>/dev/null || echo umount-denied")
    #expect(r.lines == ["mount-denied", "umount-denied"], "\(r.stdout)")
  }

  @Test func aDeviceNodeMadeInsideCannotBeOpened() throws {
    // CAP_MKNOD is kept (as in Docker); the filesystems it can write are nodev.
    let r = try inside(
      "for d in /dev /tmp /dev/shm; do mknod $d/disk b 8 0 2>/dev/null; head -c 1 $d/disk >/dev/null 2>&1 && echo opened || echo refused; done"
    )
    #expect(r.lines == ["refused", "refused", "refused"], "\(r.stdout)")
    try Harness.withRootfsCopy { root in
      let rw = try Harness.run([
        "run", "--rootfs", root, "--rw", "--", "sh", "-c",
        "mknod /disk b 8 0; head -c 1 /disk >/dev/null 2>&1 && echo opened || echo refused",
      ])
      #expect(rw.lines == ["refused"], "a writable rootfs is nodev too: \(rw.stdout)")
    }
  }

  @Test func procSysAndSysCannotBeWritten() throws {
    let r = try inside(
      "echo 1 > /proc/sys/kernel/sysrq 2>/dev/null || echo refused; echo c > /proc/sysrq-trigger 2>/dev/null || echo refused; ls /sys | wc -l"
    )
    #expect(r.lines == ["refused", "refused", "0"], "\(r.stdout)")
  }

  @Test func noCgroupFilesAreWritable() throws {
    let r = try inside("ls /sys/fs/cgroup 2>&1 | head -1; find / -name cgroup.procs 2>/dev/null | head -1")
    #expect(r.lines.first?.contains("No such file") == true, "\(r.stdout)")
    #expect(r.lines.count == 1)
  }

  @Test func aNestedUserNamespaceGivesNoCapabilitiesBack() throws {
    #expect(try verdict("unshare-user") == "denied" || (try verdict("unshare")) == "denied")
    let r = try inside("unshare -U -r id -u 2>&1 || echo refused")
    #expect(r.lines.last == "refused" || r.stdout.contains("not permitted"), "\(r.stdout)")
  }

  @Test func aSetuidBinaryGivesNoPrivilegeUnderNoNewPrivs() throws {
    try Harness.withRootfsCopy { root in
      // busybox runs argv[1] as the applet when its own name starts with "busybox".
      let copy = root + "/bin/busybox.suid"
      try FileManager.default.copyItem(atPath: root + "/bin/busybox", toPath: copy)
      chmod(copy, 0o4755)
      let r = try Harness.run(["run", "--rootfs", root, "--user", "1000", "--", "/bin/busybox.suid", "id", "-u"])
      #expect(r.lines == ["1000"], "\(r.stdout) \(r.stderr)")
    }
  }

  @Test(arguments: ["keyctl", "bpf", "perf_event_open", "init_module", "kexec_load", "reboot"])
  func kernelFacilitiesAreDenied(name: String) throws {
    #expect(try verdict(name) == "denied", "\(name)")
  }

  @Test func theClockCannotBeChanged() throws {
    // busybox's date says so on stderr but exits 0: read the clock back.
    let r = try inside("date -s 2001-01-01 >/dev/null; date +%Y")
    #expect(r.stderr.contains("not permitted"), "\(r.stderr)")
    #expect(r.lines.last != "2001")
  }

  @Test func fillingTmpStopsAtItsSize() throws {
    let r = try inside(
      "dd if=/dev/zero of=/tmp/fill bs=1M count=400 2>&1 | grep -o 'No space left'; du -m /tmp/fill | cut -f1")
    #expect(r.stdout.contains("No space left"), "\(r.stdout)")
    #expect((Int(r.lines.last ?? "") ?? 999) <= 256)
  }

  @Test func descriptorExhaustionStaysInside() throws {
    let (r, _) = try Harness.workload("container", ["fd-exhaust 0"], extra: ["--rlimit", "nofile=100"])
    #expect(r.stdout.contains("opened 97 descriptors"), "\(r.stdout)")
    // The supervisor is unaffected: the next run starts as usual.
    #expect(try Harness.run(["run", "--", "true"]).status == 0)
  }

  @Test func rawNetworkingReachesNothingOutside() throws {
    let r = try inside(
      "ip -o link | wc -l; ping -c 1 -W 1 10.0.2.2 >/dev/null 2>&1 && echo reached || echo unreachable")
    #expect(r.lines == ["1", "unreachable"], "\(r.stdout)")
  }

  @Test func hostnameChangesStayInside() throws {
    let before = ProcessInfo.processInfo.hostName
    _ = try Harness.run([
      "run", "--cap-add", "sys_admin", "--seccomp", "unconfined", "--", "hostname", "changed-inside",
    ])
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, 255)
    #expect(String(cString: name) == before)
  }
}
