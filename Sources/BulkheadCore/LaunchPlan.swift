import BulkheadSeccomp
import BulkheadSpec
import BulkheadSystem
import CBulkhead

#if canImport(Glibc)
  import Glibc
#endif

/// Everything the C child path reads, prepared in the parent before clone: C strings,
/// the mount plan, argv/envp, the flags. It owns that memory and frees it in `deinit`;
/// it must outlive the child's execve (the launcher keeps it until the error pipe closes).
///
/// Building a plan resolves host paths (rootfs, bind sources) and fails with a
/// `BulkheadError` naming the field, so that bad input is refused before any clone.
public final class LaunchPlan {
  public let spec: Spec
  /// The namespaces to create.
  public let namespaces: Set<NamespaceKind>
  /// Human-readable names of the mount operations, for error messages (index -> text).
  public private(set) var opDescriptions: [String] = []
  /// The resolved rootfs (container level).
  public let rootfs: String?

  private var strings: [UnsafeMutablePointer<CChar>] = []
  private var ops: [bh_op] = []
  private let opsBuffer: UnsafeMutablePointer<bh_op>
  private let argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
  private let envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
  private let keepFDs: UnsafeMutablePointer<Int32>
  private let rlimitsBuffer: UnsafeMutablePointer<bh_rlimit>
  /// The capabilities kept (nil: left as they are), for reports.
  public private(set) var keptCapabilities: UInt64?
  /// The user namespace's id maps, when one is created.
  public private(set) var userMap: UserNamespaceMap?
  /// The compiled seccomp filter the child loads last, if any, and what compiling it noted.
  public private(set) var seccompFilter: SeccompFilter?
  /// "default", "unconfined" or the profile's path: what was applied.
  public private(set) var seccompProfile = "unconfined"
  private var seccompBuffer: UnsafeMutablePointer<UInt64>?
  /// The config handed to `bh_spawn`; stable address for the child's lifetime.
  public let config: UnsafeMutablePointer<bh_child_config>

  /// The host device nodes a container's minimal /dev exposes, bound from the host.
  public static let devices = ["null", "zero", "full", "random", "urandom", "tty"]

