/// A compiled classic-BPF seccomp filter, ready for
/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog)`.
///
/// Each element of `instructions` is one `struct sock_filter` (`{ __u16 code;
/// __u8 jt; __u8 jf; __u32 k; }`, 8 bytes) whose in-memory bytes are the struct's,
/// in the machine's byte order: the array's storage *is* the program. To load it,
/// build `struct sock_fprog { .len = instructions.count, .filter = <the array's
/// base address> }` (at most `maximumInstructions`, so `len` fits its `unsigned
/// short`); `withProgram` hands out exactly that pointer and count. The child
/// needs no_new_privs (Bulkhead sets it) or CAP_SYS_ADMIN.
public struct SeccompFilter: Sendable, Equatable {
  /// The program, one `struct sock_filter` per element (see the type's comment).
  public var instructions: [UInt64]
  /// What the compiler skipped, for the user:
  /// "skipped unknown syscall 'foo' (libseccomp 2.5.4 does not know it)".
  public var notes: [String]
  /// The `SECCOMP_FILTER_FLAG_*` bits to pass to seccomp(2).
  public var flags: UInt32

  public init(instructions: [UInt64], notes: [String] = [], flags: UInt32 = 0) {
    self.instructions = instructions
    self.notes = notes
    self.flags = flags
  }

  /// `BPF_MAXINSNS` (include/uapi/linux/bpf_common.h): the kernel refuses longer programs.
  public static let maximumInstructions = 4096

  /// Calls `body` with the address of the first `struct sock_filter` and the
  /// instruction count: the two fields of a `struct sock_fprog`.
  public func withProgram<R>(_ body: (UnsafeRawPointer, Int) throws -> R) rethrows -> R {
    try instructions.withUnsafeBytes { raw in
      // An empty array has no storage; a stand-in keeps the pointer valid.
      guard let base = raw.baseAddress else {
        return try withUnsafeBytes(of: UInt64(0)) { try body($0.baseAddress!, 0) }
      }
      return try body(base, instructions.count)
    }
  }

  /// One decoded `struct sock_filter`.
  public struct Instruction: Sendable, Equatable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    /// Reads the struct from the bytes of one element of `instructions`.
    public init(_ raw: UInt64) {
      var copy = raw
      (code, jt, jf, k) = withUnsafeBytes(of: &copy) { bytes in
        (
          bytes.loadUnaligned(fromByteOffset: 0, as: UInt16.self), bytes[2], bytes[3],
          bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        )
      }
    }

    /// The element of `instructions` holding this struct.
    public var raw: UInt64 {
      var value: UInt64 = 0
      withUnsafeMutableBytes(of: &value) { bytes in
        bytes.storeBytes(of: code, toByteOffset: 0, as: UInt16.self)
        bytes[2] = jt
        bytes[3] = jf
        bytes.storeBytes(of: k, toByteOffset: 4, as: UInt32.self)
      }
      return value
    }
  }

  /// The program decoded, for tests and diagnostics.
  public var decoded: [Instruction] { instructions.map(Instruction.init) }
}
