import BulkheadSpec
import Testing

@testable import BulkheadSeccomp

/// Docker's real default profile, in its Docker form and as podman resolved it
/// (OCI form), from `../shared/fixtures/seccomp/`.
@Suite(
  "Docker's default profile",
  .enabled(if: Fixtures.present, "the fixtures in ../shared/fixtures/seccomp/ are missing"))
struct FixtureTests {
  static let kernel = (6, 18)

  func docker(_ capabilities: Set<String> = Fixtures.dockerCapabilities, architecture: String = "amd64")
    throws -> SeccompProfile
  {
    try SeccompProfiles.load(
      path: Fixtures.docker, capabilities: capabilities, architecture: architecture, kernel: Self.kernel)
  }

  func oci() throws -> SeccompProfile {
    try SeccompProfiles.load(path: Fixtures.oci, capabilities: [], architecture: "amd64", kernel: Self.kernel)
  }

  @Test func theDockerFormResolvesForDockersCapabilitiesOnAmd64() throws {
    let profile = try docker()
    #expect(profile.defaultAction == .errno(1))
    #expect(profile.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    // 33 rules: the arch rules of other machines, the capability rules of capabilities
    // Docker does not grant, and SYS_ADMIN's are dropped.
    #expect(profile.rules.count == 15)
    for name in ["mount", "umount2", "reboot", "kexec_load", "bpf", "unshare", "setns", "keyctl", "perf_event_open"] {
      #expect(profile.rules(naming: name).isEmpty, "\(name)")
      #expect(profile.unconditionalAction(for: name) == .errno(1), "\(name)")
    }
    // ptrace needs kernel 4.8 (includes.minKernel); chroot needs CAP_SYS_CHROOT, which Docker grants.
    for name in ["ptrace", "process_vm_readv", "chroot", "arch_prctl", "modify_ldt", "read", "openat"] {
      #expect(profile.unconditionalAction(for: name) == .allow, "\(name)")
    }
    // clone: allowed only without namespace flags; clone3: ENOSYS so glibc falls back to clone.
    #expect(
      profile.rules(naming: "clone") == [
        SeccompRule(
          names: ["clone"], action: .allow,
          arguments: [SeccompArgument(index: 0, value: 0x7e02_0000, valueTwo: 0, op: .maskedEqual)])
      ])
    #expect(profile.unconditionalAction(for: "clone") == nil)
    #expect(profile.unconditionalAction(for: "clone3") == .errno(38))
    // Rules for other architectures are gone.
    #expect(profile.rules(naming: "set_tls").isEmpty)
    #expect(profile.rules(naming: "s390_runtime_instr").isEmpty)
  }

  @Test func capSysAdminAllowsMountAndCloneWithAnyFlags() throws {
    let profile = try docker(Fixtures.dockerCapabilities.union(["CAP_SYS_ADMIN"]))
    for name in ["mount", "umount2", "unshare", "setns", "clone", "clone3"] {
      #expect(profile.unconditionalAction(for: name) == .allow, "\(name)")
    }
    // The SYS_ADMIN-excluded rules (conditional clone, clone3 ENOSYS) are gone.
    #expect(profile.rules(naming: "clone").allSatisfy { $0.arguments.isEmpty })
    #expect(!profile.rules(naming: "clone3").contains { $0.action == .errno(38) })
    // bpf is in SYS_ADMIN's rule as well as CAP_BPF's.
    #expect(profile.unconditionalAction(for: "bpf") == .allow)
    #expect(profile.unconditionalAction(for: "reboot") == .errno(1))
  }

  @Test func anOldKernelLosesTheMinKernelRule() throws {
    let profile = try SeccompProfiles.load(
      path: Fixtures.docker, capabilities: Fixtures.dockerCapabilities, architecture: "amd64", kernel: (4, 7))
    #expect(profile.unconditionalAction(for: "ptrace") == .errno(1))
    let newer = try SeccompProfiles.load(
      path: Fixtures.docker, capabilities: Fixtures.dockerCapabilities, architecture: "x86_64", kernel: (4, 8))
    #expect(newer.unconditionalAction(for: "ptrace") == .allow)
  }

  @Test func otherArchitecturesGetTheirArchMapAndRules() throws {
    let arm64 = try docker(architecture: "aarch64")
    #expect(arm64.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    #expect(arm64.unconditionalAction(for: "set_tls") == .allow)
    #expect(arm64.rules(naming: "arch_prctl").isEmpty)
    let s390x = try docker(architecture: "s390x")
    // On s390 clone's flags are the second argument.
    #expect(s390x.rules(naming: "clone").map(\.arguments.first?.index) == [1])
    let riscv = try docker(architecture: "riscv64")
    #expect(riscv.architectures == ["SCMP_ARCH_RISCV64"])
  }

  @Test func theResolvedDockerFormEqualsTheOCIForm() throws {
    let docker = try docker()
    let oci = try oci()
    #expect(oci.rules.count == 15)
    #expect(docker.defaultAction == oci.defaultAction)
    #expect(docker.architectures == oci.architectures)
    func unconditionallyAllowed(_ profile: SeccompProfile) -> Set<String> {
      Set(profile.rules.filter { $0.action == .allow && $0.arguments.isEmpty }.flatMap(\.names))
    }
    #expect(unconditionallyAllowed(docker) == unconditionallyAllowed(oci))
    #expect(unconditionallyAllowed(docker).count > 360)
    #expect(docker.rules == oci.rules)
  }

  @Test func bothFormsCompileToTheSameFilter() throws {
    let docker = try SeccompCompiler.compile(try docker())
    let oci = try SeccompCompiler.compile(try oci())
    #expect(docker.instructions.count > 100)
    #expect(docker.instructions.count <= SeccompFilter.maximumInstructions)
    #expect(docker == oci)
    // Names newer than libseccomp 2.5.4 are skipped with a note each, once.
    #expect(!docker.notes.isEmpty)
    #expect(docker.notes.count == Set(docker.notes).count)
    #expect(docker.notes.allSatisfy { $0.hasPrefix("skipped unknown syscall '") })
    #expect(docker.flags == 0)
  }

  @Test func theCompiledDockerFilterBehavesAsDockerDocuments() throws {
    let machine = BPFMachine(try SeccompCompiler.compile(try docker()))
    #expect(machine.run("read") == .action(.allow))
    #expect(machine.run("ptrace") == .action(.allow))
    #expect(machine.run("mount") == .action(.errno(1)))
    #expect(machine.run("reboot") == .action(.errno(1)))
    #expect(machine.run("bpf") == .action(.errno(1)))
    #expect(machine.run("clone3") == .action(.errno(38)))
    let cloneNewUser: UInt64 = 0x1000_0000
    let sigchld: UInt64 = 17
    #expect(machine.run("clone", [sigchld | 0x0100_0000]) == .action(.allow))  // CLONE_CHILD_SETTID
    #expect(machine.run("clone", [sigchld | cloneNewUser]) == .action(.errno(1)))
    #expect(machine.run("socket", [40]) == .action(.errno(1)))  // AF_VSOCK
    #expect(machine.run("socket", [2]) == .action(.allow))
    #expect(machine.run("personality", [8]) == .action(.allow))
    #expect(machine.run("personality", [1]) == .action(.errno(1)))
  }
}
