/// The four isolation levels of the comparison, from the least isolated to the most.
public enum IsolationLevel: String, Sendable, Codable, CaseIterable, Comparable {
  /// An async task (a coroutine) inside a shared host process.
  case task
  /// A thread inside a shared host process.
  case thread
  /// A plain child process of the supervisor.
  case process
  /// A process in new namespaces, pivoted into its own root filesystem.
  case container

  public static func < (lhs: Self, rhs: Self) -> Bool {
    allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
  }

  /// Whether the level runs an arbitrary command (the in-process levels run built-in workloads).
  public var runsCommands: Bool { self == .process || self == .container }
}