  public init(spec: Spec, stdinIsTerminal: Bool = isatty(0) == 1) throws(BulkheadError) {
    try spec.validate()
    self.spec = spec
    var namespaces = spec.level == .container ? spec.namespaces : []
    if spec.level == .container && (!isRoot || spec.confinement.userNamespace) { namespaces.insert(.user) }
    self.namespaces = namespaces
    let limits = try Self.resourceLimits(spec.confinement.rlimits)

    if spec.level == .container, let rootfs = spec.rootfs {
      self.rootfs = try Self.resolveRootfs(rootfs)
    } else {
      self.rootfs = nil
    }

    var mountPlan: [Op] = []
    var stageCount = 0
    var childRoot: String? = nil
    if spec.level == .container && (rootfs != nil || spec.hostView != nil) {
      var layers = try Self.planLayers(spec: spec, rootfs: rootfs, userNamespace: namespaces.contains(.user))
      let inside = try Self.mountPlan(
        spec: spec, layers: &layers, stdinIsTerminal: stdinIsTerminal, userNamespace: namespaces.contains(.user))
      mountPlan = layers.stage + inside
      stageCount = layers.stage.count
      childRoot = layers.childRoot
    }

    opsBuffer = .allocate(capacity: max(mountPlan.count, 1))
    argv = .allocate(capacity: spec.command.count + 1)
    envp = .allocate(capacity: spec.environment.count + 1)
    keepFDs = .allocate(capacity: max(spec.passFDs.count, 1))
    rlimitsBuffer = .allocate(capacity: max(limits.count, 1))
    for (i, limit) in limits.enumerated() { rlimitsBuffer[i] = limit }
    config = .allocate(capacity: 1)
    config.initialize(to: bh_child_config())
    bh_child_config_init(config)

    for (i, arg) in spec.command.enumerated() { argv[i] = own(arg) }
    argv[spec.command.count] = nil
    for (i, variable) in spec.environment.enumerated() { envp[i] = own(variable.assignment) }
    envp[spec.environment.count] = nil
    for (i, fd) in spec.passFDs.enumerated() { keepFDs[i] = fd }

    for (i, op) in mountPlan.enumerated() {
      var cop = bh_op()
      cop.kind = op.kind
      cop.optional = op.optional ? 1 : 0
      cop.source = op.source.map { UnsafePointer(own($0)) }
      cop.target = UnsafePointer(own(op.target))
      cop.data = op.data.map { UnsafePointer(own($0)) }
      cop.flags = op.flags
      opsBuffer[i] = cop
      opDescriptions.append(op.what)
    }

    var flags: Int32 = Int32(BH_CHILD_SETSID)
    if namespaces.contains(.net) { flags |= Int32(BH_CHILD_LOOPBACK_UP) }
    if namespaces.contains(.uts) { flags |= Int32(BH_CHILD_SET_HOSTNAME) }
    // An overlay over the root is there to be written to (and its writes vanish).
    if spec.level == .container && spec.readOnlyRoot && spec.overlay == nil {
      flags |= Int32(BH_CHILD_READONLY_ROOT)
    }
    let confinement = spec.confinement
    // no_new_privs in a container and with any confinement asked for; a seccomp
    // filter (which needs it) exists only in one of those two cases.
    if spec.level == .container || confinement.isExplicit {
      flags |= Int32(BH_CHILD_NO_NEW_PRIVS)
    }
    // Capabilities: Docker's default set in a container, everything at the process
    // level; --cap-add/--cap-drop change either.
    if spec.level == .container || !confinement.capAdd.isEmpty || !confinement.capDrop.isEmpty {
      let base = spec.level == .container ? Capabilities.dockerDefault : ["all"]
      let keep = try Capabilities.resolveAvailable(base: base, add: confinement.capAdd, drop: confinement.capDrop)
      keptCapabilities = keep
      flags |= Int32(BH_CHILD_CAPS)
      config.pointee.cap_keep = keep
      config.pointee.cap_last = Capabilities.lastCapability
    }
    // seccomp: the built-in default in a container, none for a process, unless asked.
    let profile = confinement.seccomp ?? (spec.level == .container ? "default" : "unconfined")
    seccompProfile = profile
    if profile != "unconfined" {
      let filter = try Self.seccompFilter(profile: profile, keptCapabilities: keptCapabilities ?? UInt64.max)
      seccompFilter = filter
      let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: max(filter.instructions.count, 1))
      for (i, instruction) in filter.instructions.enumerated() { buffer[i] = instruction }
      seccompBuffer = buffer
      config.pointee.seccomp_filter = UnsafeRawPointer(buffer)
      config.pointee.seccomp_length = UInt16(filter.instructions.count)
      config.pointee.seccomp_flags = filter.flags
    }
    if let user = confinement.user {
      flags |= Int32(BH_CHILD_SET_IDS)
      config.pointee.uid = user.uid
      config.pointee.gid = user.gid
    }
    if namespaces.contains(.user) {
      let map = isRoot ? UserNamespaceMap.unprivilegedRange() : UserNamespaceMap.rootless
      userMap = map
      if let user = confinement.user, !map.maps(uid: user.uid, gid: user.gid) {
        throw .invalidSpec(
          field: "--user", value: "\(user.uid):\(user.gid)", reason: "not mapped in the user namespace",
          hint: "inside a rootless user namespace only uid 0 exists")
      }
      if !map.denySetgroups { flags |= Int32(BH_CHILD_SETGROUPS) }
      if isRoot { flags |= Int32(BH_CHILD_BECOME_ROOT) }
    } else if confinement.user != nil {
      flags |= Int32(BH_CHILD_SETGROUPS)
    }

    let path = spec.environment.last(where: { $0.name == "PATH" })?.value ?? Spec.defaultPath
    config.pointee.file = UnsafePointer(own(spec.command[0]))
    config.pointee.path_search = UnsafePointer(own(path))
    config.pointee.argv = UnsafePointer(argv)
    config.pointee.envp = UnsafePointer(envp)
    config.pointee.rootfs = childRoot.map { UnsafePointer(own($0)) }
    config.pointee.hostname = UnsafePointer(own(spec.hostname))
    let cwd = spec.level == .container ? (spec.workingDirectory ?? "/") : spec.workingDirectory
    config.pointee.cwd = cwd.map { UnsafePointer(own($0)) }
    config.pointee.ops = UnsafePointer(opsBuffer)
    config.pointee.op_count = mountPlan.count
    config.pointee.stage_op_count = stageCount
    config.pointee.rlimits = UnsafePointer(rlimitsBuffer)
    config.pointee.rlimit_count = limits.count
    config.pointee.keep_fds = UnsafePointer(keepFDs)
    config.pointee.keep_fd_count = spec.passFDs.count
    config.pointee.flags = flags

