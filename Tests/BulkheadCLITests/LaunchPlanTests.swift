import BulkheadSpec
import CBulkhead
import Testing

@testable import BulkheadCore

#if canImport(Glibc)
  import Glibc
#endif

@Suite("The mount plan handed to the child path")
struct LaunchPlanTests {
  typealias Op = LaunchPlan.Op

  func plan(_ mounts: [MountSpec] = [], terminal: Bool = false) throws -> [Op] {
    let spec = Spec(level: .container, command: ["/bin/true"], rootfs: "/r", mounts: mounts)
    var layers = try LaunchPlan.planLayers(spec: spec, rootfs: "/r", userNamespace: false)
    return try LaunchPlan.mountPlan(spec: spec, layers: &layers, stdinIsTerminal: terminal, userNamespace: false)
  }

  /// The host view's plan: (staging ops, ops inside the root).
  func hostViewPlan(_ mounts: [MountSpec] = [], overlay: RootOverlay? = nil) throws -> ([Op], [Op]) {
    let spec = Spec(
      level: .container, command: ["/bin/true"], hostView: .standard(sharesNetwork: false), overlay: overlay,
      mounts: mounts)
    var layers = try LaunchPlan.planLayers(spec: spec, rootfs: nil, userNamespace: false)
    let inside = try LaunchPlan.mountPlan(spec: spec, layers: &layers, stdinIsTerminal: false, userNamespace: false)
    return (layers.stage, inside)
  }

  @Test func standardMountsComeFirstInOrder() throws {
    let ops = try plan()
    #expect(ops.first?.what == "proc on /proc")
    // Right after /proc: its host-facing parts read-only or masked, each optional.
    let procHardening = ops.dropFirst().prefix { $0.target.hasPrefix("/proc/") }
    #expect(procHardening.map(\.target).contains("/proc/sys"))
    #expect(procHardening.allSatisfy { $0.optional && $0.flags & UInt(MS_RDONLY) != 0 })
    #expect(ops[procHardening.count + 1].what == "tmpfs on /dev")
    #expect(ops.last?.what == "tmpfs on /tmp")
    let bound = ops.filter { $0.kind == Int32(BH_OP_BIND.rawValue) && $0.target.hasPrefix("/dev/") }.map(\.target)
    #expect(bound == LaunchPlan.devices.map { "/dev/\($0)" })
    #expect(!ops.contains { $0.target == "/dev/pts" })
  }

  @Test func aTerminalAddsDevpts() throws {
    let ops = try plan(terminal: true)
    #expect(ops.contains { $0.kind == Int32(BH_OP_DEVPTS.rawValue) && $0.target == "/dev/pts" })
    #expect(ops.contains { $0.kind == Int32(BH_OP_SYMLINK.rawValue) && $0.data == "ptmx" && $0.source == "pts/ptmx" })
  }

  @Test func mountPointsUnderBulkheadTmpfsAreCreatedOthersAreNot() throws {
    let ops = try plan([
      .tmpfs(target: "/tmp/a/b"), .tmpfs(target: "/scratch"),
      .bind(source: "/etc", target: "/scratch/x/y", readOnly: true),
    ])
    let made = ops.filter { $0.kind == Int32(BH_OP_MKPATH.rawValue) }
    // /tmp/a/b in /tmp; /scratch in the read-only rootfs: not made; /scratch/x/y in the --tmpfs.
    #expect(made.map { "\($0.source ?? "") \($0.target)" } == ["/tmp /tmp/a/b", "/scratch /scratch/x/y"])
  }

