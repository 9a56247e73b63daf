import BulkheadSpec
import CBulkhead
import Testing

@testable import BulkheadCore

@Suite("The mount plan handed to the child path")
struct LaunchPlanTests {
  typealias Op = LaunchPlan.Op

  func plan(_ mounts: [MountSpec] = [], terminal: Bool = false) throws -> [Op] {
    let spec = Spec(level: .container, command: ["/bin/true"], rootfs: "/r", mounts: mounts)
    return try LaunchPlan.mountPlan(spec: spec, rootfs: "/r", stdinIsTerminal: terminal)
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
    let ops = try plan([.tmpfs(target: "/tmp/a/b"), .tmpfs(target: "/scratch")])
    let made = ops.filter { $0.kind == Int32(BH_OP_MKDIR.rawValue) && $0.target.hasPrefix("/tmp") }
    #expect(made.map { "\($0.target)/\($0.data ?? "")" } == ["/tmp/a", "/tmp/a/b"])
    #expect(!ops.contains { $0.kind == Int32(BH_OP_MKDIR.rawValue) && $0.data == "scratch" })
  }

  @Test func aFileBindGetsAFileMountPointAndReadOnlyFlag() throws {
    let ops = try plan([.bind(source: "/etc/hostname", target: "/tmp/hostname", readOnly: true)])
    #expect(ops.contains { $0.kind == Int32(BH_OP_MKFILE.rawValue) && $0.target == "/tmp" && $0.data == "hostname" })
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
