/// A seccomp action as the OCI runtime spec and Docker name them (`SCMP_ACT_*`).
///
/// `SCMP_ACT_NOTIFY` has no case: it needs a supervisor that answers the
/// notifications, and Bulkhead has none, so the reader refuses it.
///
/// In JSON (`Codable`) an action is one string, its `description`: "ALLOW", "ERRNO(1)".
public enum SeccompAction: Sendable, Equatable, Codable {
  /// `SCMP_ACT_ALLOW`: the system call runs.
  case allow
  /// `SCMP_ACT_ERRNO`: the call fails with this errno (0...4095) without running.
  case errno(Int32)
  /// `SCMP_ACT_KILL_PROCESS`: the whole thread group dies of SIGSYS.
  case killProcess
  /// `SCMP_ACT_KILL_THREAD` (and the older `SCMP_ACT_KILL`): only the calling thread dies.
  case killThread
  /// `SCMP_ACT_TRAP`: the thread gets SIGSYS.
  case trap
  /// `SCMP_ACT_LOG`: the call runs and the kernel logs it.
  case log
  /// `SCMP_ACT_TRACE`: a ptrace tracer is told, with this message (0...65535);
  /// without a tracer the call fails with ENOSYS.
  case trace(Int32)

  /// The errno the kernel can return: `MAX_ERRNO` in include/linux/err.h.
  static let maximumErrno: Int32 = 4095

  /// The OCI name: "SCMP_ACT_ERRNO" for `.errno(1)`.
  public var ociName: String {
    switch self {
    case .allow: "SCMP_ACT_ALLOW"
    case .errno: "SCMP_ACT_ERRNO"
    case .killProcess: "SCMP_ACT_KILL_PROCESS"
    case .killThread: "SCMP_ACT_KILL_THREAD"
    case .trap: "SCMP_ACT_TRAP"
    case .log: "SCMP_ACT_LOG"
    case .trace: "SCMP_ACT_TRACE"
    }
  }

  /// The action's value in libseccomp (and the kernel's `SECCOMP_RET_*` with its
  /// data), as the `SCMP_ACT_*` macros of seccomp.h compute it. Swift does not
  /// import function-like macros, so the values are written out here; a test
  /// checks them against the filter libseccomp generates.
  var libseccompValue: UInt32 {
    switch self {
    case .allow: 0x7fff_0000
    case .errno(let code): 0x0005_0000 | (UInt32(truncatingIfNeeded: code) & 0xffff)
    case .killProcess: 0x8000_0000
    case .killThread: 0x0000_0000
    case .trap: 0x0003_0000
    case .log: 0x7ffc_0000
    case .trace(let message): 0x7ff0_0000 | (UInt32(truncatingIfNeeded: message) & 0xffff)
    }
  }
}

extension SeccompAction: CustomStringConvertible {
  /// `ERRNO(1)`, `ALLOW`: the form libseccomp's pseudo filter code uses.
  public var description: String {
    switch self {
    case .allow: "ALLOW"
    case .errno(let code): "ERRNO(\(code))"
    case .killProcess: "KILL_PROCESS"
    case .killThread: "KILL_THREAD"
    case .trap: "TRAP"
    case .log: "LOG"
    case .trace(let message): "TRACE(\(message))"
    }
  }
}

extension SeccompAction {
  /// Reads `description`'s form back: "ALLOW", "ERRNO(38)", "TRACE(5)".
  public init?(_ text: String) {
    switch text {
    case "ALLOW": self = .allow
    case "KILL_PROCESS": self = .killProcess
    case "KILL_THREAD": self = .killThread
    case "TRAP": self = .trap
    case "LOG": self = .log
    default:
      guard text.hasSuffix(")"), let open = text.firstIndex(of: "("),
        let value = Int32(text[text.index(after: open)..<text.index(before: text.endIndex)])
      else { return nil }
      switch text[..<open] {
      case "ERRNO": self = .errno(value)
      case "TRACE": self = .trace(value)
      default: return nil
      }
    }
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let action = SeccompAction(text) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "'\(text)' is not a seccomp action like ALLOW or ERRNO(1)")
    }
    self = action
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
