import BulkheadSpec
import Foundation
import Testing

@testable import BulkheadSeccomp

@Suite("Compiling profiles")
struct CompilerTests {
  @Test func unknownSyscallNamesAreSkippedWithANote() throws {
    let profile = SeccompProfile(
      defaultAction: .errno(1), rules: [SeccompRule(names: ["read", "bulkhead_frobnicate", "write"], action: .allow)])
    let filter = try SeccompCompiler.compile(profile)
    #expect(filter.notes.count == 1)
    #expect(filter.notes.first?.hasPrefix("skipped unknown syscall 'bulkhead_frobnicate' (libseccomp ") == true)
    let machine = BPFMachine(filter)
    #expect(machine.run("read") == .action(.allow))
    #expect(machine.run("write") == .action(.allow))
    #expect(machine.run("close") == .action(.errno(1)))
  }

  /// libseccomp's pseudo code decodes each action value with seccomp.h's macros,
  /// so it checks the values written out in `SeccompAction`.
  @Test(arguments: [
    (SeccompAction.allow, "ALLOW"), (.errno(38), "ERRNO(38)"), (.killProcess, "KILL_PROCESS"),
    (.killThread, "KILL"), (.trap, "TRAP"), (.log, "LOG"), (.trace(9), "TRACE(9)"),
  ])
  func actionValuesMatchSeccompH(_ action: SeccompAction, _ text: String) throws {
    let otherwise: SeccompAction = action == .errno(5) ? .allow : .errno(5)
    let profile = SeccompProfile(defaultAction: otherwise, rules: [SeccompRule(names: ["getpid"], action: action)])
    let code = try SeccompCompiler.pseudoFilterCode(profile)
    #expect(code.contains("action \(text);"), "\(code)")
    #expect(BPFMachine(try SeccompCompiler.compile(profile)).run("getpid") == .action(action))
  }

  @Test func conditionsOnDifferentArgumentsAreANDed() throws {
    let rule = SeccompRule(
      names: ["kill"], action: .allow,
      arguments: [
        SeccompArgument(index: 0, value: 5, op: .equal), SeccompArgument(index: 1, value: 9, op: .equal),
      ])
    let machine = BPFMachine(try SeccompCompiler.compile(SeccompProfile(defaultAction: .errno(1), rules: [rule])))
    #expect(machine.run("kill", [5, 9]) == .action(.allow))
    #expect(machine.run("kill", [5, 15]) == .action(.errno(1)))
    #expect(machine.run("kill", [6, 9]) == .action(.errno(1)))
  }

  @Test func conditionsOnOneArgumentAreORedAsInRunc() throws {
    let rule = SeccompRule(
      names: ["personality"], action: .allow,
      arguments: [
        SeccompArgument(index: 0, value: 0, op: .equal), SeccompArgument(index: 0, value: 8, op: .equal),
      ])
    let machine = BPFMachine(try SeccompCompiler.compile(SeccompProfile(defaultAction: .errno(1), rules: [rule])))
    #expect(machine.run("personality", [0]) == .action(.allow))
    #expect(machine.run("personality", [8]) == .action(.allow))
    #expect(machine.run("personality", [1]) == .action(.errno(1)))
  }

  @Test(arguments: SeccompArgument.Operator.allCases)
  func everyOperatorCompilesAsLibseccompMeansIt(_ op: SeccompArgument.Operator) throws {
    let rule = SeccompRule(
      names: ["dup"], action: .allow, arguments: [SeccompArgument(index: 0, value: 0xf0, valueTwo: 0x30, op: op)])
    let machine = BPFMachine(try SeccompCompiler.compile(SeccompProfile(defaultAction: .errno(1), rules: [rule])))
    for value: UInt64 in [0, 0x30, 0x3f, 0xef, 0xf0, 0xf1, 0x1_0000_0030] {
      let expected: Bool
      switch op {
      case .notEqual: expected = value != 0xf0
      case .lessThan: expected = value < 0xf0
      case .lessOrEqual: expected = value <= 0xf0
      case .equal: expected = value == 0xf0
      case .greaterOrEqual: expected = value >= 0xf0
      case .greaterThan: expected = value > 0xf0
      case .maskedEqual: expected = value & 0xf0 == 0x30
      }
      #expect(machine.run("dup", [value]) == .action(expected ? .allow : .errno(1)), "\(op) \(value)")
    }
  }

