/// A mount added to the container's root filesystem, applied in order after the
/// standard ones (`/proc`, `/dev`, `/tmp`).
public enum MountSpec: Sendable, Codable, Equatable {
  /// A bind mount of a host path (`source`) at `target` inside the rootfs.
  case bind(source: String, target: String, readOnly: Bool)
  /// An empty tmpfs at `target`.
  case tmpfs(target: String)
  /// A copy-on-write view of a host tree (`--bind-overlay`): overlayfs with `source`
  /// as its read-only lower layer and its upper layer on Bulkhead's own tmpfs, so
  /// writes at `target` never reach `source` and vanish at exit.
  case overlay(source: String, target: String)

  /// The absolute path inside the container.
  public var target: String {
    switch self {
    case .bind(_, let target, _), .tmpfs(let target), .overlay(_, let target): target
    }
  }

  /// Parses `SRC:DST[:ro|:rw]` as written after `--bind`.
  public static func parseBind(_ text: String) throws(BulkheadError) -> MountSpec {
    var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    var readOnly = false
    if parts.count == 3 {
      switch parts[2] {
      case "ro": readOnly = true
      case "rw": readOnly = false
      default:
        throw .invalidSpec(
          field: "--bind", value: text,
          reason: "the third part must be 'ro' or 'rw'", hint: "write SRC:DST or SRC:DST:ro")
      }
      parts.removeLast()
    }
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
      throw .invalidSpec(
        field: "--bind", value: text, reason: "expected SRC:DST[:ro]",
        hint: "for example --bind /srv/data:/data:ro")
    }
    return .bind(source: parts[0], target: parts[1], readOnly: readOnly)
  }

  /// Parses `SRC:DST` as written after `--bind-overlay`.
  public static func parseOverlay(_ text: String) throws(BulkheadError) -> MountSpec {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
      throw .invalidSpec(
        field: "--bind-overlay", value: text, reason: "expected SRC:DST",
        hint: "for example --bind-overlay /src/project:/work")
    }
    return .overlay(source: parts[0], target: parts[1])
  }

  /// The flag that asks for this kind of mount, for messages.
  public var flag: String {
    switch self {
    case .bind: "--bind"
    case .tmpfs: "--tmpfs"
    case .overlay: "--bind-overlay"
    }
  }
}
