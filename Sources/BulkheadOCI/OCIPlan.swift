import BulkheadSpec
import BulkheadSystem
import CBulkhead

#if canImport(Glibc)
  import Glibc
#endif

/// The C child configuration for an OCI config: the same `bh_child_config` and
/// `bh_op` plan types `bulkhead run` fills, filled literally from config.json.
/// Owns the memory; must outlive the child's release (the init is a fork, so after
/// that it has its own copy).
final class OCIPlan {
  let config: UnsafeMutablePointer<bh_child_config>
  private var strings: [UnsafeMutablePointer<CChar>] = []
  private var buffers: [UnsafeMutableRawPointer] = []
  let descriptions: [String]

  /// `exec`: the process of `c` joins a running container, so no rootfs, mounts,
  /// hostname or root remount (those belong to the init's setup).
  init(_ c: OCIConfig, exec: Bool = false) {
    config = .allocate(capacity: 1)
    config.initialize(to: bh_child_config())
    descriptions = c.ops.map(\.what) + c.postOps.map(\.what)
    func own(_ s: String) -> UnsafeMutablePointer<CChar> {
      let p = strdup(s)!
      strings.append(p)
      return p
    }
    func list<T>(_ items: [T]) -> UnsafeMutablePointer<T> {
      let p = UnsafeMutablePointer<T>.allocate(capacity: max(items.count, 1))
      for (i, item) in items.enumerated() { (p + i).initialize(to: item) }
      buffers.append(UnsafeMutableRawPointer(p))
      return p
    }
    func cop(_ op: OCIOp) -> bh_op {
      var o = bh_op()
      o.kind = Int32(op.kind.rawValue)
      o.source = op.source.map { UnsafePointer(own($0)) }
      o.target = UnsafePointer(own(op.target))
      o.data = op.data.map { UnsafePointer(own($0)) }
      o.flags = op.flags
      o.fstype = op.fstype.map { UnsafePointer(own($0)) }
      o.propagation = op.propagation
      o.dev = op.dev
      o.mode = op.mode
      o.uid = op.uid
      o.gid = op.gid
      return o
    }
    let argv: [UnsafeMutablePointer<CChar>?] = c.args.map { own($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = c.env.map { own($0) } + [nil]
    let path = c.env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) } ?? ""
    var cfg = bh_child_config()
    bh_child_config_init(&cfg)
    cfg.file = UnsafePointer(own(c.args[0]))
    cfg.path_search = UnsafePointer(own(path))
    cfg.argv = UnsafePointer(list(argv))
    cfg.envp = UnsafePointer(list(envp))
    cfg.rootfs = exec ? nil : UnsafePointer(own(c.rootfs))
    cfg.hostname = UnsafePointer(own(c.hostname ?? ""))
    cfg.domainname = UnsafePointer(own(c.domainname ?? ""))
    cfg.cwd = UnsafePointer(own(c.cwd))
    let ops = exec ? [] : c.ops
    let postOps = exec ? [] : c.postOps
    cfg.ops = UnsafePointer(list(ops.map(cop)))
    cfg.op_count = ops.count
    cfg.stage_op_count = 0
    cfg.post_ops = UnsafePointer(list(postOps.map(cop)))
    cfg.post_op_count = postOps.count
    cfg.rlimits = UnsafePointer(list(c.rlimits))
    cfg.rlimit_count = c.rlimits.count
    cfg.keep_fds = UnsafePointer(list([Int32]()))
    cfg.keep_fd_count = 0
    var flags = Int32(BH_CHILD_OCI_CAPS | BH_CHILD_LITERAL_ROOT | BH_CHILD_GROUP_LIST)
    // An exec'd process gets a session of its own only with a terminal (runc's rule).
    if !exec || c.terminal { flags |= Int32(BH_CHILD_SETSID) }
    if !exec {
      if c.rootReadonly { flags |= Int32(BH_CHILD_READONLY_ROOT) }
      if c.namespaces.contains(.uts), let h = c.hostname, !h.isEmpty { flags |= Int32(BH_CHILD_SET_HOSTNAME) }
      if c.namespaces.contains(.uts), let d = c.domainname, !d.isEmpty { flags |= Int32(BH_CHILD_SET_DOMAINNAME) }
    }
    if c.noNewPrivileges { flags |= Int32(BH_CHILD_NO_NEW_PRIVS) }
    if let umask = c.umask {
      flags |= Int32(BH_CHILD_SET_UMASK)
      cfg.umask = umask
    }
    cfg.uid = c.uid
    cfg.gid = c.gid
    cfg.groups = UnsafePointer(list(c.additionalGids))
    cfg.group_count = c.additionalGids.count
    cfg.cap_bounding = c.bounding
    cfg.cap_effective = c.effective
    cfg.cap_permitted = c.permitted
    cfg.cap_inheritable = c.inheritable
    cfg.cap_ambient = c.ambient
    cfg.cap_last = Capabilities.lastCapability
    if let filter = c.seccomp {
      cfg.seccomp_filter = UnsafeRawPointer(list(filter.instructions))
      cfg.seccomp_length = UInt16(filter.instructions.count)
      cfg.seccomp_flags = filter.flags
      if !c.noNewPrivileges { flags |= Int32(BH_CHILD_SECCOMP_EARLY) }
    }
    cfg.flags = flags
    cfg.root_propagation = c.rootPropagation
    cfg.console_rows = c.consoleRows
    cfg.console_cols = c.consoleCols
    config.pointee = cfg
  }

  deinit {
    for s in strings { free(s) }
    for b in buffers { b.deallocate() }
    config.deallocate()
  }

  /// A failed step of the child, in words: runc's for a missing command.
  func describe(_ record: bh_child_error, command: String) -> OCIError {
    let step = String(cString: bh_step_name(record.step))
    let err = record.err
    if record.step == Int32(BH_STEP_EXEC.rawValue) {
      if err == ENOENT || err == ENOTDIR {
        return OCIError("exec: \"\(command)\": executable file not found in $PATH")
      }
      if err == EACCES { return OCIError("exec: \"\(command)\": permission denied") }
    }
    var location = ""
    if [
      BH_STEP_RESOLVE_TARGET, BH_STEP_MOUNT, BH_STEP_MKDIR, BH_STEP_MKFILE, BH_STEP_SYMLINK, BH_STEP_REMOUNT,
      BH_STEP_MKPATH, BH_STEP_MKNOD, BH_STEP_SYSCTL, BH_STEP_PROPAGATION,
    ].map({ Int32($0.rawValue) }).contains(record.step),
      descriptions.indices.contains(Int(record.index))
    {
      location = " (\(descriptions[Int(record.index)]))"
    }
    if record.step == Int32(BH_STEP_CHDIR.rawValue) { location = " (process.cwd)" }
    if record.step == Int32(BH_STEP_PROPAGATION.rawValue) && record.index == -1 {
      location = " (linux.rootfsPropagation)"
    }
    return OCIError("container init: \(step)\(location): \(BulkheadError.describe(errno: err).lowercased())")
  }
}
