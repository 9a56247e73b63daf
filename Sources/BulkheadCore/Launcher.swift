import BulkheadSpec
import BulkheadSystem
import CBulkhead

#if canImport(Glibc)
  import Glibc
#endif

/// Starts workloads at the process and container levels through the C child path.
///
/// The protocol: two close-on-exec pipes. The child waits on "go" while the parent
/// reads its namespace ids and writes the user-namespace id maps; then the parent
/// writes one byte and reads "error": a `bh_child_error` record if a step failed,
/// EOF when execve succeeded.
public struct Launcher: Sendable {
  /// Stack for the CLONE_VM child: it only runs the C child path.
  static let stackSize = 256 * 1024

  /// Where `bulkhead-probe` is inside a container's rootfs.
  public static let probeInRootfs = "/bin/bulkhead-probe"
  /// Where the host's `bulkhead-probe` is bound (read-only) in the host view, which
  /// has the host's /usr but not bulkhead's build directory.
  public static let probeInHostView = "/tmp/.bulkhead-probe"

  /// The probe of the root filesystem `rootfs`, as seen from the host, when it is
  /// there and executable: what the container level needs to run built-ins.
  public static func probe(inRootfs rootfs: String?) -> String? {
    guard let path = rootfs.map({ $0 + probeInRootfs }), access(path, X_OK) == 0 else { return nil }
    return path
  }

  /// The host path of `bulkhead-probe`, for built-in workloads at the process level.
  public var probePath: String?
  /// An executable with the hidden `_host` entry (the bulkhead binary), for the
  /// thread and task levels.
  public var hostExecutable: String?
  /// A descriptor that becomes the workload's stdout (to capture what it prints);
  /// nil: bulkhead's own stdout.
  public var stdoutFD: Int32?

  /// Where sandbox cgroups are made; nil: detected, below bulkhead's own cgroup.
  public var cgroups: Cgroups?

  public init(
    probePath: String? = nil, hostExecutable: String? = nil, stdoutFD: Int32? = nil, cgroups: Cgroups? = nil
  ) {
    self.probePath = probePath
    self.hostExecutable = hostExecutable
    self.stdoutFD = stdoutFD
    self.cgroups = cgroups
  }

  /// Starts `spec` at its level and returns once it runs (execve succeeded), or
  /// throws the setup step that failed; nothing is left behind on failure.
  /// Built-in workloads run through `bulkhead-probe` (process, container) or inside
  /// one host process (thread, task). `recordNamespaces`: read the workload's
  /// namespace ids before it runs (for the JSON status); eight readlinks that a
  /// plain run can skip.
  public func start(_ spec: Spec, recordNamespaces: Bool = true) throws(BulkheadError) -> Workload {
    try spec.validate()
    switch spec.level {
    case .process, .container:
      var effective = spec
      if let text = spec.workloads.first {
        let probe: String
        if spec.level == .container && spec.hostView != nil {
          guard let probePath else {
            throw BulkheadError(
              code: .setupFailed, step: "bulkhead-probe", reason: "the probe was not found on the host",
              hint: "the host view runs the host's bulkhead-probe: run Scripts/build, or set BULKHEAD_PROBE")
          }
          probe = Self.probeInHostView
          effective.mounts.append(.bind(source: probePath, target: probe, readOnly: true))
        } else if spec.level == .container {
          probe = Self.probeInRootfs
        } else if let probePath {
          probe = probePath
        } else {
          throw BulkheadError(
            code: .setupFailed, step: "bulkhead-probe", reason: "the probe was not found",
            hint: "run Scripts/build and Scripts/rootfs, or set BULKHEAD_PROBE")
        }
        effective.command = [probe] + text.split(separator: " ").map(String.init)
        effective.workloads = []
      }
      var workload = try start(LaunchPlan(spec: effective), recordNamespaces: recordNamespaces)
      workload.executed = effective.command
      return workload.with(spec: spec)

    case .thread, .task:
      return try startHost(spec, recordNamespaces: recordNamespaces)
    }
  }

