/// An OCI command's failure: one line, in runc's words where engines match them
/// ("container does not exist", "executable file not found in $PATH").
public struct OCIError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String

  public init(_ message: String) { self.message = message }

  public var description: String { message }

  /// A config.json field that cannot be applied, named by its JSON path.
  public static func field(_ path: String, _ reason: String) -> OCIError {
    OCIError("config.json: \(path): \(reason)")
  }

  public static func notExist(_ id: String) -> OCIError { OCIError("container does not exist") }
  public static let alreadyExists = OCIError("container with given ID already exists")
  public static let notRunning = OCIError("container not running")
}
