/// One condition on a system call argument, as in the OCI `args` entries.
///
/// The kernel hands every argument to the filter as 64 bits; libseccomp compares
/// the high and low halves in turn. `.maskedEqual` tests `(argument & value) ==
/// valueTwo`: the mask is `value`, as runc and crun pass it to libseccomp.
public struct SeccompArgument: Sendable, Equatable, Codable {
  /// A comparison operator, named as in seccomp.h (`SCMP_CMP_*`).
  public enum Operator: String, Sendable, Equatable, Codable, CaseIterable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equal = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"

    /// `enum scmp_compare` in seccomp.h.
    var libseccompValue: UInt32 {
      switch self {
      case .notEqual: 1
      case .lessThan: 2
      case .lessOrEqual: 3
      case .equal: 4
      case .greaterOrEqual: 5
      case .greaterThan: 6
      case .maskedEqual: 7
      }
    }
  }

  /// System calls take at most six arguments.
  public static let indices = 0...5

  /// The argument, 0...5.
  public var index: Int
  public var value: UInt64
  /// The expected value of `.maskedEqual`; ignored by the other operators.
  public var valueTwo: UInt64
  public var op: Operator

  public init(index: Int, value: UInt64, valueTwo: UInt64 = 0, op: Operator) {
    self.index = index
    self.value = value
    self.valueTwo = valueTwo
    self.op = op
  }

  /// True when argument `index`, seen as 32 bits, equals `value`. Use it where the
  /// kernel reads the argument as an `int` or `unsigned int` (an ioctl request):
  /// a comparison of all 64 bits is bypassed by setting a high bit the kernel ignores.
  public static func low32(_ index: Int, equals value: UInt32) -> SeccompArgument {
    SeccompArgument(index: index, value: 0xffff_ffff, valueTwo: UInt64(value), op: .maskedEqual)
  }

  /// True when none of the bits of `mask` is set in argument `index`.
  public static func noBits(_ mask: UInt64, in index: Int) -> SeccompArgument {
    SeccompArgument(index: index, value: mask, valueTwo: 0, op: .maskedEqual)
  }

  /// True for every value of argument `index`: a rule's "otherwise".
  ///
  /// libseccomp lets an unconditional rule for a system call absorb every
  /// conditional rule for it, so "EPERM for these values, ALLOW for the rest"
  /// cannot be an ALLOW without conditions. It orders the tests of one argument
  /// by operator, equality tests (`EQ`, `MASKED_EQ`, `NE`) before `LT`/`LE`
  /// before `GE`/`GT` (`_db_chain_lt` in src/db.c), whatever the order the rules
  /// were added in; so `value >= 0`, always true, is tested last and acts as the
  /// "otherwise" of the equality tests. The compiler tests check that in the BPF.
  public static func always(_ index: Int) -> SeccompArgument {
    SeccompArgument(index: index, value: 0, op: .greaterOrEqual)
  }
}