  /// The thread and task levels: one host process (this binary's `_host` entry)
  /// runs every workload in its own address space and reports over a pipe.
  func startHost(_ spec: Spec, recordNamespaces: Bool) throws(BulkheadError) -> Workload {
    guard let hostExecutable else {
      throw BulkheadError(
        code: .setupFailed, step: "host process", reason: "no host executable known",
        hint: "the thread and task levels run through the bulkhead binary")
    }
    let report = try FileDescriptor.pipe(step: "pipe2 (report)")
    let host = Spec(
      level: .process,
      command: [hostExecutable, "_host", spec.level.rawValue, "\(report.write.rawValue)"] + spec.workloads,
      namespaces: [], workingDirectory: spec.workingDirectory, environment: spec.environment,
      passFDs: spec.passFDs + [report.write.rawValue], graceMilliseconds: spec.graceMilliseconds,
      timeoutMilliseconds: spec.timeoutMilliseconds, confinement: spec.confinement, cgroup: spec.cgroup,
      cpuTimeMilliseconds: spec.cpuTimeMilliseconds, terminal: spec.terminal)
    let workload: Workload
    do {
      workload = try start(LaunchPlan(spec: host), recordNamespaces: recordNamespaces)
    } catch {
      report.read.close()
      report.write.close()
      throw error
    }
    report.write.close()
    var result = workload.with(spec: spec)
    result.reportFD = report.read.rawValue
    result.executed = host.command
    return result
  }

  /// Starts a prepared plan (process or container level, a command).
  public func start(_ plan: LaunchPlan, recordNamespaces: Bool = true) throws(BulkheadError) -> Workload {
    let go = try FileDescriptor.pipe(step: "pipe2 (go)")
    let report: (read: FileDescriptor, write: FileDescriptor)
    do { report = try FileDescriptor.pipe(step: "pipe2 (error)") } catch {
      go.read.close()
      go.write.close()
      throw error
    }
    plan.config.pointee.go_fd = go.read.rawValue
    plan.config.pointee.go_write_fd = go.write.rawValue
    plan.config.pointee.err_fd = report.write.rawValue
    plan.config.pointee.stdout_fd = stdoutFD ?? -1
    // A terminal: the child opens a pty in its own devpts and sends the master back
    // over this socket pair (captured output has no terminal).
    var console: (parent: Int32, child: Int32)? = nil
    if plan.spec.terminal && stdoutFD == nil {
      var pair: [Int32] = [-1, -1]
      guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
        let err = errno
        for fd in [go.read, go.write, report.read, report.write] { fd.close() }
        throw .setupFailed(step: "socketpair (terminal)", errno: err)
      }
      console = (pair[0], pair[1])
      plan.config.pointee.console_fd = pair[1]
      var size = winsize()
      if ioctl(0, UInt(TIOCGWINSZ), &size) == 0 || ioctl(1, UInt(TIOCGWINSZ), &size) == 0 {
        plan.config.pointee.console_rows = size.ws_row
        plan.config.pointee.console_cols = size.ws_col
      }
    } else {
      plan.config.pointee.console_fd = -1
    }
    func closeConsole() {
      if let console {
        close(console.parent)
        close(console.child)
      }
      console = nil
    }