  @Test func aRuleWithTheDefaultActionIsDroppedQuietly() throws {
    let profile = SeccompProfile(
      defaultAction: .errno(38),
      rules: [SeccompRule(names: ["clone3"], action: .errno(38)), SeccompRule(names: ["read"], action: .allow)])
    let filter = try SeccompCompiler.compile(profile)
    #expect(filter.notes.isEmpty)
    #expect(BPFMachine(filter).run("clone3") == .action(.errno(38)))
  }

  @Test func theRunningArchitectureHasDockersName() {
    #if arch(x86_64)
      #expect(SeccompProfiles.runningArchitecture == "amd64")
    #elseif arch(arm64)
      #expect(SeccompProfiles.runningArchitecture == "arm64")
    #else
      #expect(SeccompProfiles.runningArchitecture != "unknown")
    #endif
  }

  #if arch(x86_64)
    @Test func extraArchitecturesAreCoveredAndOthersKilled() throws {
      let profile = SeccompProfile(
        defaultAction: .errno(1), architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        rules: [SeccompRule(names: ["getpid"], action: .allow)])
      let machine = BPFMachine(try SeccompCompiler.compile(profile))
      let i386: UInt32 = 0x4000_0003
      let arm: UInt32 = 0x4000_0028
      #expect(machine.run(20, arch: i386) == .action(.allow))  // getpid is 20 on i386
      #expect(machine.run(39, arch: i386) == .action(.errno(1)))
      #expect(machine.run(20, arch: arm) == .action(.killThread))
    }
  #endif

  @Test func flagsBecomeBits() throws {
    let profile = SeccompProfile(
      defaultAction: .allow, flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"], rules: [])
    #expect(try SeccompCompiler.compile(profile).flags == 6)
  }

  @Test func whatLibseccompCannotDoIsASetupError() {
    let cases: [SeccompProfile] = [
      SeccompProfile(defaultAction: .allow, flags: ["SECCOMP_FILTER_FLAG_NEW_LISTENER"], rules: []),
      SeccompProfile(defaultAction: .errno(5000), rules: []),
      SeccompProfile(
        defaultAction: .allow,
        rules: [SeccompRule(names: ["read"], action: .trap, arguments: [.init(index: 6, value: 0, op: .equal)])]),
      // LOONGARCH64 is a valid OCI name that libseccomp 2.5 does not know.
      SeccompProfile(defaultAction: .allow, architectures: ["SCMP_ARCH_LOONGARCH64"], rules: []),
    ]
    for profile in cases {
      do {
        _ = try SeccompCompiler.compile(profile)
        Issue.record("compiled \(profile)")
      } catch {
        #expect(error.code == .setupFailed)
        #expect(error.step == "seccomp compile")
        #expect(error.errno != nil)
      }
    }
  }

  @Test func instructionsAreSockFilterStructs() throws {
    let filter = try SeccompCompiler.compile(
      SeccompProfile(defaultAction: .errno(1), rules: [SeccompRule(names: ["read"], action: .allow)]))
    let program = filter.decoded
    // libseccomp starts by loading seccomp_data.arch (offset 4): BPF_LD | BPF_W | BPF_ABS.
    #expect(program.first == SeccompFilter.Instruction(code: 0x20, jt: 0, jf: 0, k: 4))
    // and ends with a return: BPF_RET | BPF_K.
    #expect(program.last?.code == 0x06)
    #expect(program.map(\.raw) == filter.instructions)
    filter.withProgram { base, count in
      #expect(count == filter.instructions.count)
      #expect(base.load(fromByteOffset: 4, as: UInt32.self) == 4)
    }
    SeccompFilter(instructions: []).withProgram { _, count in #expect(count == 0) }
  }
}

extension SeccompFilter.Instruction {
  init(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) {
    self.init(0)
    self.code = code
    self.jt = jt
    self.jf = jf
    self.k = k
  }
}

@Suite("Values")
struct ValueTests {
  @Test func actionsReadBackTheirDescription() {
    let actions: [SeccompAction] = [.allow, .errno(1), .errno(38), .killProcess, .killThread, .trap, .log, .trace(7)]
    for action in actions {
      #expect(SeccompAction(action.description) == action)
    }
    for text in ["", "ERRNO", "ERRNO()", "ERRNO(x)", "KILL", "allow", "NOTIFY(1)"] {
      #expect(SeccompAction(text) == nil, "\(text)")
    }
  }

  @Test func aProfileRoundTripsThroughJSON() throws {
    let profile = SeccompProfiles.builtinDefault()
    let data = try JSONEncoder().encode(profile)
    #expect(String(decoding: data, as: UTF8.self).contains(#""defaultAction":"ERRNO(38)""#))
    #expect(try JSONDecoder().decode(SeccompProfile.self, from: data) == profile)
  }
}
