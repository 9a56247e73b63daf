#if canImport(Glibc)
  import Glibc
#endif

extension Inspection {
  /// Paths whose identity the probe reports, so that a report read beside the host's
  /// says which of the host's own files are in view: system directories (what the
  /// host view binds), its secrets and homes (what it must not), and scratch space.
  public static let hostPathProbes = [
    "/usr", "/bin", "/lib", "/etc", "/etc/passwd", "/etc/shadow", "/home", "/root", "/run", "/var", "/tmp", "/mnt",
    "/media",
  ]

  /// `path` -> "DEV:INO ro|rw" (stat(2) follows symlinks; "rw" when access(2) grants
  /// W_OK, so a read-only mount and a denied write both read "ro"), or "absent".
  /// The same device and inode as the host's means the host's own file.
  public static func hostPaths() -> String {
    let entries = hostPathProbes.map { path -> String in
      var st = stat()
      guard stat(path, &st) == 0 else { return jsonString(path) + ":\"absent\"" }
      let mode = access(path, W_OK) == 0 ? "rw" : "ro"
      return jsonString(path) + ":" + jsonString("\(st.st_dev):\(st.st_ino) \(mode)")
    }
    return "{" + entries.joined(separator: ",") + "}"
  }
}