    guard
      let stack = mmap(
        nil, Self.stackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0),
      stack != MAP_FAILED
    else {
      let err = errno
      for fd in [go.read, go.write, report.read, report.write] { fd.close() }
      closeConsole()
      throw .setupFailed(step: "mmap (child stack)", errno: err)
    }
    let startWall = wallClockNanoseconds()
    let startMono = monotonicNanoseconds()
    // The cgroup exists before the clone: on v2 the child is born in it
    // (CLONE_INTO_CGROUP); on v1 the parent moves it in before releasing it.
    // Without limits, a process-level workload (or a thread/task host) as root still
    // gets a tracking cgroup: should bulkhead be SIGKILLed, the children it forked
    // are found and ended by the next bulkhead (a container's pid namespace does
    // that itself). Where none can be made, the run goes on without one.
    var group: CgroupGroup? = nil
    var joinAfterClone = false
    let tracking = plan.spec.cgroup.isEmpty && !plan.namespaces.contains(.pid) && isRoot
    if !plan.spec.cgroup.isEmpty || tracking {
      do throws(BulkheadError) {
        guard let cgroups = self.cgroups ?? Cgroups.current else {
          throw BulkheadError(
            code: .unsupported, step: "cgroup", reason: "no usable cgroup hierarchy (v1 memory/pids/cpu or v2)",
            hint: "mount cgroups, or drop --memory/--pids/--cpus")
        }
        cgroups.sweepStaleOnce()
        group = try cgroups.create(name: "run-\(getpid())-\(Self.nextSandboxNumber())", request: plan.spec.cgroup)
        group?.tracking = tracking
      } catch {
        if !tracking {
          for fd in [go.read, go.write, report.read, report.write] { fd.close() }
          closeConsole()
          munmap(stack, Self.stackSize)
          throw error
        }
      }
    }
    var flags = NamespaceKind.cloneFlags(plan.namespaces)
    // A child that joins its cgroup after the clone (v1) makes its cgroup
    // namespace there, after "go": made at clone, its root would be our cgroup.
    var lateCgroupNamespace = false
    func unshareCgroupLate() {
      guard plan.namespaces.contains(.cgroup), group != nil else { return }
      flags &= ~NamespaceKind.cgroup.cloneFlag
      plan.config.pointee.flags |= Int32(BH_CHILD_UNSHARE_CGROUP)
      lateCgroupNamespace = true
    }
    if let group, group.version == .v1 || group.directoryFD < 0 { unshareCgroupLate() }
    var spawned = bh_spawn(plan.config, flags, stack, Self.stackSize, group?.directoryFD ?? -1)
    if spawned.pid <= 0, (group?.directoryFD ?? -1) >= 0, [ENOSYS, EPERM, EINVAL, E2BIG].contains(spawned.err) {
      // clone3 or CLONE_INTO_CGROUP is unavailable (an old kernel, an outer seccomp
      // profile): clone without it and join the cgroup before the child is released.
      unshareCgroupLate()
      spawned = bh_spawn(plan.config, flags, stack, Self.stackSize, -1)
      joinAfterClone = true
    }
    go.read.close()
    report.write.close()
    if let child = console?.child {
      close(child)
      console?.child = -1
    }
    guard spawned.pid > 0 else {
      go.write.close()
      report.read.close()
      if let parent = console?.parent { close(parent) }
      munmap(stack, Self.stackSize)
      try? group?.remove()
      throw Self.cloneError(spawned.err, namespaces: plan.namespaces)
    }
    // From here on the child exists: any failure kills and reaps it before throwing.
    // Each descriptor is closed exactly once: a second close could close another
    // thread's newly opened descriptor of the same number.
    var goWriteOpen = true
    func abandon(_ error: BulkheadError) -> BulkheadError {
      if goWriteOpen { go.write.close() }
      _ = bh_pidfd_send_signal(spawned.pidfd, SIGKILL)
      var info = siginfo_t()
      _ = bh_waitid_pidfd(spawned.pidfd, &info, nil, WEXITED)
      report.read.close()
      close(spawned.pidfd)
      if let parent = console?.parent { close(parent) }
      munmap(stack, Self.stackSize)
      try? group?.remove()
      return error
    }

    // The child says its death signal is armed before anything else: until then a
    // death of ours could go unnoticed by it (see child.c, step 3).
    var armed = bh_child_error()
    if Self.readRecord(report.read.rawValue, into: &armed) != MemoryLayout<bh_child_error>.size {
      throw abandon(.setupFailed(step: "wait for the child", errno: ECHILD, reason: "the child died before it started"))
    }
    if armed.step != Int32(BH_STEP_NONE.rawValue) {
      throw abandon(Self.childError(armed, plan: plan))
    }

    var namespaces = recordNamespaces ? NamespaceKind.inodes(of: spawned.pid) : [:]
    if let map = plan.userMap {
      do { try map.write(to: spawned.pid) } catch { throw abandon(error) }
    }
    if let group, group.version == .v1 || group.directoryFD < 0 || joinAfterClone {
      do { try group.attach(pid: spawned.pid) } catch { throw abandon(error) }
    }
    var byte: UInt8 = 1
    if write(go.write.rawValue, &byte, 1) != 1 {
      let err = errno
      throw abandon(
        .setupFailed(
          step: "release the child", errno: err,
          reason: err == EPIPE ? "the child died before it was released" : nil))
    }
    go.write.close()
    goWriteOpen = false

