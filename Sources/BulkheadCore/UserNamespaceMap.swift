import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

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

  /// For `--userns` as root: root inside maps to an unprivileged host range, root's
  /// /etc/subuid and /etc/subgid entry when there is one, else 100000-165535.
  public static func unprivilegedRange() -> UserNamespaceMap {
    func range(_ file: String) -> (UInt32, UInt32) {
      let text = readTextFile(file) ?? ""
      for line in text.split(separator: "\n") {
        let f = line.split(separator: ":")
        if f.count == 3, f[0] == "root", let start = UInt32(f[1]), let count = UInt32(f[2]) { return (start, count) }
      }
      return (100_000, 65_536)
    }
    let (uid, uidCount) = range("/etc/subuid")
    let (gid, gidCount) = range("/etc/subgid")
    return UserNamespaceMap(
      uidMap: "0 \(uid) \(uidCount)\n", gidMap: "0 \(gid) \(gidCount)\n", denySetgroups: false)
  }

  /// Whether uid and gid (inside) are mapped.
  public func maps(uid: UInt32, gid: UInt32) -> Bool {
    func covers(_ map: String, _ id: UInt32) -> Bool {
      map.split(separator: "\n").contains { line in
        let f = line.split(separator: " ").compactMap { UInt64($0) }
        return f.count == 3 && UInt64(id) >= f[0] && UInt64(id) < f[0] + f[2]
      }
    }
    return covers(uidMap, uid) && covers(gidMap, gid)
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
