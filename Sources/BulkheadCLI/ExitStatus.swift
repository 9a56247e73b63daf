import BulkheadSpec

/// The exit codes of `bulkhead`, in one place (documented in the README).
public enum ExitStatus {
  public static let usage: Int32 = 2
  public static let setupFailed: Int32 = 125
  public static let notExecutable: Int32 = 126
  public static let notFound: Int32 = 127

  /// The code for an error that stopped bulkhead before the workload ran.
  public static func code(for error: BulkheadError) -> Int32 {
    switch error.code {
    case .invalidSpec: usage
    case .setupFailed, .unsupported: setupFailed
    case .notFound: notFound
    case .notExecutable: notExecutable
    }
  }
}
