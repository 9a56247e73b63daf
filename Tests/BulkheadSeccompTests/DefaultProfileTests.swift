import BulkheadSpec
import Testing

@testable import BulkheadSeccomp

@Suite("The built-in default profile")
struct DefaultProfileTests {
  let profile = SeccompProfiles.builtinDefault()
  let eperm = SeccompAction.errno(1)
  let enosys = SeccompAction.errno(38)

  @Test func theDefaultActionIsENOSYSAndOnlyTheNativeArchitectureIsCovered() {
    #expect(profile.defaultAction == enosys)
    #expect(profile.architectures.isEmpty)
    #expect(profile.flags.isEmpty)
  }

  /// The rule table, in the profile value.
  @Test(arguments: [
    ("read", SeccompAction.allow), ("write", .allow), ("openat", .allow), ("mmap", .allow), ("futex", .allow),
    ("execve", .allow), ("epoll_wait", .allow), ("eventfd2", .allow), ("memfd_create", .allow),
    ("rt_sigaction", .allow), ("clock_gettime", .allow), ("accept4", .allow), ("pipe2", .allow),
    ("exit_group", .allow), ("getrandom", .allow), ("mknodat", .allow),
    ("mount", .errno(1)), ("umount2", .errno(1)), ("unshare", .errno(1)), ("setns", .errno(1)),
    ("reboot", .errno(1)), ("kexec_load", .errno(1)), ("kexec_file_load", .errno(1)), ("init_module", .errno(1)),
    ("finit_module", .errno(1)), ("delete_module", .errno(1)), ("keyctl", .errno(1)), ("add_key", .errno(1)),
    ("request_key", .errno(1)), ("bpf", .errno(1)), ("perf_event_open", .errno(1)), ("ptrace", .errno(1)),
    ("process_vm_readv", .errno(1)), ("process_vm_writev", .errno(1)), ("swapon", .errno(1)),
    ("swapoff", .errno(1)), ("pivot_root", .errno(1)), ("chroot", .errno(1)), ("acct", .errno(1)),
    ("settimeofday", .errno(1)), ("clock_settime", .errno(1)), ("clock_adjtime", .errno(1)),
    ("adjtimex", .errno(1)), ("syslog", .errno(1)), ("userfaultfd", .errno(1)), ("open_by_handle_at", .errno(1)),
    ("name_to_handle_at", .errno(1)), ("lookup_dcookie", .errno(1)), ("quotactl", .errno(1)), ("iopl", .errno(1)),
    ("ioperm", .errno(1)), ("vhangup", .errno(1)), ("nfsservctl", .errno(1)), ("uselib", .errno(1)),
    ("io_uring_setup", .errno(1)), ("fsopen", .errno(1)),
    ("clone3", .errno(38)),
  ])
  func eachNameGetsItsAction(_ name: String, _ action: SeccompAction) {
    #expect(profile.unconditionalAction(for: name) == action)
  }

  @Test func theConditionalCallsHaveNoUnconditionalRule() {
    for name in ["clone", "socket", "personality", "ioctl"] {
      #expect(profile.unconditionalAction(for: name) == nil, "\(name)")
      #expect(profile.rules(naming: name).count >= 2, "\(name)")
    }
  }

  @Test func everyNameLibseccompKnowsIsNamedSoOnlyNewerCallsGetTheDefault() {
    let named = Set(profile.rules.flatMap(\.names))
    let missing = LibSeccomp.nativeSyscallNames.filter { !named.contains($0) }
    #expect(missing.isEmpty, "\(missing)")
    #expect(LibSeccomp.nativeSyscallNames.count > 300)
    #expect(LibSeccomp.nativeSyscallNames.contains("read"))
  }

  @Test func theTablesDoNotContradictThemselves() {
    let allowed = BuiltinDefault.allowed.flatMap(\.names)
    let denied = BuiltinDefault.denied.flatMap(\.names)
    #expect(Set(allowed).count == allowed.count, "a name allowed twice")
    #expect(Set(denied).count == denied.count, "a name denied twice")
    #expect(Set(allowed).isDisjoint(with: denied))
    let conditional: Set<String> = ["clone", "clone3", "socket", "personality", "ioctl"]
    #expect(conditional.isDisjoint(with: allowed))
    #expect(conditional.isDisjoint(with: denied))
  }

