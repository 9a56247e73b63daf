import BulkheadSpec
import CSeccomp
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Compiles profiles to BPF with libseccomp, in the parent: the child only loads
/// the bytes (crun and runc divide the work the same way).
public enum SeccompCompiler {
  static let step = "seccomp compile"

  /// Compiles `profile` the way runc and crun do with libseccomp:
  /// `seccomp_init(defaultAction)`; `seccomp_arch_add` for each of `architectures`
  /// (the native one is always there); per rule and name,
  /// `seccomp_syscall_resolve_name` and `seccomp_rule_add_array`; then
  /// `seccomp_export_bpf` into a memfd, read back.
  ///
  /// - A name libseccomp does not know is skipped with a note, not an error: a
  ///   profile lists system calls newer than the library, which then fall to the
  ///   default action.
  /// - A rule whose action is the default action is skipped (libseccomp refuses it
  ///   with EACCES; it would change nothing).
  /// - A rule with two conditions on one argument becomes one rule per condition,
  ///   as in runc (libseccomp allows one comparison per argument in a rule).
  /// - `SCMP_FLTATR_CTL_NNP` is off: it only matters to `seccomp_load`, and Bulkhead
  ///   sets no_new_privs in the child itself.
  /// - The system call checks stay a linear chain (libseccomp's default, as in
  ///   runc), not a binary tree (`SCMP_FLTATR_CTL_OPTIMIZE` 2): measured, the tree
  ///   is 20% longer and compiles 2-3 times slower, and since Linux 5.11 the
  ///   kernel skips the filter for calls it allows whatever the arguments (the
  ///   seccomp action cache), so the chain is walked only for the others.
  ///
  /// - Throws: `BulkheadError.setupFailed` (step "seccomp compile") with the errno
  ///   libseccomp returned and the rule (`syscalls[3]: clone`) as its value.
  public static func compile(_ profile: SeccompProfile) throws(BulkheadError) -> SeccompFilter {
    let (context, notes, flags) = try build(profile)
    defer { seccomp_release(context) }
    return SeccompFilter(instructions: try export(context, pseudoCode: false).instructions, notes: notes, flags: flags)
  }

  /// libseccomp's pseudo filter code for `profile` (`seccomp_export_pfc`): the
  /// filter as readable text, for diagnostics and tests.
  static func pseudoFilterCode(_ profile: SeccompProfile) throws(BulkheadError) -> String {
    let (context, _, _) = try build(profile)
    defer { seccomp_release(context) }
    return String(decoding: try export(context, pseudoCode: true).bytes, as: UTF8.self)
  }

  /// A libseccomp context holding `profile`'s rules; the caller releases it.
  private static func build(_ profile: SeccompProfile) throws(BulkheadError) -> (
    context: scmp_filter_ctx, notes: [String], flags: UInt32
  ) {
    let flags: UInt32
    switch profile.flagBits() {
    case .success(let bits): flags = bits
    case .failure(let error): throw .setupFailed(step: step, value: error.flag, errno: EINVAL, reason: error.reason)
    }
    try check(profile.defaultAction, at: "defaultAction")
    for (i, rule) in profile.rules.enumerated() {
      try check(rule.action, at: "syscalls[\(i)]")
      for argument in rule.arguments where !SeccompArgument.indices.contains(argument.index) {
        throw .setupFailed(
          step: step, value: "syscalls[\(i)]", errno: EINVAL,
          reason: "argument index \(argument.index) is outside 0...5")
      }
    }

    guard let context = seccomp_init(profile.defaultAction.libseccompValue) else {
      throw .setupFailed(
        step: step, value: "defaultAction", errno: EINVAL,
        reason: "seccomp_init refused \(profile.defaultAction) (\(LibSeccomp.version))")
    }
    var released = false
    defer { if !released { seccomp_release(context) } }
    var rc = seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0)
    guard rc == 0 else { throw .setupFailed(step: step, value: "SCMP_FLTATR_CTL_NNP", errno: -rc) }

    for name in profile.architectures {
      guard let token = LibSeccomp.architectureToken(ociName: name) else {
        throw .setupFailed(
          step: step, value: name, errno: EINVAL, reason: "\(LibSeccomp.version) does not know this architecture")
      }
      rc = seccomp_arch_add(context, token)
      guard rc == 0 || rc == -EEXIST else {
        throw .setupFailed(step: step, value: name, errno: -rc, reason: "seccomp_arch_add: \(describe(rc))")
      }
    }

