#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The one error type of the library. It names what failed (a spec field or a
/// setup step), carries errno when a system call failed, and a hint for the user.
/// The CLI maps `code` to an exit status once (see `ExitStatus`).
public struct BulkheadError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Code: String, Sendable, Codable {
    /// The request itself is wrong (a flag, a spec field): exit 2.
    case invalidSpec
    /// Bulkhead could not prepare or start the workload: exit 125.
    case setupFailed
    /// This machine or privilege level cannot do what was asked: exit 125.
    case unsupported
    /// The command was not found (inside the rootfs): exit 127.
    case notFound
    /// The command exists but cannot be executed: exit 126.
    case notExecutable
  }

  public var code: Code
  /// The spec field (`--bind`) or setup step (`pivot_root`) that failed.
  public var step: String
  /// The value or path involved, if any.
  public var value: String?
  public var reason: String
  public var errno: Int32?
  public var hint: String?

  public init(
    code: Code, step: String, value: String? = nil, reason: String, errno: Int32? = nil,
    hint: String? = nil
  ) {
    self.code = code
    self.step = step
    self.value = value
    self.reason = reason
    self.errno = errno
    self.hint = hint
  }

  public static func invalidSpec(field: String, value: String?, reason: String, hint: String? = nil)
    -> BulkheadError
  {
    BulkheadError(code: .invalidSpec, step: field, value: value, reason: reason, hint: hint)
  }

  public static func setupFailed(
    step: String, value: String? = nil, errno: Int32, reason: String? = nil, hint: String? = nil
  ) -> BulkheadError {
    BulkheadError(
      code: .setupFailed, step: step, value: value, reason: reason ?? Self.describe(errno: errno),
      errno: errno, hint: hint)
  }

  /// "No such file or directory" for ENOENT.
  public static func describe(errno: Int32) -> String {
    guard let text = strerror(errno) else { return "errno \(errno)" }
    return String(cString: text)
  }

  /// One line: `pivot_root: Invalid argument (errno 22, /path); hint: ...`. Control
  /// characters from user input (a newline in a profile's name) are escaped, so that
  /// the message stays one line whatever it quotes.
  public var description: String {
    var line = "\(step): \(reason)"
    var details: [String] = []
    if let errno { details.append("errno \(errno)") }
    if let value { details.append(value.isEmpty ? "''" : value) }
    if !details.isEmpty { line += " (\(details.joined(separator: ", ")))" }
    if let hint { line += "; \(hint)" }
    return Self.oneLine(line)
  }

  /// `text` with newlines, tabs and other control characters written as escapes.
  public static func oneLine(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7f {
          out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out
  }
}
