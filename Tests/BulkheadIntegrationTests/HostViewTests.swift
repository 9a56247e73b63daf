import BulkheadSpec
import Foundation
import Testing

/// `--rootfs host`, `--overlay`, `--overlay-dir`, `--bind-overlay`, `--bind-cwd` and the
/// mount points Bulkhead makes in its own layers, each checked against the host's
/// own files and mount table, read from outside.
@Suite(
  "The host view and Bulkhead's own layers",
  .enabled(if: Harness.canRunContainers, Harness.containerReason),
  .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs the host's /usr/bin/python3"))
struct HostViewTests {
  func scratch(_ body: (String) throws -> Void) throws {
    let dir = NSTemporaryDirectory() + "bulkhead-hostview-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try body(dir)
  }

  /// The host's mount table (mount point and type of every line), and the staging directory's entries.
  func hostMounts() -> [String] {
    let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").map { line in
      let fields = line.split(separator: " ")
      return fields.count > 4 ? "\(fields[4]) \(fields.last ?? "")" : String(line)
    }.sorted()
  }

  func stagingEntries() -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: "/run/bulkhead/stage")) ?? []
  }

  @Test func pythonRunsAndTheHostsSecretsHomesAndRunAreAbsent() throws {
    // The witness: these exist on the host.
    for path in ["/etc/shadow", "/root", "/run"] { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
    let r = try Harness.run([
      "run", "--rootfs", "host", "--", "python3", "-c",
      """
      import os
      print("python", 6 * 7)
      for p in ["/etc/shadow", "/etc/gshadow", "/root", "/home", "/run", "/var", "/mnt", "/media", "/etc/ssl/private"]:
          print(p, os.path.exists(p))
      print("etc", " ".join(sorted(os.listdir("/etc"))))
      """,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.lines.first == "python 42")
    let absent = r.lines.dropFirst().filter { !$0.hasPrefix("etc ") }
    #expect(absent.count == 9 && absent.allSatisfy { $0.hasSuffix(" False") }, "\(r.lines)")
    // /etc holds exactly the listed files and directories that the host has.
    let etc = Set((r.lines.last ?? "").split(separator: " ").dropFirst().map(String.init))
    let listed = Set(
      (HostView.etcFiles + HostView.etcDirectories).map { $0.split(separator: "/")[1] }.map(String.init))
    #expect(!etc.isEmpty && etc.isSubset(of: listed), "\(etc.subtracting(listed))")
    #expect(etc.contains("passwd") && etc.contains("ld.so.cache"))
  }

  @Test func theHostViewKeepsTheContainersConfinement() throws {
    let r = try Harness.run([
      "run", "--rootfs", "host", "--", "sh", "-c",
      "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; echo $$; hostname; ls /proc | grep -cE '^[0-9]+$'",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.lines.prefix(4) == ["NoNewPrivs:\t1", "Seccomp:\t2", "1", "bulkhead"], "\(r.lines)")
    #expect((Int(r.lines.last ?? "") ?? 99) <= 3, "only the sandbox's own processes")
  }

  @Test func writesToUsrFailWithEROFSAndSucceedUnderAnOverlayWithoutReachingTheHost() throws {
    let name = "bulkhead-hv-\(Harness.uniqueMarker())"
    let ro = try Harness.run(["run", "--rootfs", "host", "--", "touch", "/usr/\(name)"])
    #expect(ro.status != 0)
    #expect(ro.stderr.contains("Read-only file system"), "\(ro.stderr)")
    let rw = try Harness.run([
      "run", "--rootfs", "host", "--overlay", "--", "sh", "-c",
      "echo in > /usr/\(name) && cat /usr/\(name) && echo top > /\(name) && cat /\(name)",
    ])
    #expect(rw.lines == ["in", "top"], "\(rw.stderr)")
    #expect(!FileManager.default.fileExists(atPath: "/usr/\(name)"))
    #expect(!FileManager.default.fileExists(atPath: "/\(name)"))
    // A second run sees none of it: the writes vanished with the first.
    let again = try Harness.run(["run", "--rootfs", "host", "--overlay", "--", "ls", "/usr/\(name)"])
    #expect(again.status != 0)
  }

  @Test func overlayDirKeepsTheWritesAtTheirPathUnderUpper() throws {
    try scratch { dir in
      let r = try Harness.run([
        "run", "--rootfs", "host", "--overlay-dir", dir, "--", "sh", "-c", "echo kept > /usr/kept-file",
      ])
      #expect(r.status == 0, "\(r.stderr)")
      #expect((try? String(contentsOfFile: dir + "/upper/usr/kept-file", encoding: .utf8)) == "kept\n")
      #expect(!FileManager.default.fileExists(atPath: "/usr/kept-file"))
    }
  }

  /// The throwaway layer's tmpfs has the size asked for (512 MiB by default), as the
  /// kernel reports it from outside: statfs of the overlay through /proc/PID/root
  /// (overlayfs answers with its upper layer's filesystem), a --bind-overlay's too
  /// beside --overlay-dir; and a write past it fails with ENOSPC inside.
  @Test func theThrowawayLayerHasTheSizeAskedForSeenFromOutside() throws {
    try scratch { dir in
      let marker = Harness.uniqueMarker()
      let r = try Harness.shell(
        """
        size() {
          "$BULKHEAD" run "$@" -- sh -c 'sleep 3; : \(marker)' &
          bg=$!; pid=
          for _ in $(seq 100); do
            # The workload: the one with the marker in a mount namespace not the host's.
            pid=$(pgrep -f 'sleep 3; : \(marker)' | while read -r p; do [ "$(readlink /proc/$p/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && echo $p; done | head -1)
            [ -n "$pid" ] && break; sleep 0.03
          done
          echo "$1 $2 $(stat -f -c '%b %S' /proc/$pid/root$PROBE)"
          kill $bg; wait $bg 2>/dev/null
        }
        PROBE=/usr size --rootfs host --overlay
        PROBE=/usr size --rootfs host --overlay --overlay-size 24M
        PROBE=/s size --rootfs host --overlay-dir '\(dir)/o' --bind-overlay '\(dir)':/s --overlay-size 16M
        "$BULKHEAD" run --rootfs host --overlay --overlay-size 8M -- dd if=/dev/zero of=/usr/big bs=1M count=12 2>&1 | grep -c 'No space left'
        """)
      #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
      func bytes(_ line: String) -> UInt64? {
        let f = line.split(separator: " ")
        guard f.count == 4, let blocks = UInt64(f[2]), let size = UInt64(f[3]) else { return nil }
        return blocks * size
      }
      #expect(r.lines.count == 4, "\(r.stdout) \(r.stderr)")
      guard r.lines.count == 4 else { return }
      #expect(bytes(r.lines[0]) == 512 << 20, "\(r.lines[0])")
      #expect(bytes(r.lines[1]) == 24 << 20, "\(r.lines[1])")
      #expect(bytes(r.lines[2]) == 16 << 20, "\(r.lines[2])")
      #expect(r.lines[3] == "1", "a write past 8M: \(r.stdout)")
    }
  }

  @Test func anOverlaySizeWithoutAThrowawayLayerIsRefused() throws {
    for arguments in [
      ["run", "--overlay-size", "10M", "--", "true"],
      ["run", "--rootfs", "host", "--overlay-dir", "/tmp/bulkhead-unused", "--overlay-size", "10M", "--", "true"],
      ["run", "--overlay", "--overlay-size", "10Q", "--", "true"],
      ["run", "--level", "process", "--overlay-size", "10M", "--", "true"],
    ] {
      let r = try Harness.run(arguments)
      #expect(r.status == 2, "\(arguments): \(r.stderr)")
      #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("--overlay-size"), "\(r.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: "/tmp/bulkhead-unused"))
  }

  @Test func anOverlayOverARootfsDirectoryLeavesTheRootfsUntouched() throws {
    let r = try Harness.run(["run", "--overlay", "--", "sh", "-c", "echo x > /bin/bh-new && cat /bin/bh-new"])
    #expect(r.lines == ["x"], "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: Harness.rootfs + "/bin/bh-new"))
  }

  @Test func bindOverlayIsACopyOnWriteViewOfTheTree() throws {
    try scratch { dir in
      try "orig\n".write(toFile: dir + "/a", atomically: false, encoding: .utf8)
      let r = try Harness.run([
        "run", "--rootfs", "host", "--bind-overlay", "\(dir):/src", "--", "sh", "-c",
        "echo changed > /src/a && echo new > /src/b && cat /src/a /src/b",
      ])
      #expect(r.lines == ["changed", "new"], "\(r.stderr)")
      #expect((try? String(contentsOfFile: dir + "/a", encoding: .utf8)) == "orig\n")
      #expect(!FileManager.default.fileExists(atPath: dir + "/b"))
    }
  }

  @Test func bindCwdExposesExactlyTheCurrentDirectory() throws {
    try scratch { dir in
      try FileManager.default.createDirectory(atPath: dir + "/project", withIntermediateDirectories: true)
      try "x".write(toFile: dir + "/sibling-secret", atomically: false, encoding: .utf8)
      try "y".write(toFile: dir + "/project/file", atomically: false, encoding: .utf8)
      let r = try Harness.shell(
        "cd '\(dir)/project' && \"$BULKHEAD\" run --rootfs host --bind-cwd -- sh -c 'pwd; ls; ls ..; echo w > made'")
      #expect(r.status == 0, "\(r.stderr)")
      #expect(r.lines == ["\(dir)/project", "file", "project"], "\(r.lines)")
      #expect(FileManager.default.fileExists(atPath: dir + "/project/made"))
      let ro = try Harness.shell(
        "cd '\(dir)/project' && \"$BULKHEAD\" run --rootfs host --bind-cwd-ro -- sh -c 'echo w > made2'")
      #expect(ro.status != 0 && ro.stderr.contains("Read-only file system"), "\(ro.stderr)")
      #expect(!FileManager.default.fileExists(atPath: dir + "/project/made2"))
    }
  }

  @Test func mountPointsAreMadeInTheHostViewButNeverThroughASymlinkOrIntoAHostBind() throws {
    try scratch { dir in
      symlink("/", dir + "/up")
      symlink("..", dir + "/dotdot")
      let made = try Harness.run([
        "run", "--rootfs", "host", "--tmpfs", "/new/place", "--", "sh", "-c", "ls -d /new/place",
      ])
      #expect(made.lines == ["/new/place"], "\(made.stderr)")
      // Into a bound host tree (not Bulkhead's): nothing is created, through the
      // symlinks or not; the host directory is untouched.
      for target in ["/data/up/bh-escape", "/data/dotdot/bh-escape", "/data/bh-new"] {
        let r = try Harness.run(["run", "--rootfs", "host", "--bind", "\(dir):/data", "--tmpfs", target, "--", "true"])
        #expect(r.status == 125, "\(target): \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
      }
      #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["dotdot", "up"])
      #expect(!FileManager.default.fileExists(atPath: "/bh-escape"))
      // An existing target through the symlink lands inside the sandbox: its own /etc.
      let hostEtc = try FileManager.default.contentsOfDirectory(atPath: "/etc").count
      let inside = try Harness.run([
        "run", "--rootfs", "host", "--bind", "\(dir):/data", "--tmpfs", "/data/up/etc", "--", "sh", "-c",
        "ls /etc | wc -l",
      ])
      #expect(inside.lines == ["0"], "\(inside.stderr)")
      #expect(try FileManager.default.contentsOfDirectory(atPath: "/etc").count == hostEtc)
    }
  }

  @Test func aSymlinkInTheRootfsCannotLeadAMountPointOut() throws {
    try Harness.withRootfsCopy { copy in
      symlink("/", copy + "/evil")
      symlink("../..", copy + "/evil2")
      // Read-only rootfs: nothing is created in it.
      let refused = try Harness.run(["run", "--rootfs", copy, "--tmpfs", "/evil/bh-made", "--", "true"])
      #expect(refused.status == 125, "\(refused.stderr)")
      #expect(!FileManager.default.fileExists(atPath: copy + "/bh-made"))
      // Under an overlay the mount point is made in the upper layer, inside.
      let r = try Harness.run([
        "run", "--rootfs", copy, "--overlay", "--tmpfs", "/evil2/bh-made", "--", "sh", "-c", "ls -d /bh-made",
      ])
      #expect(r.lines == ["/bh-made"], "\(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: copy + "/bh-made"))
      #expect(!FileManager.default.fileExists(atPath: "/bh-made"))
    }
  }

  @Test(arguments: ["/proc/bh", "/proc/sys/kernel", "/dev/bh", "/dev/shm", "/proc", "/dev"])
  func aMountOnProcOrDevIsRefusedInOneLine(target: String) throws {
    let r = try Harness.run(["run", "--rootfs", "host", "--bind", "/etc/hostname:\(target)", "--", "true"])
    #expect(r.status == 125)
    #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    #expect(r.stderr.contains(target) && r.stderr.contains("outside /proc and /dev"), "\(r.stderr)")
  }

  @Test func nothingIsLeftOnTheHostAfterExitsFaultsAndASIGKILLedBulkhead() throws {
    let before = hostMounts()
    try scratch { dir in
      let normal = try Harness.run([
        "run", "--rootfs", "host", "--overlay", "--bind-overlay", "\(dir):/s", "--", "true",
      ])
      #expect(normal.status == 0, "\(normal.stderr)")
      let fault = try Harness.run([
        "run", "--rootfs", "host", "--overlay", "--", "sh", "-c",
        "python3 -c 'import ctypes; ctypes.string_at(0)'; exit $?",
      ])
      #expect(fault.status == 128 + 11, "a segfault: \(fault.status) \(fault.stderr)")
      let sleeper = "sleep 9\(Harness.uniqueMarker().suffix(4))"
      let killed = try Harness.shell(
        """
        "$BULKHEAD" run --rootfs host --overlay --bind-overlay '\(dir)':/s -- \(sleeper) &
        pid=$!
        for _ in $(seq 100); do pgrep -f '\(sleeper)' >/dev/null && break; sleep 0.05; done
        kill -KILL "$pid"; wait "$pid"; echo "$?"
        """)
      #expect(killed.lines.last == "137", "\(killed.stdout) \(killed.stderr)")
      #expect(Harness.waitUntilGone(sleeper).isEmpty)
      #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
    #expect(hostMounts() == before)
    #expect(stagingEntries().isEmpty)
  }

  @Test(.enabled(if: Harness.nobodyCanRun, "needs setpriv and a bulkhead and Rootfs that user nobody can reach"))
  func rootlessTheHostViewAndAnOverlayWorkInAUserNamespace() throws {
    let staging = "/tmp/bulkhead-65534"
    let existed = FileManager.default.fileExists(atPath: staging)
    defer { if !existed { try? FileManager.default.removeItem(atPath: staging) } }
    let r = try Harness.shell(
      "setpriv --reuid 65534 --regid 65534 --clear-groups env HOME=/nonexistent \"$BULKHEAD\" run --rootfs host --overlay"
        + " -- sh -c 'id -u; echo x > /usr/bh-rootless && cat /usr/bh-rootless; ls /root 2>&1 | wc -l'")
    #expect(r.lines == ["0", "x", "1"], "\(r.stdout) \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: "/usr/bh-rootless"))
  }
}
