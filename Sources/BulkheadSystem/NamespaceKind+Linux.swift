import BulkheadSpec

#if canImport(Glibc)
  import Glibc
#endif

extension NamespaceKind {
  /// The CLONE_NEW* flag that creates this kind (see clone(2)).
  public var cloneFlag: UInt64 {
    switch self {
    case .pid: 0x2000_0000
    case .mnt: 0x0002_0000
    case .uts: 0x0400_0000
    case .ipc: 0x0800_0000
    case .net: 0x4000_0000
    case .cgroup: 0x0200_0000
    case .user: 0x1000_0000
    case .time: 0x0000_0080
    }
  }

  /// The union of the clone flags of `kinds`.
  public static func cloneFlags(_ kinds: Set<NamespaceKind>) -> UInt64 {
    kinds.reduce(0) { $0 | $1.cloneFlag }
  }

  /// The inode number that identifies the namespace of this kind that `pid` is in,
  /// read from the `/proc/PID/ns/KIND` link ("pid:[4026531836]"); nil when unreadable
  /// (the process is gone, or the kernel lacks the kind).
  public func inode(of pid: Int32) -> UInt64? {
    Self.parseLink(readLink("/proc/\(pid)/ns/\(rawValue)"))
  }

  /// The inode of this process's own namespace of this kind.
  public var currentInode: UInt64? { Self.parseLink(readLink("/proc/self/ns/\(rawValue)")) }

  /// Parses "kind:[1234]" into 1234.
  public static func parseLink(_ text: String?) -> UInt64? {
    guard let text, let open = text.firstIndex(of: "["), let close = text.lastIndex(of: "]"),
      open < close
    else { return nil }
    return UInt64(text[text.index(after: open)..<close])
  }

  /// The inodes of every kind for `pid` (kinds the kernel lacks are left out).
  public static func inodes(of pid: Int32) -> [NamespaceKind: UInt64] {
    var out: [NamespaceKind: UInt64] = [:]
    for kind in allCases { if let id = kind.inode(of: pid) { out[kind] = id } }
    return out
  }
}

/// readlink(2) into a String; nil on failure.
public func readLink(_ path: String) -> String? {
  var buffer = [CChar](repeating: 0, count: 4096)
  let n = readlink(path, &buffer, buffer.count - 1)
  guard n >= 0 else { return nil }
  return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