  @Test func itCompilesWithinTheKernelsLimit() throws {
    let filter = try SeccompCompiler.compile(profile)
    #expect(filter.instructions.count > 0)
    #expect(filter.instructions.count <= SeccompFilter.maximumInstructions)
    #expect(filter.flags == 0)
    #expect(filter.notes.allSatisfy { $0.hasPrefix("skipped unknown syscall") })
  }

  @Test func theDefaultFilterIsCompiledOnceAndThenServedFromTheCache() throws {
    let first = try SeccompCompiler.defaultFilter()
    let second = try SeccompCompiler.defaultFilter()
    #expect(first == second)
    #expect(SeccompCompiler.defaultCompilations.load(ordering: .relaxed) == 1)
    #expect(first == (try SeccompCompiler.compile(SeccompProfiles.builtinDefault())))
  }
}

/// The compiled default, run on seccomp_data as the kernel would.
@Suite("The built-in default filter")
struct DefaultFilterTests {
  let machine: BPFMachine

  init() throws { machine = BPFMachine(try SeccompCompiler.defaultFilter()) }

  @Test func plainCallsAreAllowedAndDangerousOnesFailWithEPERM() {
    for name in ["read", "write", "openat", "mmap", "futex", "exit_group", "rt_sigreturn", "wait4"] {
      #expect(machine.run(name) == .action(.allow), "\(name)")
    }
    for name in ["mount", "unshare", "setns", "bpf", "ptrace", "keyctl", "reboot", "chroot", "pivot_root"] {
      #expect(machine.run(name) == .action(.errno(1)), "\(name)")
    }
    // A name the table forgot but libseccomp knows: still EPERM.
    #expect(machine.run("tuxcall") == .action(.errno(1)))
  }

  @Test func clone3AndUnknownNumbersGetENOSYS() {
    #expect(machine.run("clone3") == .action(.errno(38)))
    // Numbers beyond libseccomp's table: system calls newer than it.
    let newer = Int32(LibSeccomp.nativeSyscallNames.count + 2000)
    #expect(machine.run(newer) == .action(.errno(38)))
  }

  @Test func cloneIsAllowedOnlyWithoutNamespaceFlags() {
    let threadFlags: UInt64 = 0x3d0f00  // what glibc's pthread_create passes
    #expect(machine.run("clone", [threadFlags]) == .action(.allow))
    #expect(machine.run("clone", [17]) == .action(.allow))  // fork: SIGCHLD
    for flag: UInt64 in [0x20000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000] {
      #expect(machine.run("clone", [17 | flag]) == .action(.errno(1)), "flag \(flag)")
    }
  }

  @Test func socketsOfOrdinaryFamiliesOnly() {
    for family: UInt64 in [1, 2, 10, 16] { #expect(machine.run("socket", [family, 1, 0]) == .action(.allow)) }
    for family: UInt64 in [17, 38, 40, 44, 0x1_0000_0002] {  // PACKET, ALG, VSOCK, XDP, a high bit
      #expect(machine.run("socket", [family, 1, 0]) == .action(.errno(1)), "family \(family)")
    }
  }

  @Test func personalityAllowsDockersValuesOnly() {
    for persona: UInt64 in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
      #expect(machine.run("personality", [persona]) == .action(.allow), "\(persona)")
    }
    for persona: UInt64 in [1, 0x40000, 0x1_0000_0000, 0xffff_fffe] {  // 0x40000: ADDR_NO_RANDOMIZE
      #expect(machine.run("personality", [persona]) == .action(.errno(1)), "\(persona)")
    }
  }

  @Test func terminalInjectionIoctlsAreDeniedEvenWithHighBitsSet() {
    let tiocsti: UInt64 = 0x5412
    let tioclinux: UInt64 = 0x541c
    for request in [tiocsti, tioclinux, 0xdead_0000_0000 | tiocsti, 0xffff_ffff_0000_0000 | tioclinux] {
      #expect(machine.run("ioctl", [0, request]) == .action(.errno(1)), "\(request)")
    }
    for request: UInt64 in [0x5401, 0x5413, 0x541b, 0x541d, 0x8090_5412, 0x4004_667f, 0] {  // TCGETS, TIOCGWINSZ, ...
      #expect(machine.run("ioctl", [0, request]) == .action(.allow), "\(request)")
    }
  }

  @Test func anotherArchitectureIsKilled() {
    let i386: UInt32 = 0x4000_0003  // AUDIT_ARCH_I386
    #expect(machine.run(0, [], arch: i386) == .action(.killThread))
  }
}