  @Test func targetsUnderProcOrDevAreRefused() {
    for target in ["/proc/sys/x", "/dev/shm", "/dev", "/proc"] {
      #expect {
        try plan([.bind(source: "/etc", target: target, readOnly: true)])
      } throws: { error in
        (error as? BulkheadError)?.code == .unsupported && (error as? BulkheadError)?.value == target
      }
    }
  }

  @Test func theHostViewBindsSystemDirectoriesReadOnlyAndCopiesOnlyTheListedEtcFiles() throws {
    let (stage, inside) = try hostViewPlan()
    #expect(stage.first?.kind == Int32(BH_OP_TMPFS.rawValue))
    let binds = inside.filter { $0.kind == Int32(BH_OP_BIND.rawValue) && $0.source == $0.target }
    #expect(binds.contains { $0.target == "/usr" && $0.flags & UInt(MS_RDONLY) != 0 })
    let viewBinds = binds.filter { (HostView.systemDirectories + HostView.etcDirectories).contains($0.target) }
    #expect(!viewBinds.isEmpty && viewBinds.allSatisfy { $0.flags & UInt(MS_RDONLY) != 0 })
    let copies = inside.filter { $0.kind == Int32(BH_OP_COPY.rawValue) }.compactMap(\.source)
    #expect(copies.contains("/etc/passwd"))
    #expect(copies.allSatisfy { HostView.etcFiles.contains($0) })
    let everything = (stage + inside).flatMap { [$0.source, $0.target] }.compactMap { $0 }
    for secret in ["/etc/shadow", "/etc/gshadow", "/root", "/home", "/run", "/var", "/etc/ssl/private"] {
      #expect(!everything.contains(secret))
    }
    // A merged /usr: /bin is the host's symlink, recreated as one.
    var st = stat()
    if lstat("/bin", &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
      #expect(inside.contains { $0.kind == Int32(BH_OP_SYMLINK.rawValue) && $0.target == "/" && $0.data == "bin" })
    }
    #expect(inside.contains { $0.kind == Int32(BH_OP_MKPATH.rawValue) && $0.target == "/proc" })
  }

  @Test func withAnOverlayTheHostDirectoriesAreOverlaysAndMountPointsMayBeAnywhereOutsideThem() throws {
    let (stage, inside) = try hostViewPlan([.tmpfs(target: "/new/place")], overlay: RootOverlay())
    let usr = try #require(inside.first { $0.kind == Int32(BH_OP_OVERLAY.rawValue) && $0.target == "/usr" })
    #expect(usr.data?.hasPrefix("lowerdir=/usr,upperdir=") == true)
    #expect(stage.contains { $0.kind == Int32(BH_OP_MKDIR.rawValue) && $0.data == "u0" })
    #expect(
      inside.contains { $0.kind == Int32(BH_OP_MKPATH.rawValue) && $0.target == "/new/place" && $0.source == "/" })
  }

  @Test func aFileBindGetsAFileMountPointAndReadOnlyFlag() throws {
    let ops = try plan([.bind(source: "/etc/hostname", target: "/tmp/hostname", readOnly: true)])
    #expect(ops.contains { $0.kind == Int32(BH_OP_MKPATH.rawValue) && $0.target == "/tmp/hostname" && $0.flags == 1 })
    let bind = try #require(ops.last)
    #expect(bind.kind == Int32(BH_OP_BIND.rawValue) && bind.source == "/etc/hostname")
    #expect(bind.flags & UInt(MS_RDONLY) != 0)
  }

  @Test func aMissingBindSourceIsRefusedBeforeAnyClone() {
    #expect {
      try plan([.bind(source: "/nonexistent-bulkhead-source", target: "/data", readOnly: false)])
    } throws: { error in
      let e = error as? BulkheadError
      return e?.step == "--bind source" && e?.errno == 2
    }
  }

  @Test func theRootfsMustExistAndNotBeTheHostRoot() {
    #expect(throws: BulkheadError.self) { try LaunchPlan.resolveRootfs("/nonexistent-rootfs") }
    #expect(throws: BulkheadError.self) { try LaunchPlan.resolveRootfs("/") }
    #expect(throws: BulkheadError.self) { try LaunchPlan.resolveRootfs("/etc/passwd") }
  }

  @Test func childErrorsMapToTheDocumentedCodes() throws {
    let plan = try LaunchPlan(spec: Spec(level: .process, command: ["nosuch"]))
    func map(_ step: bh_step, _ err: Int32) -> BulkheadError {
      Launcher.childError(bh_child_error(step: Int32(step.rawValue), err: err, index: 0), plan: plan)
    }
    #expect(map(BH_STEP_EXEC, 2).code == .notFound)
    #expect(map(BH_STEP_EXEC, 13).code == .notExecutable)
    #expect(map(BH_STEP_EXEC, 8).code == .notExecutable)
    let pivot = map(BH_STEP_PIVOT_ROOT, 22)
    #expect(pivot.code == .setupFailed && pivot.step == "pivot_root" && pivot.errno == 22)
  }

  @Test func cloneRefusalWithAUserNamespaceExplainsHowToEnableIt() {
    let error = Launcher.cloneError(1, namespaces: [.user, .pid])
    #expect(error.code == .unsupported)
    #expect(error.hint?.contains("user namespaces") == true)
  }
}
