/// The host's own programs as a sandbox root (`--rootfs host`): a fresh tmpfs that
/// holds read-only binds of the host's system directories and copies of a short,
/// explicit list of `/etc` files. Nothing else of the host is there: no `/home`,
/// `/root`, `/run`, `/var`, `/mnt`, `/media`, no `/etc/shadow` or keys.
public struct HostView: Sendable, Codable, Equatable {
  /// Host directories bound read-only at the same path (a symlink such as a merged-/usr
  /// `/bin -> usr/bin` is recreated as the same symlink). Missing ones are skipped.
  public var directories: [String]
  /// Host files copied into the view's own `/etc` (read-only unless `--overlay`). A
  /// symlink is followed: the view gets the content. Missing ones are skipped.
  public var files: [String]

  public init(directories: [String], files: [String]) {
    self.directories = directories
    self.files = files
  }

  /// The top-level system directories: programs and their libraries.
  public static let systemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
  /// Directories of `/etc` that programs follow links into: `alternatives` (Debian's
  /// `cc -> /etc/alternatives/cc`) and the CA certificates (not `/etc/ssl/private`).
  public static let etcDirectories = ["/etc/alternatives", "/etc/ssl/certs"]
  /// What the dynamic loader, libc's name lookups, time zones, TLS and `uname`-like
  /// tools read. Never `shadow`, `gshadow`, `sudoers`, ssh host keys or `machine-id`.
  public static let etcFiles = [
    "/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/localtime", "/etc/hosts",
    "/etc/host.conf", "/etc/os-release", "/etc/ssl/openssl.cnf",
  ]
  /// Copied too when the sandbox shares the host's network namespace (DNS works there).
  public static let resolverFile = "/etc/resolv.conf"

  /// The standard view; `sharesNetwork` adds the resolver configuration.
  public static func standard(sharesNetwork: Bool) -> HostView {
    HostView(
      directories: systemDirectories + etcDirectories,
      files: etcFiles + (sharesNetwork ? [resolverFile] : []))
  }

  /// Paths the view must never expose, whatever a spec file says.
  public static let forbidden = ["/etc/shadow", "/etc/gshadow", "/etc/ssh", "/etc/ssl/private", "/root", "/home"]
}

/// An overlayfs over the whole root (`--overlay`): the workload may write anywhere,
/// and the writes go to an upper layer: a sized tmpfs that vanishes at exit, or
/// `upperDirectory` (`--overlay-dir`), where they stay for the user to look at.
public struct RootOverlay: Sendable, Codable, Equatable {
  /// nil: a tmpfs of Bulkhead's own. Else a host directory: the changes land in
  /// `DIR/upper` (at their path inside the sandbox), overlayfs works in `DIR/work`.
  public var upperDirectory: String?

  public init(upperDirectory: String? = nil) {
    self.upperDirectory = upperDirectory
  }
}
