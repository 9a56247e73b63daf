import BulkheadSpec
import BulkheadSystem
import CBulkhead
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The OCI lifecycle commands over one state root. Libraries return or throw; the
/// CLI prints.
public struct OCIRuntime: Sendable {
  public let store: OCIStore

  public init(root: String) { store = OCIStore(root: root) }

  static func now() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date())
  }

  /// `create`: every setup step of the init, then it parks on exec.fifo and this
  /// process exits. The state is persisted (and the directory renamed into place)
  /// before the init leaves its parent-death signal, so a `create` killed at any
  /// moment leaves nothing (the init dies with it; the `.creating` directory and its
  /// cgroups are swept by the next command) or a container that `delete` removes.
  public func create(
    id: String, bundle rawBundle: String, pidFile: String?, consoleSocket: String? = nil, systemdCgroup: Bool = false
  ) throws(OCIError) {
    try OCIStore.validate(id: id)
    try store.ensureRoot()
    store.sweep()
    if access(store.directory(id), F_OK) == 0 { throw .alreadyExists }
    guard let realBundle = realpath(rawBundle, nil) else {
      throw OCIError("bundle \(rawBundle): \(BulkheadError.describe(errno: errno).lowercased())")
    }
    let bundle = String(cString: realBundle)
    free(realBundle)
    let config = try OCIConfig.load(bundle: bundle, id: id)
    if systemdCgroup || config.cgroupsPath.contains(":") {
      let pid1 = readTextFile("/proc/1/comm")?.split(separator: "\n").first.map(String.init) ?? "?"
      if config.cgroupsPath.contains(":") || !config.cgroupsPath.isEmpty {
        throw pid1 == "systemd"
          ? OCIError(
            "linux.cgroupsPath \(config.cgroupsPath): systemd cgroups are not supported yet; drop --systemd-cgroup")
          : OCIError(
            "linux.cgroupsPath \(config.cgroupsPath): a systemd slice path needs systemd as PID 1 (it is \(pid1)); drop --systemd-cgroup"
          )
      }
    }
    // runc's rules: a terminal goes to the engine's console socket, and a socket
    // without a terminal is a mistake of the caller's.
    if config.terminal && consoleSocket == nil {
      throw .field("process.terminal", "a terminal needs --console-socket (the engine's socket that receives the pty)")
    }
    if !config.terminal, let consoleSocket {
      throw OCIError("--console-socket \(consoleSocket): the config has no terminal (process.terminal is false)")
    }
    var console: Int32 = -1
    if let consoleSocket { console = try Self.connect(consoleSocket) }
    defer { if console >= 0 { close(console) } }
    // Namespaces joined by path: opened here, joined by the child after "go" (the
    // kernel checks each one's type); a pid namespace by this process before the
    // clone, since setns only changes where children go.
    var joins: [bh_ns_join] = []
    defer { for j in joins { close(j.fd) } }
    var pidJoin: Int32 = -1
    defer { if pidJoin >= 0 { close(pidJoin) } }
    for join in config.joins {
      let fd = open(join.path, O_RDONLY | O_CLOEXEC)
      guard fd >= 0 else {
        throw .field(
          "linux.namespaces (\(join.kind.rawValue)).path",
          "\(join.path): \(BulkheadError.describe(errno: errno).lowercased())")
      }
      if join.kind == .pid {
        pidJoin = fd
      } else {
        joins.append(bh_ns_join(fd: fd, type: Int32(join.kind.cloneFlag)))
      }
    }
    var ownPid: Int32 = -1
    defer { Self.leavePidNamespace(ownPid) }
    let plan = OCIPlan(config)
    plan.config.pointee.console_fd = console
    let joinList = UnsafeMutablePointer<bh_ns_join>.allocate(capacity: max(joins.count, 1))
    defer { joinList.deallocate() }
    for (i, j) in joins.enumerated() { (joinList + i).initialize(to: j) }
    plan.config.pointee.ns_joins = UnsafePointer(joinList)
    plan.config.pointee.ns_join_count = joins.count

    let tmp = store.root + "/.creating-\(id)-\(getpid())"
    guard mkdir(tmp, 0o711) == 0 else {
      throw OCIError("create \(tmp): \(BulkheadError.describe(errno: errno).lowercased())")
    }
    var created: [String] = []
    var leaves: Set<String> = []
    func cleanup() {
      OCICgroup.remove(created, leaves: leaves)
      OCIStore.removeDirectory(tmp)
    }
    let dirs = OCICgroup.directories(cgroupsPath: config.cgroupsPath, id: id)
    leaves = Set(dirs.values)
    do throws(OCIError) {
      created = try OCICgroup.create(dirs, resources: config.resources) { (planned: [String]) throws(OCIError) in
        let data = (try? JSONEncoder().encode(planned)) ?? Data("[]".utf8)
        try OCIStore.writeAtomically(data, to: tmp + "/cgroups")
      }
      let data = (try? JSONEncoder().encode(created)) ?? Data("[]".utf8)
      try OCIStore.writeAtomically(data, to: tmp + "/cgroups")
    } catch {
      cleanup()
      throw error
    }
    guard mkfifo(tmp + "/exec.fifo", 0o622) == 0 else {
      let err = errno
      cleanup()
      throw OCIError("mkfifo exec.fifo: \(BulkheadError.describe(errno: err).lowercased())")
    }
    // O_RDWR: the init holds a writer too, so its blocking read waits for a byte
    // instead of seeing EOF; `start`'s non-blocking open for writing finds a reader
    // exactly while the init lives (ENXIO otherwise).
    let fifo = open(tmp + "/exec.fifo", O_RDWR | O_CLOEXEC)
    guard fifo >= 0 else {
      let err = errno
      cleanup()
      throw OCIError("open exec.fifo: \(BulkheadError.describe(errno: err).lowercased())")
    }
    var go: [Int32] = [-1, -1]
    var report: [Int32] = [-1, -1]
    guard bh_pipe_cloexec(&go) == 0, bh_pipe_cloexec(&report) == 0 else {
      let err = errno
      for fd in go + report + [fifo] where fd >= 0 { close(fd) }
      cleanup()
      throw OCIError("pipe2: \(BulkheadError.describe(errno: err).lowercased())")
    }
    plan.config.pointee.go_fd = go[0]
    plan.config.pointee.go_write_fd = go[1]
    plan.config.pointee.err_fd = report[1]
    plan.config.pointee.exec_fifo_fd = fifo

    var flags = NamespaceKind.cloneFlags(config.namespaces)
    if config.namespaces.contains(.cgroup) {
      // Made in the child once it is in its cgroup (below), so that is its root.
      flags &= ~NamespaceKind.cgroup.cloneFlag
      plan.config.pointee.flags |= Int32(BH_CHILD_UNSHARE_CGROUP)
    }
    if pidJoin >= 0 {
      do { ownPid = try Self.enterPidNamespace(pidJoin, field: "linux.namespaces (pid).path: join") } catch {
        for fd in go + report + [fifo] { close(fd) }
        cleanup()
        throw error
      }
    }
    let spawned = bh_spawn_fork(plan.config, flags, -1)
    Self.leavePidNamespace(ownPid)
    ownPid = -1
    close(go[0])
    close(report[1])
    close(fifo)
    guard spawned.pid > 0 else {
      close(go[1])
      close(report[0])
      cleanup()
      throw OCIError("clone: \(BulkheadError.describe(errno: spawned.err).lowercased())")
    }
    var goOpen = true
    func abandon(_ error: OCIError) -> OCIError {
      if goOpen { close(go[1]) }
      Self.killAndReap(spawned.pidfd)
      close(report[0])
      close(spawned.pidfd)
      cleanup()
      return error
    }
    func expect(_ index: Int32) throws(OCIError) {
      guard let record = Self.readRecord(report[0]) else {
        throw abandon(OCIError("container init: exited before it was ready"))
      }
      if record.step != Int32(BH_STEP_NONE.rawValue) { throw abandon(plan.describe(record, command: config.args[0])) }
      if record.index != index { throw abandon(OCIError("container init: out of step (record \(record.index))")) }
    }
    try expect(Int32(BH_RECORD_ARMED))
    guard let info = processStart(spawned.pid) else { throw abandon(OCIError("container init: gone")) }
    if let adj = config.oomScoreAdj {
      do {
        try CgroupFiles.write("\(adj)", to: "/proc/\(spawned.pid)/oom_score_adj", step: "process.oomScoreAdj")
      } catch {
        throw abandon(OCIError("process.oomScoreAdj: \(error.reason.lowercased())"))
      }
    }
    do { try OCICgroup.attach(dirs, pid: spawned.pid) } catch { throw abandon(error) }
    var byte: UInt8 = 1
    guard Glibc.write(go[1], &byte, 1) == 1 else {
      throw abandon(OCIError("container init: died before it was released"))
    }
    try expect(Int32(BH_RECORD_PARKED))

    let state = OCIStateFile(
      ociVersion: config.ociVersion, id: id, pid: spawned.pid, bundle: bundle, created: Self.now(),
      annotations: config.annotations, startTime: info.start, cgroups: dirs, cgroupsCreated: created)
    // prestart and createRuntime: the init exists in its namespaces and waits (its
    // state says created, as runc and crun pass it and the validation suite wants); a
    // failing hook ends it and removes everything create made.
    let hookState = OCIHooks.stateJSON(state, status: "created", pid: spawned.pid)
    do throws(OCIError) {
      try OCIHooks.run(config.hooks.prestart, "prestart", state: hookState)
      try OCIHooks.run(config.hooks.createRuntime, "createRuntime", state: hookState)
    } catch {
      throw abandon(error)
    }
    do throws(OCIError) {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      let data = (try? encoder.encode(state)) ?? Data()
      try OCIStore.writeAtomically(config.source, to: tmp + "/config.json")
      try OCIStore.writeAtomically(data, to: tmp + "/state.json")
      // mkdir made the ID unique at the start; this rename is the authority (no replace).
      if bh_rename_noreplace(tmp, store.directory(id)) != 0 {
        throw errno == EEXIST || errno == ENOTEMPTY
          ? OCIError.alreadyExists
          : OCIError("rename the state directory: \(BulkheadError.describe(errno: errno).lowercased())")
      }
    } catch {
      throw abandon(error)
    }
    // From here the container exists: a failure leaves a consistent one for delete.
    if let pidFile {
      let absolute = pidFile.hasPrefix("/") ? pidFile : FileManager.default.currentDirectoryPath + "/" + pidFile
      try OCIStore.writeAtomically(Data("\(spawned.pid)".utf8), to: absolute)
    }
    guard Glibc.write(go[1], &byte, 1) == 1 else {
      close(go[1])
      throw OCIError("container init: died before it was released")
    }
    close(go[1])
    goOpen = false
    let released = Self.readRecord(report[0])
    close(report[0])
    close(spawned.pidfd)
    if released?.index != Int32(BH_RECORD_RELEASED) {
      throw OCIError("container init: died before it was released")
    }
  }

  /// What `exec` runs: a runtime-spec process object (`--process FILE`, what conmon
  /// and containerd's shim pass), or the container's own process with `args` (and
  /// `tty`, `cwd`, extra `env`) replaced, as runc builds it.
  public struct ExecRequest: Sendable {
    public var processFile: String?
    public var args: [String] = []
    public var tty = false
    public var cwd: String?
    public var env: [String] = []
    public var user: String?
    public var noNewPrivileges = false
    public var detach = false
    public var ignorePaused = false
    public var pidFile: String?
    public var consoleSocket: String?
    public init() {}
  }

  /// `exec`: a new process in a created or running container. The parent joins the
  /// pid namespace (setns only changes where its children go); the child joins the
  /// rest through the init's pidfd after the parent put it in the container's
  /// cgroups, then takes the process's identity, capabilities, no_new_privs and the
  /// container's seccomp filter. `detach`: the pid file is written once execve has
  /// succeeded and the CLI exits (the engine reaps); otherwise the CLI waits and
  /// returns the process's status (128+N for signal N).
  public func exec(id: String, _ request: ExecRequest) throws(OCIError) -> Int32 {
    try OCIStore.validate(id: id)
    // Held until the process is in the container's cgroups and released: a `pause`
    // in between would freeze it before it reports, and this command would wait.
    var lock: Int32 = try store.lock(id)
    defer { if lock >= 0 { close(lock) } }
    let state = try store.read(id)
    switch store.status(state) {
    case .stopped: throw OCIError("cannot exec in a stopped container")
    case .paused where !request.ignorePaused:
      throw OCIError("cannot exec in a paused container (use --ignore-paused to override)")
    default: break
    }
    // The config as it was at create (runtime-spec: later edits must not matter).
    let saved = store.directory(id) + "/config.json"
    var config = try OCIConfig.load(
      bundle: state.bundle, id: id, file: access(saved, R_OK) == 0 ? saved : nil)
    if let file = request.processFile {
      guard let data = FileManager.default.contents(atPath: file), data.count <= 16 << 20 else {
        throw OCIError("--process \(file): cannot be read (or is larger than 16 MiB)")
      }
      // What the process object leaves out is runtime-spec's default, not the init's.
      config.rlimits = []
      config.additionalGids = []
      config.consoleRows = 0
      config.consoleCols = 0
      config.uid = 0
      config.gid = 0
      config.umask = nil
      (config.bounding, config.effective, config.permitted, config.inheritable, config.ambient) = (0, 0, 0, 0, 0)
      config.oomScoreAdj = nil
      try config.parseProcess(try JSONObject.parse(data, path: "process"))
    } else {
      guard let first = request.args.first, !first.isEmpty else { throw OCIError("exec: args must not be empty") }
      config.args = request.args
      config.terminal = request.tty
      config.consoleRows = 0
      config.consoleCols = 0
      if let cwd = request.cwd {
        guard cwd.hasPrefix("/") else { throw OCIError("--cwd \(cwd): must be an absolute path") }
        config.cwd = cwd
      }
      if let user = request.user {
        let parts = user.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
          throw OCIError("--user \(user): expected UID[:GID] (numbers)")
        }
        config.uid = uid
        config.gid = parts.count == 2 ? UInt32(parts[1])! : config.gid
      }
      if request.noNewPrivileges { config.noNewPrivileges = true }
      for e in request.env {
        guard e.contains("=") else { throw OCIError("--env \(e): expected NAME=VALUE") }
        let name = e.prefix { $0 != "=" }
        config.env.removeAll { $0.hasPrefix(name + "=") }
        config.env.append(e)
      }
    }
    if config.terminal && request.consoleSocket == nil {
      throw .field("process.terminal", "a terminal needs --console-socket (the engine's socket that receives the pty)")
    }
    if !config.terminal, let socket = request.consoleSocket {
      throw OCIError("--console-socket \(socket): the process has no terminal (process.terminal is false)")
    }
    // The init, checked against its start time: a reused pid is not the container.
    let initFD = bh_pidfd_open(state.pid)
    guard initFD >= 0 else { throw OCIError("cannot exec in a stopped container") }
    defer { close(initFD) }
    guard processStart(state.pid)?.start == state.startTime else {
      throw OCIError("cannot exec in a stopped container")
    }
    var console: Int32 = -1
    if let socket = request.consoleSocket { console = try Self.connect(socket) }
    defer { if console >= 0 { close(console) } }

    let plan = OCIPlan(config, exec: true)
    plan.config.pointee.console_fd = console
    plan.config.pointee.join_fd = initFD
    // The init's namespaces of every kind, made for it or joined by it (for a kind it
    // shares with the host, joining the init's is joining ours: a no-op).
    var kinds: Set<NamespaceKind> = [.mnt, .uts, .ipc, .net, .cgroup]
    if config.namespaces.contains(.time) { kinds.insert(.time) }
    plan.config.pointee.join_flags = NamespaceKind.cloneFlags(kinds)
    if request.detach { plan.config.pointee.flags |= Int32(BH_CHILD_CLEAR_PDEATHSIG) }
    // The pid namespace: this thread's children go there from the setns on, so it
    // returns to its own right after the clone (a thread could not be made meanwhile).
    var ownPid: Int32 = -1
    if config.namespaces.contains(.pid) || config.joins.contains(where: { $0.kind == .pid }) {
      ownPid = try Self.enterPidNamespace(initFD, field: "exec: join the pid namespace")
    }
    defer { Self.leavePidNamespace(ownPid) }
    var go: [Int32] = [-1, -1]
    var report: [Int32] = [-1, -1]
    guard bh_pipe_cloexec(&go) == 0, bh_pipe_cloexec(&report) == 0 else {
      let err = errno
      for fd in go + report where fd >= 0 { close(fd) }
      throw OCIError("pipe2: \(BulkheadError.describe(errno: err).lowercased())")
    }
    plan.config.pointee.go_fd = go[0]
    plan.config.pointee.go_write_fd = go[1]
    plan.config.pointee.err_fd = report[1]
    let spawned = bh_spawn_fork(plan.config, 0, -1)
    Self.leavePidNamespace(ownPid)
    ownPid = -1
    close(go[0])
    close(report[1])
    guard spawned.pid > 0 else {
      close(go[1])
      close(report[0])
      throw OCIError("clone: \(BulkheadError.describe(errno: spawned.err).lowercased())")
    }
    var goOpen = true
    func abandon(_ error: OCIError) -> OCIError {
      if goOpen { close(go[1]) }
      Self.killAndReap(spawned.pidfd)
      close(report[0])
      close(spawned.pidfd)
      return error
    }
    func record() -> bh_child_error? { Self.readRecord(report[0]) }
    guard let armed = record(), armed.step == Int32(BH_STEP_NONE.rawValue) else {
      throw abandon(OCIError("exec: the process died before it started"))
    }
    if let adj = config.oomScoreAdj {
      do {
        try CgroupFiles.write("\(adj)", to: "/proc/\(spawned.pid)/oom_score_adj", step: "process.oomScoreAdj")
      } catch {
        throw abandon(OCIError("process.oomScoreAdj: \(error.reason.lowercased())"))
      }
    }
    do { try OCICgroup.attach(state.cgroups, pid: spawned.pid) } catch { throw abandon(error) }
    var byte: UInt8 = 1
    guard Glibc.write(go[1], &byte, 1) == 1 else {
      throw abandon(OCIError("exec: the process died before it was released"))
    }
    close(go[1])
    goOpen = false
    close(lock)
    lock = -1
    if let failed = record() { throw abandon(plan.describe(failed, command: config.args[0])) }
    close(report[0])
    if request.detach {
      defer { close(spawned.pidfd) }
      if let pidFile = request.pidFile {
        let absolute = pidFile.hasPrefix("/") ? pidFile : FileManager.default.currentDirectoryPath + "/" + pidFile
        do { try OCIStore.writeAtomically(Data("\(spawned.pid)".utf8), to: absolute) } catch {
          // Nobody would know of the process: it goes, as in runc.
          Self.killAndReap(spawned.pidfd)
          throw error
        }
      }
      return 0
    }
    var info = siginfo_t()
    while bh_waitid_pidfd(spawned.pidfd, &info, nil, WEXITED) != 0 && errno == EINTR {}
    close(spawned.pidfd)
    let code = bh_siginfo_code(&info)
    return code == CLD_EXITED ? bh_siginfo_status(&info) : 128 + bh_siginfo_status(&info)
  }

  /// Kills a child and waits for it: a failed create or exec leaves no process.
  static func killAndReap(_ pidfd: Int32) {
    _ = bh_pidfd_send_signal(pidfd, SIGKILL)
    var info = siginfo_t()
    _ = bh_waitid_pidfd(pidfd, &info, nil, WEXITED)
  }

  /// One record of the child's report pipe; nil at EOF or on a short read.
  static func readRecord(_ fd: Int32) -> bh_child_error? {
    var record = bh_child_error()
    let size = MemoryLayout<bh_child_error>.size
    var got = 0
    while got < size {
      let n = withUnsafeMutableBytes(of: &record) { Glibc.read(fd, $0.baseAddress! + got, size - got) }
      if n > 0 { got += n } else if n == 0 || errno != EINTR { break }
    }
    return got == size ? record : nil
  }

  /// Joins the pid namespace of `fd` for this thread's children; returns a descriptor
  /// of the thread's own, for `leavePidNamespace` right after the clone.
  static func enterPidNamespace(_ fd: Int32, field: String) throws(OCIError) -> Int32 {
    let own = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC)
    guard own >= 0 else {
      throw OCIError("\(field): /proc/thread-self/ns/pid: \(BulkheadError.describe(errno: errno).lowercased())")
    }
    guard bh_setns(fd, Int32(NamespaceKind.pid.cloneFlag)) == 0 else {
      let err = errno
      close(own)
      throw OCIError("\(field): \(BulkheadError.describe(errno: err).lowercased())")
    }
    return own
  }

  /// Back to this thread's own pid namespace (its active one, which setns allows).
  static func leavePidNamespace(_ own: Int32) {
    guard own >= 0 else { return }
    _ = bh_setns(own, Int32(NamespaceKind.pid.cloneFlag))
    close(own)
  }

  /// Connects to the engine's console socket (a long path through /proc/self/fd,
  /// as sun_path holds 107 bytes).
  static func connect(_ path: String) throws(OCIError) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      throw OCIError("--console-socket: socket: \(BulkheadError.describe(errno: errno).lowercased())")
    }
    var target = path
    var holder: Int32 = -1
    if path.utf8.count > 100 {
      holder = open(path, 0o10000000 | O_CLOEXEC)  // O_PATH (not imported)
      guard holder >= 0 else {
        let err = errno
        close(fd)
        throw OCIError("--console-socket \(path): \(BulkheadError.describe(errno: err).lowercased())")
      }
      target = "/proc/self/fd/\(holder)"
    }
    defer { if holder >= 0 { close(holder) } }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (i, byte) in target.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      let err = errno
      close(fd)
      throw OCIError("--console-socket \(path): connect: \(BulkheadError.describe(errno: err).lowercased())")
    }
    return fd
  }

  /// `start`: one byte into exec.fifo; ENXIO (no reader) means the init is gone.
  public func start(id: String) throws(OCIError) {
    try OCIStore.validate(id: id)
    let lock = try store.lock(id)
    defer { close(lock) }
    let state = try store.read(id)
    switch store.status(state) {
    case .stopped: throw OCIError("cannot start a container that has stopped")
    case .running, .paused: throw OCIError("cannot start an already running container")
    case .creating, .created: break
    }
    let path = store.directory(id) + "/exec.fifo"
    let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else {
      throw errno == ENXIO
        ? OCIError("cannot start a container that has stopped")
        : OCIError("open exec.fifo: \(BulkheadError.describe(errno: errno).lowercased())")
    }
    defer { close(fd) }
    unlink(path)
    var byte: UInt8 = 0
    guard Glibc.write(fd, &byte, 1) == 1 else {
      throw OCIError("write exec.fifo: \(BulkheadError.describe(errno: errno).lowercased())")
    }
    if let hooks = savedHooks(id), !hooks.poststart.isEmpty {
      OCIHooks.runWarning(
        hooks.poststart, "poststart", state: OCIHooks.stateJSON(state, status: "running", pid: state.pid))
    }
  }

  /// The hooks of create's copy of config.json (none for a container without one).
  func savedHooks(_ id: String) -> OCIHooks? {
    let path = store.directory(id) + "/config.json"
    guard let data = FileManager.default.contents(atPath: path), let top = try? JSONObject.parse(data),
      let hooks = try? top.object("hooks")
    else { return nil }
    return try? OCIHooks.parse(hooks)
  }

  public func state(id: String) throws(OCIError) -> OCIStateDocument {
    try OCIStore.validate(id: id)
    return store.document(try store.read(id))
  }

  /// `pause` / `resume`: the freezer of the container's cgroup (runc's texts).
  public func pause(id: String, _ on: Bool) throws(OCIError) {
    try OCIStore.validate(id: id)
    let lock = try store.lock(id)
    defer { close(lock) }
    let state = try store.read(id)
    // runc's rules: a created or running container pauses; resume thaws whatever
    // is not thawed (a pause that timed out half way included).
    let status = store.status(state)
    if on {
      guard status == .running || status == .created else { throw OCIError("container not running") }
    } else {
      guard status != .stopped, OCICgroup.frozen(state.cgroups) || OCICgroup.freezing(state.cgroups) else {
        throw OCIError("container not paused")
      }
    }
    try OCICgroup.freeze(state.cgroups, on)
  }

  /// `ps`: the host pids of the container's processes (its cgroup's members).
  public func processes(id: String) throws(OCIError) -> [Int32] {
    try OCIStore.validate(id: id)
    let state = try store.read(id)
    guard store.status(state) != .stopped else { return [] }
    return OCICgroup.members(state.cgroups).sorted()
  }

  /// `list`: every container of this root, with its derived status.
  public func list() -> [OCIStateDocument] { store.list().map(store.document) }

  /// Signal names as runc takes them: numbers, KILL, SIGKILL, sigkill.
  public static func signal(_ text: String) throws(OCIError) -> Int32 {
    if let n = Int32(text), n > 0, n < 65 { return n }
    var name = text.uppercased()
    if name.hasPrefix("SIG") { name.removeFirst(3) }
    let table: [String: Int32] = [
      "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
      "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18,
      "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27,
      "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
    ]
    if let n = table[name] { return n }
    throw OCIError("unknown signal \(BulkheadError.oneLine(text).debugDescription)")
  }

  public func kill(id: String, signal: Int32, all: Bool) throws(OCIError) {
    try OCIStore.validate(id: id)
    let lock = try store.lock(id)
    defer { close(lock) }
    let state = try store.read(id)
    guard store.status(state) != .stopped else { throw .notRunning }
    // A pidfd checked against the start time: the signal cannot reach a reused pid.
    let pidfd = bh_pidfd_open(state.pid)
    guard pidfd >= 0 else { throw .notRunning }
    defer { close(pidfd) }
    guard processStart(state.pid)?.start == state.startTime else { throw .notRunning }
    if all {
      for pid in OCICgroup.members(state.cgroups) where pid != state.pid { Glibc.kill(pid, signal) }
    }
    if bh_pidfd_send_signal(pidfd, signal) != 0 {
      throw OCIError("kill: \(BulkheadError.describe(errno: errno).lowercased())")
    }
    // A frozen task dies only once thawed: SIGKILL of a paused container resumes it.
    if signal == SIGKILL && OCICgroup.frozen(state.cgroups) { try? OCICgroup.freeze(state.cgroups, false) }
  }

  /// `delete`: a stopped (or created) container's state and cgroups; `force` kills a
  /// running one first and waits for it.
  public func delete(id: String, force: Bool) throws(OCIError) {
    try OCIStore.validate(id: id)
    store.sweep()
    let lock: Int32
    do { lock = try store.lock(id) } catch {
      // As in runc, --force makes a missing container a success: engines delete
      // after a failed create, whose directory is already gone. Only a missing one.
      if force && access(store.directory(id), F_OK) != 0 && errno == ENOENT { return }
      throw error
    }
    defer { close(lock) }
    guard let state = try? store.read(id) else {
      // A directory without a state file is not a container: remove it.
      OCIStore.removeDirectory(store.directory(id))
      if force { return }
      throw .notExist(id)
    }
    let status = store.status(state)
    if (status == .running || status == .paused) && !force {
      throw OCIError("cannot delete container \(id) that is not stopped: \(status.rawValue)")
    }
    if status != .stopped {
      let pidfd = bh_pidfd_open(state.pid)
      if pidfd >= 0 {
        if processStart(state.pid)?.start == state.startTime { _ = bh_pidfd_send_signal(pidfd, SIGKILL) }
        if status == .paused { try? OCICgroup.freeze(state.cgroups, false) }
        var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, 5000)
        close(pidfd)
      }
    }
    OCICgroup.remove(state.cgroupsCreated, leaves: Set(state.cgroups.values))
    if let hooks = savedHooks(id), !hooks.poststop.isEmpty {
      let stopped = OCIHooks.stateJSON(state, status: "stopped", pid: state.pid)
      OCIHooks.runWarning(hooks.poststop, "poststop", state: stopped)
    }
    OCIStore.removeDirectory(store.directory(id))
  }
}
