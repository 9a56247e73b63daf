import BulkheadSpec

@testable import BulkheadSeccomp

#if canImport(Glibc)
  import Glibc
#endif

/// The fixtures of `../shared/fixtures/seccomp/`, found from this file.
enum Fixtures {
  static let directory: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)  // Tests/BulkheadSeccompTests/Support.swift
    return parts.joined(separator: "/") + "/../shared/fixtures/seccomp/"
  }()

  static let docker = directory + "docker-default.json"
  static let oci = directory + "docker-default.oci.json"

  static var present: Bool { access(docker, R_OK) == 0 && access(oci, R_OK) == 0 }

  /// The 14 capabilities Docker keeps by default.
  static let dockerCapabilities: Set<String> = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
  ]
}

extension SeccompProfile {
  /// What the profile gives `name` when no argument matters: the first rule
  /// naming it without conditions, else (if no rule names it at all) the default.
  /// Nil when only conditional rules name it.
  func unconditionalAction(for name: String) -> SeccompAction? {
    let naming = rules.filter { $0.names.contains(name) }
    if naming.isEmpty { return defaultAction }
    return naming.first { $0.arguments.isEmpty }?.action
  }

  func rules(naming name: String) -> [SeccompRule] { rules.filter { $0.names.contains(name) } }
}

/// Runs a seccomp filter on a `struct seccomp_data` built from a call, as the
/// kernel would: a classic-BPF interpreter for what libseccomp emits. An opcode it
/// does not know fails the test through `Verdict.invalid`.
struct BPFMachine {
  let program: [SeccompFilter.Instruction]

  init(_ filter: SeccompFilter) { program = filter.decoded }

  enum Verdict: Equatable, CustomStringConvertible {
    case action(SeccompAction)
    case invalid(String)

    var description: String {
      switch self {
      case .action(let action): "\(action)"
      case .invalid(let why): "invalid: \(why)"
      }
    }
  }

  /// The verdict for system call `number` with `arguments` on architecture `arch`
  /// (an AUDIT_ARCH_* value; the native one by default).
  func run(_ number: Int32, _ arguments: [UInt64] = [], arch: UInt32? = nil) -> Verdict {
    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    var data = [UInt8](repeating: 0, count: 64)
    data.withUnsafeMutableBytes { raw in
      raw.storeBytes(of: number, toByteOffset: 0, as: Int32.self)
      raw.storeBytes(of: arch ?? LibSeccomp.nativeArchitectureToken, toByteOffset: 4, as: UInt32.self)
      for (i, value) in arguments.prefix(6).enumerated() {
        raw.storeBytes(of: value, toByteOffset: 16 + 8 * i, as: UInt64.self)
      }
    }
    func word(_ offset: UInt32) -> UInt32? {
      guard offset % 4 == 0, offset + 4 <= 64 else { return nil }
      return data.withUnsafeBytes { $0.load(fromByteOffset: Int(offset), as: UInt32.self) }
    }
    var a: UInt32 = 0
    var x: UInt32 = 0
    var memory = [UInt32](repeating: 0, count: 16)
    var pc = 0
    var steps = 0
    while pc < program.count {
      steps += 1
      if steps > program.count { return .invalid("a backward jump") }
      let instruction = program[pc]
      let code = instruction.code
      let k = instruction.k
      pc += 1
      switch code & 0x07 {
      case 0x00:  // BPF_LD
        switch code {
        case 0x20:  // BPF_LD | BPF_W | BPF_ABS
          guard let value = word(k) else { return .invalid("load at \(k)") }
          a = value
        case 0x00: a = k  // BPF_LD | BPF_IMM
        case 0x60:  // BPF_LD | BPF_MEM
          guard k < 16 else { return .invalid("scratch \(k)") }
          a = memory[Int(k)]
        default: return .invalid("ld opcode 0x\(String(code, radix: 16))")
        }
      case 0x01:  // BPF_LDX
        switch code {
        case 0x01: x = k  // BPF_LDX | BPF_IMM
        case 0x61:  // BPF_LDX | BPF_MEM
          guard k < 16 else { return .invalid("scratch \(k)") }
          x = memory[Int(k)]
        default: return .invalid("ldx opcode 0x\(String(code, radix: 16))")
        }
      case 0x02, 0x03:  // BPF_ST, BPF_STX
        guard k < 16 else { return .invalid("scratch \(k)") }
        memory[Int(k)] = code & 0x07 == 0x02 ? a : x
      case 0x04:  // BPF_ALU
        let operand = code & 0x08 != 0 ? x : k
        switch code & 0xf0 {
        case 0x00: a = a &+ operand
        case 0x10: a = a &- operand
        case 0x20: a = a &* operand
        case 0x40: a |= operand
        case 0x50: a &= operand
        case 0x60: a = operand < 32 ? a << operand : 0
        case 0x70: a = operand < 32 ? a >> operand : 0
        case 0x80: a = 0 &- a
        case 0xa0: a ^= operand
        default: return .invalid("alu opcode 0x\(String(code, radix: 16))")
        }
      case 0x05:  // BPF_JMP
        let operand = code & 0x08 != 0 ? x : k
        let taken: Bool
        switch code & 0xf0 {
        case 0x00:  // BPF_JA
          pc += Int(k)
          continue
        case 0x10: taken = a == operand
        case 0x20: taken = a > operand
        case 0x30: taken = a >= operand
        case 0x40: taken = a & operand != 0
        default: return .invalid("jmp opcode 0x\(String(code, radix: 16))")
        }
        pc += Int(taken ? instruction.jt : instruction.jf)
      case 0x06:  // BPF_RET
        let value = code & 0x18 == 0x10 ? a : k
        return Self.action(value).map(Verdict.action) ?? .invalid("return 0x\(String(value, radix: 16))")
      case 0x07:  // BPF_MISC
        if code & 0xf8 == 0x00 { x = a } else { a = x }
      default: return .invalid("opcode 0x\(String(code, radix: 16))")
      }
    }
    return .invalid("ran off the end")
  }

  /// A `SECCOMP_RET_*` value as an action (include/uapi/linux/seccomp.h).
  static func action(_ value: UInt32) -> SeccompAction? {
    let data = Int32(value & 0xffff)
    switch value & 0xffff_0000 {
    case 0x8000_0000: return .killProcess
    case 0x0000_0000: return .killThread
    case 0x0003_0000: return .trap
    case 0x0005_0000: return .errno(data)
    case 0x7ff0_0000: return .trace(data)
    case 0x7ffc_0000: return .log
    case 0x7fff_0000: return .allow
    default: return nil
    }
  }

  /// The verdict for a system call by name, on the native architecture.
  func run(_ name: String, _ arguments: [UInt64] = []) -> Verdict {
    guard let number = LibSeccomp.syscallNumber(name), number >= 0 else {
      return .invalid("\(name) is not a native system call")
    }
    return run(number, arguments)
  }
}

extension BulkheadError {
  /// The error's one-line reason, for `#expect(... contains ...)`.
  var line: String { description }
}