    var notes: [String] = []
    var unknown: Set<String> = []
    for (i, rule) in profile.rules.enumerated() where rule.action != profile.defaultAction {
      let indices = rule.arguments.map(\.index)
      let groups = Set(indices).count == indices.count ? [rule.arguments] : rule.arguments.map { [$0] }
      for name in rule.names {
        guard let number = LibSeccomp.syscallNumber(name) else {
          if unknown.insert(name).inserted {
            notes.append("skipped unknown syscall '\(name)' (\(LibSeccomp.version) does not know it)")
          }
          continue
        }
        for conditions in groups {
          rc = add(context, rule.action, number, conditions)
          guard rc == 0 else {
            throw .setupFailed(
              step: step, value: "syscalls[\(i)]: \(name)", errno: -rc,
              reason: "seccomp_rule_add \(rule.action): \(describe(rc))")
          }
        }
      }
    }
    released = true
    return (context, notes, flags)
  }

  private static func check(_ action: SeccompAction, at path: String) throws(BulkheadError) {
    switch action {
    case .errno(let code) where !(0...SeccompAction.maximumErrno).contains(code):
      throw .setupFailed(step: step, value: path, errno: EINVAL, reason: "errno \(code) is outside 0...4095")
    case .trace(let message) where !(0...0xffff).contains(message):
      throw .setupFailed(
        step: step, value: path, errno: EINVAL, reason: "trace message \(message) is outside 0...65535")
    default: return
    }
  }

  private static func add(
    _ context: scmp_filter_ctx, _ action: SeccompAction, _ number: Int32, _ conditions: [SeccompArgument]
  ) -> Int32 {
    let comparisons = conditions.map { argument in
      scmp_arg_cmp(
        arg: UInt32(argument.index), op: scmp_compare(rawValue: argument.op.libseccompValue),
        datum_a: argument.value, datum_b: argument.valueTwo)
    }
    return comparisons.withUnsafeBufferPointer { buffer in
      seccomp_rule_add_array(context, action.libseccompValue, number, UInt32(buffer.count), buffer.baseAddress)
    }
  }

  /// `seccomp_export_bpf` (or `_pfc`) writes to a descriptor; a memfd keeps the
  /// bytes in memory. The BPF comes back as instructions, checked for size.
  private static func export(_ context: scmp_filter_ctx, pseudoCode: Bool) throws(BulkheadError) -> (
    instructions: [UInt64], bytes: [UInt8]
  ) {
    let fd = try memoryFile()
    defer { close(fd) }
    let function = pseudoCode ? "seccomp_export_pfc" : "seccomp_export_bpf"
    let rc = pseudoCode ? seccomp_export_pfc(context, fd) : seccomp_export_bpf(context, fd)
    guard rc == 0 else { throw .setupFailed(step: step, value: function, errno: -rc, reason: describe(rc)) }
    let end = lseek(fd, 0, SEEK_END)
    guard end >= 0 else { throw .setupFailed(step: step, value: "lseek", errno: errno) }
    let size = Int(end)
    if pseudoCode {
      var bytes = [UInt8](repeating: 0, count: size)
      try readAll(fd, into: &bytes)
      return ([], bytes)
    }
    let instructionSize = 8  // sizeof(struct sock_filter)
    guard size % instructionSize == 0 else {
      throw .setupFailed(
        step: step, value: function, errno: EIO, reason: "\(size) bytes is not a whole number of instructions")
    }
    let count = size / instructionSize
    guard count <= SeccompFilter.maximumInstructions else {
      throw .setupFailed(
        step: step, errno: E2BIG,
        reason: "the filter has \(count) instructions; the kernel accepts at most \(SeccompFilter.maximumInstructions)")
    }
    var instructions = [UInt64](repeating: 0, count: count)
    try readAll(fd, into: &instructions)
    return (instructions, [])
  }

  /// Fills `buffer` from the start of `fd`.
  private static func readAll<T: BitwiseCopyable>(_ fd: Int32, into buffer: inout [T]) throws(BulkheadError) {
    let size = buffer.count * MemoryLayout<T>.stride
    var done = 0
    while done < size {
      let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { throw .setupFailed(step: step, value: "pread", errno: n < 0 ? errno : EIO) }
      done += n
    }
  }

  /// memfd_create(2), looked up at run time: Swift's Glibc module leaves out the
  /// GNU declarations (`_GNU_SOURCE`), and `syscall(2)` is variadic. Where the
  /// symbol is missing (a static binary), an unlinked temporary file (tmpfile(3)) serves.
  private static func memoryFile() throws(BulkheadError) -> Int32 {
    typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
    let closeOnExec: UInt32 = 1  // MFD_CLOEXEC, include/uapi/linux/memfd.h
    if let symbol = dlsym(nil, "memfd_create") {
      let fd = unsafeBitCast(symbol, to: MemfdCreate.self)("bulkhead-seccomp", closeOnExec)
      guard fd >= 0 else { throw .setupFailed(step: step, value: "memfd_create", errno: errno) }
      return fd
    }
    guard let file = tmpfile() else { throw .setupFailed(step: step, value: "tmpfile", errno: errno) }
    defer { fclose(file) }
    let fd = fcntl(fileno(file), F_DUPFD_CLOEXEC, 0)
    guard fd >= 0 else { throw .setupFailed(step: step, value: "tmpfile", errno: errno) }
    return fd
  }

  /// libseccomp returns negative errno values.
  private static func describe(_ rc: Int32) -> String { BulkheadError.describe(errno: -rc) }

  // MARK: - The built-in default, compiled once

  private static let defaultCache = Mutex<SeccompFilter?>(nil)
  /// How many times `defaultFilter` compiled; tests read it.
  static let defaultCompilations = Atomic<Int>(0)

  /// The built-in `default` profile (`SeccompProfiles.builtinDefault()`), compiled
  /// once per process; later calls return the same value. Compilation holds a
  /// lock, so concurrent first calls compile once.
  public static func defaultFilter() throws(BulkheadError) -> SeccompFilter {
    try defaultCache.withLock { (cached: inout SeccompFilter?) throws(BulkheadError) -> SeccompFilter in
      if let cached { return cached }
      let filter = try compile(SeccompProfiles.builtinDefault())
      defaultCompilations.add(1, ordering: .relaxed)
      cached = filter
      return filter
    }
  }
}
