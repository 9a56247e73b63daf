import CWorkloads

#if canImport(Glibc)
  import Glibc
#endif

/// Privileged operations attempted for real from inside, each in a forked child,
/// with arguments that keep a permitted attempt harmless. The verdicts say what the
/// isolation level and its confinement really allowed, not what they claim.
public enum ActiveChecks {
  /// One check's result.
  public struct Result: Sendable, Equatable {
    public var check: String
    /// "allowed", "denied", "unavailable" (ENOSYS), "killed" (by a signal, e.g. seccomp)
    /// or "skipped" (nothing to try it on).
    public var verdict: String
    public var errno: Int32?
    public var signal: Int32?
    public var note: String
    /// What an allowed attempt reached: "net:INODE", "root:DEV:INO" or "dev:MAJ:MIN".
    public var reach: String? = nil

    var json: String {
      var fields = ["\"check\":\(jsonString(check))", "\"verdict\":\(jsonString(verdict))"]
      if let errno { fields.append("\"errno\":\(errno),\"error\":\(jsonString(errnoName(errno)))") }
      if let signal { fields.append("\"signal\":\(signal)") }
      fields.append("\"note\":\(jsonString(note))")
      if let reach { fields.append("\"reach\":\(jsonString(reach))") }
      return "{" + fields.joined(separator: ",") + "}"
    }
  }

  /// The checks, in report order, with what the operation is.
  public static let all: [(name: String, what: String)] = [
    ("mount", "mount a filesystem"),
    ("unshare-user", "create a user namespace"),
    ("unshare-net", "create a network namespace"),
    ("setns-host", "join PID 1's mount namespace"),
    ("ptrace", "ptrace another visible process"),
    ("kill", "signal a process it did not start"),
    ("reboot", "reboot (with a wrong magic number)"),
    ("keyctl", "use the kernel keyring"),
    ("bpf", "load BPF"),
    ("perf_event_open", "open a perf event"),
    ("init_module", "load a kernel module (an empty one)"),
    ("write-proc-sys", "open /proc/sys for writing"),
    ("proc-1-root", "open /proc/1/root"),
    ("raw-socket", "open a raw socket"),
    ("mknod-block", "create a block device node and open it"),
    ("chroot-escape", "climb out of a chroot"),
    ("tiocsti", "push input into its terminal (TIOCSTI)"),
  ]

  public static func runAll() -> [Result] { all.map { run($0.name, what: $0.what) } }

  public static func run(_ name: String, what: String) -> Result {
    let r = bhw_check(name)
    if r.killed != 0 {
      return Result(check: name, verdict: "killed", signal: r.killed, note: "\(what): the attempt was killed")
    }
    if r.skipped != 0 {
      return Result(check: name, verdict: "skipped", note: "\(what): no other process or namespace in view")
    }
    if r.value >= 0 {
      var result = Result(check: name, verdict: "allowed", note: what)
      switch UInt8(truncatingIfNeeded: r.reach_kind) {
      case UInt8(ascii: "n"):
        result.reach = "net:\(r.reach.0)"
        result.note = "\(what): it reaches network namespace \(r.reach.0)"
      case UInt8(ascii: "r"):
        result.reach = "root:\(r.reach.0):\(r.reach.1)"
        var own = stat()
        let isOwn = stat("/", &own) == 0 && Int(own.st_dev) == r.reach.0 && Int(own.st_ino) == r.reach.1
        result.note =
          "\(what): " + (isOwn ? "PID 1's root is its own root" : "PID 1's root is another root than its own")
      case UInt8(ascii: "d"):
        result.reach = "dev:\(r.reach.0):\(r.reach.1)"
        result.note = "\(what): opened block device \(r.reach.0):\(r.reach.1)"
      default:
        if name == "chroot-escape" { result.note = "\(what): escaped back to its own root, with nothing above it" }
      }
      return result
    }
    let err = Int32(-r.value)
    if r.stage == 1 && (err == EACCES || err == EPERM) {
      return Result(
        check: name, verdict: "denied", errno: err,
        note: "\(what): the node was created but could not be opened (nodev mount or devices cgroup)")
    }
    if r.stage == 1 {
      return Result(
        check: name, verdict: "allowed", errno: err,
        note: "\(what): the node was created; opening it failed with \(errnoName(err)) (no such device)")
    }
    switch err {
    case EPERM, EACCES, EROFS:
      return Result(check: name, verdict: "denied", errno: err, note: what)
    case ENOSYS:
      return Result(check: name, verdict: "unavailable", errno: err, note: what)
    case ENOTTY where name == "tiocsti":
      return Result(check: name, verdict: "skipped", errno: err, note: "\(what): stdin is not a terminal")
    case EINVAL where name.hasPrefix("unshare"):
      // unshare(CLONE_NEWUSER) refuses a multi-threaded caller: a thread-level host.
      return Result(check: name, verdict: "denied", errno: err, note: "\(what): refused (EINVAL)")
    default:
      // The permission check passed; the harmless argument stopped the call.
      return Result(check: name, verdict: "allowed", errno: err, note: "\(what): permitted, stopped by its argument")
    }
  }
}
