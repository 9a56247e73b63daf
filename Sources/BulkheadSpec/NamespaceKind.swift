/// A Linux namespace kind, named as in `/proc/PID/ns/`.
public enum NamespaceKind: String, Sendable, Codable, CaseIterable, Comparable {
  case pid
  case mnt
  case uts
  case ipc
  case net
  case cgroup
  case user
  case time

  /// The kinds a container unshares by default. `user` is added for `--userns`
  /// and whenever Bulkhead runs unprivileged; `time` is left shared.
  public static let containerDefault: Set<NamespaceKind> = [.pid, .mnt, .uts, .ipc, .net, .cgroup]

  /// Parses a kind as users write it: `net` or `network`, `mnt` or `mount`, any case.
  public init?(userText: String) {
    switch userText.lowercased() {
    case "pid": self = .pid
    case "mnt", "mount", "ns": self = .mnt
    case "uts", "hostname": self = .uts
    case "ipc": self = .ipc
    case "net", "network": self = .net
    case "cgroup": self = .cgroup
    case "user", "userns": self = .user
    case "time": self = .time
    default: return nil
    }
  }

  public static func < (lhs: Self, rhs: Self) -> Bool {
    allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
  }
}
