#if canImport(Glibc)
  import Glibc
#endif
import BulkheadSpec
import BulkheadSystem

/// The uid/gid maps written for a new user namespace, by the parent, before the
/// child is released (user_namespaces(7)).
public struct UserNamespaceMap: Sendable, Equatable {
  public var uidMap: String
  public var gidMap: String
  /// "deny" is required before an unprivileged process may write gid_map.
  public var denySetgroups: Bool

  /// Maps the caller's uid and gid to root inside: what rootless mode needs.
  public static var rootless: UserNamespaceMap {
    UserNamespaceMap(uidMap: "0 \(geteuid()) 1\n", gidMap: "0 \(getegid()) 1\n", denySetgroups: true)
  }

  public func write(to pid: Int32) throws(BulkheadError) {
    if denySetgroups { try Self.write("deny", to: "/proc/\(pid)/setgroups") }
    try Self.write(uidMap, to: "/proc/\(pid)/uid_map")
    try Self.write(gidMap, to: "/proc/\(pid)/gid_map")
  }

  static func write(_ text: String, to path: String) throws(BulkheadError) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .setupFailed(step: "open \(path)", errno: errno) }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    if n != bytes.count { throw .setupFailed(step: "write \(path)", value: text, errno: errno) }
  }
}
