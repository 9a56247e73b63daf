import CWorkloads

#if canImport(Glibc)
  import Glibc
#endif

/// `try-syscall NAME|NUMBER [ARGS]`: one real attempt, reported as a verdict.
public enum TrySyscall {
  public struct Result: Sendable, Equatable {
    public var syscall: String
    /// "allowed", "denied" (EPERM/EACCES) or "unavailable" (ENOSYS).
    public var verdict: String
    public var errno: Int32?
    public var note: String

    public var allowed: Bool { verdict == "allowed" }

    /// One JSON line.
    public var line: String {
      var fields = ["\"syscall\":\(jsonString(syscall))", "\"verdict\":\(jsonString(verdict))"]
      if let errno { fields.append("\"errno\":\(errno),\"error\":\(jsonString(errnoName(errno)))") }
      fields.append("\"note\":\(jsonString(note))")
      return "{" + fields.joined(separator: ",") + "}"
    }
  }

  /// The names `try-syscall` knows; any other argument must be a syscall number.
  public static let names = [
    "getpid", "mount", "umount", "unshare", "reboot", "kexec_load", "init_module", "keyctl", "bpf",
    "perf_event_open", "ptrace", "clone3", "chroot", "setns", "mknod",
  ]

  public static func attempt(_ arguments: [String]) -> Result {
    guard let name = arguments.first else {
      return Result(syscall: "", verdict: "invalid", errno: nil, note: "usage: try-syscall NAME|NUMBER [ARGS]")
    }
    let numbers = arguments.dropFirst().map { Int($0) ?? 0 }
    if let number = Int(name) {
      var a = numbers + Array(repeating: 0, count: 6)
      a = Array(a.prefix(6))
      let r = bhw_syscall6(number, a[0], a[1], a[2], a[3], a[4], a[5])
      return classify(name: name, result: r, allowedNote: "returned \(r)", strict: true)
    }
    var known: Int32 = 0
    var note: UnsafePointer<CChar>? = nil
    let r = bhw_try_named(name, numbers.first ?? 0, &known, &note)
    guard known != 0 else {
      return Result(
        syscall: name, verdict: "invalid", errno: nil,
        note: "unknown name; use a syscall number or one of \(names.joined(separator: ", "))")
    }
    return classify(name: name, result: r, allowedNote: note.map { String(cString: $0) } ?? "", strict: false)
  }

  /// EPERM/EACCES: denied; ENOSYS: unavailable; any other result passed the check.
  static func classify(name: String, result: Int, allowedNote: String, strict: Bool) -> Result {
    if result >= 0 { return Result(syscall: name, verdict: "allowed", errno: nil, note: allowedNote) }
    let err = Int32(-result)
    switch err {
    case EPERM, EACCES:
      return Result(
        syscall: name, verdict: "denied", errno: err, note: "refused by the kernel's permission check or a filter")
    case ENOSYS:
      return Result(
        syscall: name, verdict: "unavailable", errno: err, note: "not implemented here, or filtered as unknown")
    default:
      return Result(
        syscall: name, verdict: strict ? "failed" : "allowed", errno: err,
        note: strict ? "failed with this errno" : allowedNote)
    }
  }
}

/// "EPERM" for 1.
public func errnoName(_ err: Int32) -> String {
  let names: [Int32: String] = [
    EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", E2BIG: "E2BIG",
    ENOEXEC: "ENOEXEC", EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
    EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", ENODEV: "ENODEV",
    ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENFILE: "ENFILE", EMFILE: "EMFILE",
    ENOTTY: "ENOTTY", ENOSPC: "ENOSPC", EROFS: "EROFS", ENOSYS: "ENOSYS", EOPNOTSUPP: "EOPNOTSUPP",
  ]
  return names[err] ?? "E\(err)"
}

/// A JSON string literal.
public func jsonString(_ s: String) -> String {
  var out = "\""
  for scalar in s.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\t": out += "\\t"
    case "\r": out += "\\r"
    default:
      if scalar.value < 0x20 {
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
  }
  return out + "\""
}