    for fd in spec.passFDs where !FileDescriptor.isOpen(fd) {
      throw .invalidSpec(
        field: "--pass-fd", value: "\(fd)", reason: "descriptor \(fd) is not open in bulkhead",
        hint: "open it in the calling shell, e.g. bulkhead run --pass-fd 3 ... 3<file")
    }
  }

  deinit {
    for s in strings { free(s) }
    opsBuffer.deallocate()
    argv.deallocate()
    envp.deallocate()
    keepFDs.deallocate()
    rlimitsBuffer.deallocate()
    seccompBuffer?.deallocate()
    config.deallocate()
  }

  private func own(_ s: String) -> UnsafeMutablePointer<CChar> {
    let p = strdup(s)!
    strings.append(p)
    return p
  }

  /// The compiled filter for a profile name: "default" (from the on-disk cache) or a
  /// JSON file, whose Docker conditions are resolved against `keptCapabilities`.
  public static func seccompFilter(profile: String, keptCapabilities: UInt64) throws(BulkheadError)
    -> SeccompFilter
  {
    if profile == "default" { return try SeccompFilterCache.defaultFilter() }
    let parsed = try SeccompProfiles.load(
      path: profile, capabilities: Set(Capabilities.names(keptCapabilities)),
      architecture: SeccompProfiles.runningArchitecture, kernel: try SeccompProfiles.runningKernel())
    return try SeccompCompiler.compile(parsed)
  }

  /// Resource limits for the child, with `core=0` unless given. A hard limit above
  /// the current one needs CAP_SYS_RESOURCE: refused here, before anything starts.
  static func resourceLimits(_ requested: [ResourceLimit]) throws(BulkheadError) -> [bh_rlimit] {
    var all = requested
    if !all.contains(where: { $0.name == "core" }) { all.append(ResourceLimit(name: "core", soft: 0, hard: 0)) }
    let resources: [String: Int32] = [
      "as": Int32(RLIMIT_AS.rawValue), "core": Int32(RLIMIT_CORE.rawValue), "cpu": Int32(RLIMIT_CPU.rawValue),
      "data": Int32(RLIMIT_DATA.rawValue), "fsize": Int32(RLIMIT_FSIZE.rawValue),
      // RLIMIT_MEMLOCK and RLIMIT_NPROC are not imported; 8 and 6 on x86_64 and aarch64.
      "memlock": 8, "nofile": Int32(RLIMIT_NOFILE.rawValue), "nproc": 6, "stack": Int32(RLIMIT_STACK.rawValue),
    ]
    var out: [bh_rlimit] = []
    for limit in all {
      guard let resource = resources[limit.name] else {
        throw .invalidSpec(field: "--rlimit", value: limit.name, reason: "unknown resource limit")
      }
      var current = rlimit()
      getrlimit(__rlimit_resource_t(UInt32(resource)), &current)
      let soft = limit.soft.map { rlim_t($0) } ?? rlim_t.max
      let hard = limit.hard.map { rlim_t($0) } ?? rlim_t.max
      if hard > current.rlim_max && !Capabilities.effectiveContains("CAP_SYS_RESOURCE") {
        let now = current.rlim_max == rlim_t.max ? "unlimited" : "\(current.rlim_max)"
        throw BulkheadError(
          code: .unsupported, step: "--rlimit", value: "\(limit.name)",
          reason: "cannot raise the hard limit above \(now) without CAP_SYS_RESOURCE",
          errno: EPERM, hint: "ask for at most \(now), or run where bulkhead has CAP_SYS_RESOURCE")
      }
      var entry = bh_rlimit()
      entry.resource = resource
      entry.limit = rlimit(rlim_cur: soft, rlim_max: hard)
      out.append(entry)
    }
    return out
  }

  /// The mount operation's description for an error at `index` of the plan.
  public func describeOp(_ index: Int32) -> String? {
    opDescriptions.indices.contains(Int(index)) ? opDescriptions[Int(index)] : nil
  }

  static func resolveRootfs(_ path: String) throws(BulkheadError) -> String {
    guard let resolved = realpath(path, nil) else {
      let err = errno
      throw .setupFailed(
        step: "rootfs", value: path, errno: err,
        hint: err == ENOENT
          ? "run Scripts/rootfs to populate the project's Rootfs/, or pass --rootfs DIR" : nil)
    }
    defer { free(resolved) }
    let result = String(cString: resolved)
    var st = stat()
    if stat(result, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
      throw .setupFailed(
        step: "rootfs", value: path, errno: ENOTDIR, hint: "--rootfs must name a directory")
    }
    if result == "/" {
      throw .invalidSpec(
        field: "--rootfs", value: path, reason: "the host's own / is not a sandbox root",
        hint: "use --level process to run on the host's filesystem")
    }
    return result
  }

  /// One operation of the mount plan, before it becomes a `bh_op`.
  public struct Op: Sendable, Equatable {
    public var kind: Int32
    public var source: String?
    public var target: String
    public var data: String?
    public var flags: UInt
    public var what: String
    public var optional = false

    public init(
      kind: Int32, source: String? = nil, target: String, data: String? = nil, flags: UInt, what: String,
      optional: Bool = false
    ) {
      self.kind = kind
      self.source = source
      self.target = target
      self.data = data
      self.flags = flags
      self.what = what
      self.optional = optional
    }
  }

  /// Paths of a fresh /proc that reach the host's kernel state: read-only, as runc
  /// and Docker make them (a container's root could otherwise write
  /// /proc/sys/kernel/core_pattern and run code on the host).
  public static let readOnlyProcPaths = ["/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq"]
  /// Paths masked outright: files with /dev/null, directories with an empty tmpfs.
  public static let maskedProcFiles = [
    "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/interrupts",
  ]
  public static let maskedProcDirectories = ["/proc/acpi", "/proc/asound", "/proc/scsi"]
  /// Sizes of the tmpfs mounts Bulkhead adds, so that filling them cannot take half
  /// the machine's memory (tmpfs's default): /dev/shm as Docker's, /tmp larger.
  /// Under --memory the pages also count against the sandbox's cgroup.
  public static let shmSize = "64m"
  public static let tmpSize = "256m"

  /// The ordered mount plan: /proc, a minimal /dev, /tmp, then the user's mounts.
  static func mountPlan(spec: Spec, layers: inout Layers, stdinIsTerminal: Bool, userNamespace: Bool)
    throws(BulkheadError) -> [Op]
  {
    var plan: [Op] = []
    let rootfs = layers.childRoot
    let nosuid = UInt(MS_NOSUID)
    let nodev = UInt(MS_NODEV)
    let noexec = UInt(MS_NOEXEC)
    func add(
      _ kind: bh_op_kind, _ source: String?, _ target: String, _ data: String?, _ flags: UInt, _ what: String,
      optional: Bool = false
    ) {
      plan.append(
        Op(
          kind: Int32(kind.rawValue), source: source, target: target, data: data, flags: flags, what: what,
          optional: optional))
    }
    if let view = spec.hostView {
      plan += try hostViewOps(view, spec: spec, layers: &layers, userNamespace: userNamespace)
    }
    // In a root of Bulkhead's own (the host view, an overlay) /proc, /dev and /tmp
    // may be missing: made there. A rootfs bound as it is must have them.
    if layers.layer(of: "/")?.owned == true {
      for path in ["/proc", "/dev", "/tmp"] {
        add(BH_OP_MKPATH, "/", path, nil, 0, "create \(path)")
      }
    }
    add(BH_OP_PROC, nil, "/proc", nil, 0, "proc on /proc")
    for path in readOnlyProcPaths {
      add(BH_OP_BIND, rootfs + path, path, nil, UInt(MS_RDONLY), "read-only \(path)", optional: true)
    }
    for path in maskedProcFiles {
      add(BH_OP_BIND, "/dev/null", path, nil, UInt(MS_RDONLY), "mask \(path)", optional: true)
    }
    for path in maskedProcDirectories {
      add(BH_OP_TMPFS, nil, path, "size=0", UInt(MS_RDONLY) | nosuid | nodev | noexec, "mask \(path)", optional: true)
    }
    // nodev: a device node made here (CAP_MKNOD is kept, as in Docker) cannot be
    // opened; the bound nodes below are mounts of the host's /dev and still work.
    add(BH_OP_TMPFS, nil, "/dev", "mode=0755,size=65536", nosuid | noexec | nodev, "tmpfs on /dev")
    for device in devices {
      add(BH_OP_MKFILE, nil, "/dev", device, 0, "create /dev/\(device)")
      add(BH_OP_BIND, "/dev/\(device)", "/dev/\(device)", nil, 0, "bind /dev/\(device)")
    }
    for (name, link) in [
      ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
      ("stderr", "/proc/self/fd/2"),
    ] {
      add(BH_OP_SYMLINK, link, "/dev", name, 0, "symlink /dev/\(name)")
    }
    add(BH_OP_MKDIR, nil, "/dev", "shm", 0, "create /dev/shm")
    add(BH_OP_TMPFS, nil, "/dev/shm", "mode=1777,size=\(Self.shmSize)", nosuid | nodev, "tmpfs on /dev/shm")
    if spec.terminal {
      add(BH_OP_MKFILE, nil, "/dev", "console", 0, "create /dev/console")
    }
    if stdinIsTerminal || spec.terminal {
      add(BH_OP_MKDIR, nil, "/dev", "pts", 0, "create /dev/pts")
      add(BH_OP_DEVPTS, nil, "/dev/pts", "newinstance,ptmxmode=0666,mode=0620", 0, "devpts on /dev/pts")
      add(BH_OP_SYMLINK, "pts/ptmx", "/dev", "ptmx", 0, "symlink /dev/ptmx")
    }
    add(BH_OP_TMPFS, nil, "/tmp", "mode=1777,size=\(Self.tmpSize)", nosuid | nodev, "tmpfs on /tmp")

    // Mount points are created only in a layer Bulkhead made (the host view's root,
    // an overlay, /tmp, a --tmpfs), never in a rootfs bound as it is or a host bind:
    // the deepest mount that holds the target decides, and the child checks it again
    // (same mount) for every component it creates, resolved inside the root.
    layers.mounts += [("/tmp", true), ("/dev", false), ("/proc", false)]
    for mount in spec.mounts {
      let target = MountSpec.normalize(mount.target)
      try checkTarget(mount, target)
      var isDirectory = true
      var source: String? = nil
      switch mount {
      case .bind(let rawSource, _, _), .overlay(let rawSource, _):
        guard let resolved = realpath(rawSource, nil) else {
          throw .setupFailed(
            step: "\(mount.flag) source", value: rawSource, errno: errno,
            hint: "the source must exist on the host")
        }
        source = String(cString: resolved)
        free(resolved)
        var st = stat()
        _ = stat(source!, &st)
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        if case .overlay = mount, !isDirectory {
          throw .invalidSpec(field: "--bind-overlay", value: rawSource, reason: "the source must be a directory")
        }
      case .tmpfs:
        break
      }
      if let layer = layers.layer(of: target), layer.owned, layer.path != target {
        add(
          BH_OP_MKPATH, layer.path, target, nil, isDirectory ? 0 : 1,
          "create the mount point \(target) in \(layer.path)")
      }
      switch mount {
      case .bind(_, _, let readOnly):
        add(
          BH_OP_BIND, source, target, nil, readOnly ? UInt(MS_RDONLY) : 0,
          "bind \(source ?? "") on \(target)\(readOnly ? " (ro)" : "")")
        layers.mounts.append((target, false))
      case .tmpfs:
        add(BH_OP_TMPFS, nil, target, "mode=0755", nosuid | nodev, "tmpfs on \(target)")
        layers.mounts.append((target, true))
      case .overlay:
        let options = try overlayOptions(
          lower: source!, insidePath: target, layers: &layers, keepIn: nil, userNamespace: userNamespace)
        add(BH_OP_OVERLAY, "overlay", target, options, nosuid | nodev, "overlay over \(source!) on \(target)")
        layers.mounts.append((target, true))
      }
    }
    return plan
  }
}
