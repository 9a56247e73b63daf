import BulkheadSpec
import Testing

@testable import BulkheadSeccomp

/// Docker's `includes`/`excludes` and `archMap`, on small profiles, against
/// moby's rules: includes need every cap, excludes any one.
@Suite("Docker conditions")
struct DockerConditionTests {
  static let profile = #"""
    {
      "defaultAction": "SCMP_ACT_ERRNO",
      "archMap": [
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}
      ],
      "syscalls": [
        {"names": ["both_caps"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_A", "CAP_B"]}},
        {"names": ["no_cap_a_or_b"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_A", "CAP_B"]}},
        {"names": ["on_arm64"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64", "arm"]}},
        {"names": ["not_on_amd64"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
        {"names": ["from_5_10"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}},
        {"names": ["before_5_10"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
        {"name": "mixed", "action": "SCMP_ACT_ALLOW",
         "includes": {"caps": ["CAP_A"], "arches": ["amd64"], "minKernel": "4.0"}, "excludes": {"caps": ["CAP_C"]}}
      ]
    }
    """#

  func names(_ capabilities: Set<String>, _ architecture: String = "amd64", _ kernel: (Int, Int) = (6, 1)) throws
    -> Set<String>
  {
    let profile = try SeccompProfiles.parse(
      Array(Self.profile.utf8), capabilities: capabilities, architecture: architecture, kernel: kernel)
    return Set(profile.rules.flatMap(\.names))
  }

  @Test func includesNeedEveryCapabilityAndExcludesAnyOne() throws {
    #expect(try names([]) == ["no_cap_a_or_b", "from_5_10"])
    #expect(try names(["CAP_A"]) == ["from_5_10", "mixed"])
    #expect(try names(["CAP_B"]) == ["from_5_10"])
    #expect(try names(["CAP_A", "CAP_B"]) == ["both_caps", "from_5_10", "mixed"])
    #expect(try names(["CAP_A", "CAP_C"]) == ["from_5_10"])
  }

  @Test func capabilityNamesAreNormalized() throws {
    #expect(try names(["a", "cap_b"]) == ["both_caps", "from_5_10", "mixed"])
  }

  @Test func architecturesAreMatchedInAnySpelling() throws {
    #expect(try names([], "aarch64").contains("on_arm64"))
    #expect(try names([], "arm64").contains("not_on_amd64"))
    #expect(try !names([], "x86_64").contains("not_on_amd64"))
    #expect(try !names([], "x86_64").contains("on_arm64"))
  }

  @Test func minKernelComparesMajorThenMinor() throws {
    #expect(try names([], "amd64", (5, 10)).contains("from_5_10"))
    #expect(try !names([], "amd64", (5, 9)).contains("from_5_10"))
    #expect(try names([], "amd64", (5, 9)).contains("before_5_10"))
    #expect(try !names([], "amd64", (6, 0)).contains("before_5_10"))
    #expect(try names([], "amd64", (4, 19)).contains("before_5_10"))
    #expect(try !names(["CAP_A"], "amd64", (3, 19)).contains("mixed"))
  }

  @Test func archMapGivesTheRunningArchitectureAndItsSubArchitectures() throws {
    func architectures(_ running: String) throws -> [String] {
      try SeccompProfiles.parse(Array(Self.profile.utf8), capabilities: [], architecture: running, kernel: (6, 1))
        .architectures
    }
    #expect(try architectures("amd64") == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    #expect(try architectures("aarch64") == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    #expect(try architectures("riscv64") == [])  // no entry: the native architecture only
  }
}