    var record = bh_child_error()
    let got = Self.readRecord(report.read.rawValue, into: &record)
    let execed = monotonicNanoseconds()
    if got > 0 {
      throw abandon(Self.childError(record, plan: plan))
    }
    if lateCgroupNamespace && recordNamespaces {
      // Made after "go": read now, or left out if the workload is already gone.
      namespaces[.cgroup] = NamespaceKind.cgroup.inode(of: spawned.pid)
    }
    var terminalFD: Int32? = nil
    if let parent = console?.parent {
      // Sent before execve, so it is queued by now.
      let master = bh_recv_fd(parent)
      let err = errno
      close(parent)
      if master < 0 {
        throw abandon(.setupFailed(step: "receive the terminal", errno: err))
      }
      terminalFD = master
    }
    report.read.close()
    munmap(stack, Self.stackSize)
    var workload = Workload(
      spec: plan.spec, pid: spawned.pid, pidfd: spawned.pidfd, namespaces: namespaces,
      startedAtWallNanoseconds: startWall, startedAtMonotonicNanoseconds: startMono,
      execedAtMonotonicNanoseconds: execed, usedClone3: spawned.used_clone3 != 0)
    workload.cgroup = group
    workload.terminalFD = terminalFD
    workload.confinement = AppliedConfinement(
      seccompProfile: plan.seccompProfile, seccompInstructions: plan.seccompFilter?.instructions.count,
      seccompNotes: plan.seccompFilter?.notes ?? [], capabilities: plan.keptCapabilities.map(Capabilities.names))
    return workload
  }

  /// Reads one `bh_child_error` record; returns the bytes read (0 at EOF).
  static func readRecord(_ fd: Int32, into record: inout bh_child_error) -> Int {
    let size = MemoryLayout<bh_child_error>.size
    var got = 0
    while got < size {
      let n = withUnsafeMutableBytes(of: &record) { buffer in read(fd, buffer.baseAddress! + got, size - got) }
      if n > 0 {
        got += n
      } else if n == 0 || errno != EINTR {
        break
      }
    }
    return got
  }

  nonisolated(unsafe) private static var sandboxCounter = 0

  /// A number unique within this process, for cgroup names.
  static func nextSandboxNumber() -> Int {
    sandboxCounter += 1
    return sandboxCounter
  }

  static func cloneError(_ err: Int32, namespaces: Set<NamespaceKind>) -> BulkheadError {
    if namespaces.contains(.user) && (err == EPERM || err == ENOSPC || err == EINVAL) {
      return BulkheadError(
        code: .unsupported, step: "clone", reason: "cannot create a user namespace as uid \(getuid())",
        errno: err,
        hint:
          "run as root, or enable unprivileged user namespaces (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)"
      )
    }
    if err == EPERM {
      return .setupFailed(
        step: "clone", errno: err, hint: "creating namespaces needs root (CAP_SYS_ADMIN) or a user namespace")
    }
    return .setupFailed(step: "clone", errno: err)
  }

  static func childError(_ record: bh_child_error, plan: LaunchPlan) -> BulkheadError {
    let step = String(cString: bh_step_name(record.step))
    let err = record.err
    switch bh_step(UInt32(record.step)) {
    case BH_STEP_EXEC:
      let command = plan.spec.command[0]
      let inside =
        plan.rootfs.map { " inside the rootfs \($0)" } ?? (plan.spec.hostView != nil ? " in the host view" : "")
      if err == ENOENT || err == ENOTDIR {
        return BulkheadError(
          code: .notFound, step: "execve", value: command,
          reason: "command not found\(inside)", errno: err,
          hint: plan.rootfs != nil || plan.spec.hostView != nil
            ? "the command and PATH are looked up inside the rootfs; check the command exists there"
            : "check the command name and PATH")
      }
      if err == EACCES || err == ENOEXEC || err == EISDIR || err == EPERM || err == ETXTBSY {
        return BulkheadError(
          code: .notExecutable, step: "execve", value: command,
          reason: "cannot execute: \(BulkheadError.describe(errno: err))", errno: err,
          hint: "check that the file is an executable for this machine and has its x bit")
      }
      return .setupFailed(step: step, value: command, errno: err)
    case BH_STEP_RESOLVE_TARGET, BH_STEP_MOUNT, BH_STEP_MKDIR, BH_STEP_MKFILE, BH_STEP_SYMLINK,
      BH_STEP_REMOUNT, BH_STEP_MKPATH, BH_STEP_COPY:
      let what = plan.describeOp(record.index)
      var hint: String? = nil
      if bh_step(UInt32(record.step)) == BH_STEP_RESOLVE_TARGET && err == ENOENT {
        hint =
          "create the mount point in the rootfs, or use --overlay or --rootfs host, where Bulkhead creates it (as under /tmp)"
      }
      if bh_step(UInt32(record.step)) == BH_STEP_MKPATH && err == EROFS {
        hint =
          "the path leads out of Bulkhead's own layers (a symlink, a bind, a read-only rootfs); choose another target"
      }
      return .setupFailed(step: step, value: what, errno: err, hint: hint)
    case BH_STEP_CHDIR:
      return .setupFailed(
        step: step, value: plan.spec.workingDirectory, errno: err,
        hint: "--cwd must exist inside the sandbox")
    case BH_STEP_FDS:
      return .setupFailed(step: step, value: "\(record.index)", errno: err)
    default:
      return .setupFailed(step: step, errno: err)
    }
  }
}
