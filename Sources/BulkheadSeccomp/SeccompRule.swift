/// One entry of a profile's `syscalls`: an action for some system calls, under
/// conditions on their arguments.
///
/// The conditions are ANDed when each names a different argument. When two name the
/// same argument the compiler adds one rule per condition instead (so they are
/// ORed), as runc does: libseccomp allows one comparison per argument in a rule.
public struct SeccompRule: Sendable, Equatable, Codable {
  public var names: [String]
  public var action: SeccompAction
  public var arguments: [SeccompArgument]

  public init(names: [String], action: SeccompAction, arguments: [SeccompArgument] = []) {
    self.names = names
    self.action = action
    self.arguments = arguments
  }
}
