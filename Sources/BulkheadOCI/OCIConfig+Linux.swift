import BulkheadSeccomp
import BulkheadSpec
import BulkheadSystem
import CBulkhead
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

extension OCIConfig {
  mutating func parseLinux(_ l: JSONObject, id: String) throws(OCIError) {
    for ns in try l.objects("namespaces") ?? [] {
      guard let type = try ns.string("type") else { throw .field(ns.path + ".type", "missing") }
      let kind: NamespaceKind
      switch type {
      case "pid": kind = .pid
      case "network": kind = .net
      case "mount": kind = .mnt
      case "ipc": kind = .ipc
      case "uts": kind = .uts
      case "cgroup": kind = .cgroup
      case "time": kind = .time
      case "user": throw .field(ns.path + ".type", "user namespaces are not supported yet")
      default: throw .field(ns.path + ".type", "unknown namespace type \(type)")
      }
      guard !namespaces.contains(kind), !joins.contains(where: { $0.kind == kind }) else {
        throw .field(ns.path + ".type", "\(type) listed twice")
      }
      if let path = try ns.string("path"), !path.isEmpty {
        guard path.hasPrefix("/") else { throw .field(ns.path + ".path", "must be absolute") }
        guard [.net, .ipc, .uts, .pid, .cgroup, .mnt].contains(kind) else {
          throw .field(
            ns.path + ".path",
            "joining a \(type) namespace is not supported yet (network, ipc, uts, pid, cgroup, mount are)")
        }
        joins.append(NamespaceJoin(kind: kind, path: path))
      } else {
        namespaces.insert(kind)
      }
      try ns.finish()
    }
    for key in ["uidMappings", "gidMappings"] {
      if let maps = try l.array(key), !maps.isEmpty {
        throw .field("linux.\(key)", "user namespaces are not supported yet")
      }
    }
    if let sysctl = try l.stringMap("sysctl") {
      for (key, value) in sysctl.sorted(by: { $0.key < $1.key }) {
        guard !key.isEmpty, !key.contains("/"), !key.split(separator: ".").contains(where: { $0.isEmpty }) else {
          throw .field("linux.sysctl.\(key)", "not a sysctl name")
        }
        postOps.append(
          OCIOp(
            kind: BH_OP_SYSCTL, target: "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/"), data: value,
            what: "sysctl \(key)"))
      }
    }
    for (i, path) in (try l.strings("readonlyPaths") ?? []).enumerated() {
      guard path.hasPrefix("/") else { throw .field("linux.readonlyPaths[\(i)]", "must be absolute") }
      postOps.append(OCIOp(kind: BH_OP_READONLY, target: path, what: "read-only \(path)"))
    }
    for (i, path) in (try l.strings("maskedPaths") ?? []).enumerated() {
      guard path.hasPrefix("/") else { throw .field("linux.maskedPaths[\(i)]", "must be absolute") }
      postOps.append(OCIOp(kind: BH_OP_MASK, target: path, what: "mask \(path)"))
    }
    cgroupsPath = try l.string("cgroupsPath") ?? ""
    if cgroupsPath.split(separator: "/").contains("..") { throw .field("linux.cgroupsPath", "must not contain ..") }
    if let resources = try l.object("resources") { try parseResources(resources) }
    if let seccompJSON = try l.json("seccomp") {
      do {
        let profile = try SeccompProfiles.parse(
          Array(seccompJSON), capabilities: Set(Capabilities.names(bounding)),
          architecture: SeccompProfiles.runningArchitecture, kernel: try SeccompProfiles.runningKernel())
        seccomp = try SeccompCompiler.compile(profile)
      } catch {
        throw .field("linux.seccomp", error.description)
      }
    }
    if let propagation = try l.string("rootfsPropagation"), !propagation.isEmpty {
      guard let flags = Self.propagationFlags[propagation] else {
        throw .field(
          "linux.rootfsPropagation", "\(propagation) is not a propagation (shared, slave, private, unbindable, or r-)")
      }
      rootPropagation = flags
    }
    if let label = try l.string("mountLabel"), !label.isEmpty {
      throw .field("linux.mountLabel", "SELinux is not available to bulkhead")
    }
    // linux.devices are read with the mounts (the nodes go after them).
  }

  mutating func parseResources(_ r: JSONObject) throws(OCIError) {
    if let memory = try r.object("memory") {
      resources.memoryLimit = try memory.int("limit")
      resources.memorySwap = try memory.int("swap")
      resources.memoryReservation = try memory.int("reservation")
      resources.memoryKernel = try memory.int("kernel")
      resources.memoryKernelTCP = try memory.int("kernelTCP")
      resources.memorySwappiness = try memory.uint("swappiness")
      if let s = resources.memorySwappiness, s > 100 {
        throw .field("linux.resources.memory.swappiness", "must be 0...100")
      }
      resources.disableOOMKiller = try memory.bool("disableOOMKiller")
      resources.useHierarchy = try memory.bool("useHierarchy")
      _ = try memory.bool("checkBeforeUpdate")  // a rule for `update`, which has nothing to check at create
      try memory.finish()
    }
    if let pids = try r.object("pids") {
      resources.pidsLimit = try pids.int("limit")
      try pids.finish()
    }
    if let cpu = try r.object("cpu") {
      resources.cpuShares = try cpu.uint("shares")
      resources.cpuQuota = try cpu.int("quota")
      resources.cpuPeriod = try cpu.uint("period")
      for key in ["cpus", "mems"] {
        guard let list = try cpu.string(key), !list.isEmpty else { continue }
        guard list.allSatisfy({ $0.isNumber || $0 == "," || $0 == "-" }) else {
          throw .field("linux.resources.cpu.\(key)", "\(list) is not a list such as 0-2,4")
        }
        if key == "cpus" { resources.cpus = list } else { resources.mems = list }
      }
      resources.realtimeRuntime = try cpu.int("realtimeRuntime")
      resources.realtimePeriod = try cpu.uint("realtimePeriod")
      resources.cpuBurst = try cpu.uint("burst")
      resources.cpuIdle = try cpu.int("idle")
      try cpu.finish()
    }
    for rule in try r.objects("devices") ?? [] {
      guard let allow = try rule.bool("allow") else { throw .field(rule.path + ".allow", "missing") }
      let type = try rule.string("type") ?? "a"
      guard ["a", "b", "c"].contains(type) else { throw .field(rule.path + ".type", "must be a, b or c") }
      let major = try rule.int("major").map { "\($0)" } ?? "*"
      let minor = try rule.int("minor").map { "\($0)" } ?? "*"
      let access = try rule.string("access") ?? "rwm"
      guard !access.isEmpty, access.allSatisfy({ "rwm".contains($0) }) else {
        throw .field(rule.path + ".access", "must be made of r, w and m")
      }
      try rule.finish()
      resources.devices.append(
        DeviceRule(allow: allow, line: type == "a" ? "a" : "\(type) \(major):\(minor) \(access)"))
    }
    try r.finish()
  }

  /// Mount flags of runc's table; an option not in it is filesystem data.
  static let mountFlags: [String: (set: Bool, flag: UInt)] = [
    "ro": (true, UInt(MS_RDONLY)), "rw": (false, UInt(MS_RDONLY)), "nosuid": (true, UInt(MS_NOSUID)),
    "suid": (false, UInt(MS_NOSUID)), "nodev": (true, UInt(MS_NODEV)), "dev": (false, UInt(MS_NODEV)),
    "noexec": (true, UInt(MS_NOEXEC)), "exec": (false, UInt(MS_NOEXEC)), "sync": (true, UInt(MS_SYNCHRONOUS)),
    "async": (false, UInt(MS_SYNCHRONOUS)), "dirsync": (true, UInt(MS_DIRSYNC)), "mand": (true, UInt(MS_MANDLOCK)),
    "nomand": (false, UInt(MS_MANDLOCK)), "noatime": (true, UInt(MS_NOATIME)), "atime": (false, UInt(MS_NOATIME)),
    "nodiratime": (true, UInt(MS_NODIRATIME)), "diratime": (false, UInt(MS_NODIRATIME)),
    "relatime": (true, UInt(MS_RELATIME)), "norelatime": (false, UInt(MS_RELATIME)),
    "strictatime": (true, UInt(MS_STRICTATIME)), "nostrictatime": (false, UInt(MS_STRICTATIME)),
    "bind": (true, UInt(MS_BIND)), "rbind": (true, UInt(MS_BIND | MS_REC)),
  ]
  static let propagationFlags: [String: UInt] = [
    "private": UInt(MS_PRIVATE), "rprivate": UInt(MS_PRIVATE | MS_REC), "shared": UInt(MS_SHARED),
    "rshared": UInt(MS_SHARED | MS_REC), "slave": UInt(MS_SLAVE), "rslave": UInt(MS_SLAVE | MS_REC),
    "unbindable": UInt(MS_UNBINDABLE), "runbindable": UInt(MS_UNBINDABLE | MS_REC),
  ]

  /// The mounts in order, each mount point created inside the rootfs when missing
  /// (resolved with RESOLVE_IN_ROOT), then the default devices, linux.devices and links.
  mutating func planMounts(_ mounts: [JSONObject], bundle: String, linux: JSONObject?, id: String) throws(OCIError) {
    for m in mounts {
      guard let destination = try m.string("destination"), destination.hasPrefix("/") else {
        throw .field(m.path + ".destination", "must be an absolute path")
      }
      let target = MountSpec.normalize(destination)
      if target == "/" { throw .field(m.path + ".destination", "/ is the root, not a mount point") }
      var type = try m.string("type") ?? ""
      var source = try m.string("source") ?? ""
      var flags: UInt = 0
      var propagation: UInt = 0
      var data: [String] = []
      for option in try m.strings("options") ?? [] {
        if let f = Self.mountFlags[option] {
          if f.set { flags |= f.flag } else { flags &= ~f.flag }
        } else if let p = Self.propagationFlags[option] {
          propagation = p
        } else if option == "tmpcopyup" {
          // crun's extension (podman --read-only): the tmpfs starts with what the
          // directory held. Bulkhead copies nothing yet, so only an empty or missing
          // directory is accepted (the parent only reads it to decide).
          let under = rootfs + MountSpec.normalize(destination)
          var st = stat()
          if lstat(under, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR && !listDirectory(under).isEmpty {
            throw .field(m.path + ".options", "tmpcopyup over the non-empty \(destination) is not supported yet")
          }
        } else if ["idmap", "ridmap", "copy-symlink", "remount"].contains(option)
          || option.hasPrefix("idmap=")
          || option.hasPrefix("x-")
        {
          if option.hasPrefix("x-") { continue }  // userspace options (mount(8) ignores them too)
          throw .field(m.path + ".options", "\(option) is not supported")
        } else {
          data.append(option)
        }
      }
      if type == "bind" { type = "" }
      let bind = (flags & UInt(MS_BIND)) != 0
      if bind && type.isEmpty == false && type != "none" { type = "" }
      var isFile = false
      if bind {
        let joined = source.hasPrefix("/") ? source : bundle + "/" + source
        guard let real = realpath(joined, nil) else {
          throw .field(m.path + ".source", "\(source): \(BulkheadError.describe(errno: errno).lowercased())")
        }
        source = String(cString: real)
        free(real)
        var st = stat()
        _ = stat(source, &st)
        isFile = (st.st_mode & S_IFMT) != S_IFDIR
      } else if type.isEmpty {
        throw .field(m.path + ".type", "missing (and not a bind)")
      }
      let mkflags = Int32(BH_MKPATH_ANY_MOUNT) | (isFile ? Int32(BH_MKPATH_FILE) : 0)
      ops.append(
        OCIOp(kind: BH_OP_MKPATH, target: target, flags: UInt(mkflags), what: "create the mount point \(target)"))
      if type == "cgroup" {
        try planCgroupMount(target: target, flags: flags, path: m.path, id: id)
      } else {
        if source.isEmpty { source = type }
        ops.append(
          OCIOp(
            kind: BH_OP_MOUNT, source: source, target: target, data: data.isEmpty ? nil : data.joined(separator: ","),
            flags: flags, fstype: type.isEmpty ? nil : type, propagation: propagation,
            what: "\(m.path) (\(bind ? "bind \(source)" : type) on \(target))"))
      }
      try m.finish()
    }
    try planDevices(linux)
  }

  /// type cgroup on v1: a tmpfs holding one mount per hierarchy, as runc makes it.
  /// In a cgroup namespace (made once the init is in its cgroup) each is a fresh
  /// mount whose root is the container's own group; without one, a fresh mount
  /// would show the host's whole tree, so each is a bind of the container's
  /// directory (or, for a hierarchy it has none in, of the runtime's own group,
  /// which the init inherits), as runc does.
  mutating func planCgroupMount(target: String, flags: UInt, path: String, id: String) throws(OCIError) {
    let ownNamespace = namespaces.contains(.cgroup)
    let dirs = OCICgroup.directories(cgroupsPath: cgroupsPath, id: id)
    var own: [String: String] = [:]  // "memory" or "name=systemd" -> the runtime's group
    for line in (readTextFile("/proc/self/cgroup") ?? "").split(separator: "\n") {
      let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard f.count == 3 else { continue }
      for c in f[1].split(separator: ",") { own[String(c)] = String(f[2]) }
      if f[1].isEmpty { own[""] = String(f[2]) }
    }
    func hostDirectory(mount: String, options: [String]) -> String? {
      for o in options { if let d = dirs[o] { return d } }
      for o in options { if let p = own[o] { return mount + (p == "/" ? "" : p) } }
      return nil
    }
    let bindFlags = flags | UInt(MS_BIND) | UInt(MS_REC)
    let mountinfo = readTextFile("/proc/self/mountinfo") ?? ""
    var hierarchies: [(name: String, fstype: String, options: String, host: String?)] = []
    for line in mountinfo.split(separator: "\n") {
      let halves = String(line).components(separatedBy: " - ")
      guard halves.count == 2 else { continue }
      let left = halves[0].split(separator: " ")
      let right = halves[1].split(separator: " ")
      guard left.count >= 5, right.count >= 3, left[4].hasPrefix("/sys/fs/cgroup/") else { continue }
      let name = String(left[4].dropFirst("/sys/fs/cgroup/".count))
      guard !name.contains("/") else { continue }
      if right[0] == "cgroup2" {
        hierarchies.append((name, "cgroup2", "", hostDirectory(mount: String(left[4]), options: [""])))
      }
      if right[0] == "cgroup" {
        let opts = right[2].split(separator: ",").map(String.init).filter {
          !["rw", "ro", "nosuid", "nodev", "noexec", "relatime"].contains($0)
        }
        hierarchies.append(
          (name, "cgroup", opts.joined(separator: ","), hostDirectory(mount: String(left[4]), options: opts)))
      }
    }
    if mountinfo.contains(" /sys/fs/cgroup ") && mountinfo.contains(" - cgroup2 ") && hierarchies.isEmpty {
      if !ownNamespace, let host = dirs[""] {
        ops.append(
          OCIOp(
            kind: BH_OP_MOUNT, source: host, target: target, flags: bindFlags, what: "\(path) (bind \(host))"))
      } else {
        ops.append(
          OCIOp(
            kind: BH_OP_MOUNT, source: "cgroup", target: target, flags: flags, fstype: "cgroup2",
            what: "\(path) (cgroup2)"))
      }
      return
    }
    guard !hierarchies.isEmpty else { throw .field(path, "no cgroup hierarchy is mounted on this host") }
    let sub = flags & ~UInt(MS_RDONLY)
    ops.append(
      OCIOp(
        kind: BH_OP_MOUNT, source: "tmpfs", target: target, data: "mode=755", flags: sub, fstype: "tmpfs",
        what: "\(path) (tmpfs on \(target))"))
    for h in hierarchies {
      let dir = target + "/" + h.name
      ops.append(OCIOp(kind: BH_OP_MKPATH, target: dir, flags: UInt(BH_MKPATH_ANY_MOUNT), what: "create \(dir)"))
      if !ownNamespace, let host = h.host {
        ops.append(
          OCIOp(kind: BH_OP_MOUNT, source: host, target: dir, flags: bindFlags, what: "\(path) (bind \(host))"))
        continue
      }
      ops.append(
        OCIOp(
          kind: BH_OP_MOUNT, source: "cgroup", target: dir, data: h.options.isEmpty ? nil : h.options, flags: flags,
          fstype: h.fstype, what: "\(path) (\(h.fstype) \(h.options) on \(dir))"))
    }
    if flags & UInt(MS_RDONLY) != 0 {
      ops.append(
        OCIOp(
          kind: BH_OP_MOUNT, source: "tmpfs", target: target, data: "mode=755",
          flags: sub | UInt(MS_REMOUNT) | UInt(MS_RDONLY), fstype: "tmpfs", what: "\(path) (read-only \(target))"))
    }
  }

  /// glibc's makedev (a macro, not imported).
  static func makedev(_ major: UInt64, _ minor: UInt64) -> UInt64 {
    ((major & 0xfff) << 8) | ((major & ~0xfff) << 32) | (minor & 0xff) | ((minor & ~0xff) << 12)
  }

  /// runtime-spec's default devices and links, then linux.devices.
  mutating func planDevices(_ linux: JSONObject?) throws(OCIError) {
    var nodes:
      [(path: String, type: String, major: Int64, minor: Int64, mode: UInt32, uid: UInt32, gid: UInt32, what: String)] =
        [
          ("/dev/null", "c", 1, 3, 0o666, 0, 0, "default device /dev/null"),
          ("/dev/zero", "c", 1, 5, 0o666, 0, 0, "default device /dev/zero"),
          ("/dev/full", "c", 1, 7, 0o666, 0, 0, "default device /dev/full"),
          ("/dev/random", "c", 1, 8, 0o666, 0, 0, "default device /dev/random"),
          ("/dev/urandom", "c", 1, 9, 0o666, 0, 0, "default device /dev/urandom"),
          ("/dev/tty", "c", 5, 0, 0o666, 0, 0, "default device /dev/tty"),
        ]
    for d in try linux?.objects("devices") ?? [] {
      guard let path = try d.string("path"), path.hasPrefix("/dev/"), !path.split(separator: "/").contains("..") else {
        throw .field(d.path + ".path", "must be a path under /dev")
      }
      guard let type = try d.string("type"), ["c", "b", "u", "p"].contains(type) else {
        throw .field(d.path + ".type", "must be c, b, u or p")
      }
      let major = try d.int("major") ?? 0
      let minor = try d.int("minor") ?? 0
      if type != "p" && (!d.has("major") || !d.has("minor")) && (major == 0 && minor == 0) {
        throw .field(d.path, "a character or block device needs major and minor")
      }
      let mode = UInt32(try d.uint("fileMode") ?? 0o666) & 0o7777
      let uid = UInt32(clamping: try d.uint("uid") ?? 0)
      let gid = UInt32(clamping: try d.uint("gid") ?? 0)
      try d.finish()
      nodes.removeAll { $0.path == path }
      nodes.append((path, type, major, minor, mode, uid, gid, "\(d.path) (\(path))"))
    }
    for n in nodes {
      let slash = n.path.lastIndex(of: "/")!
      let dir = String(n.path[..<slash])
      let name = String(n.path[n.path.index(after: slash)...])
      let typeBits: UInt32 = n.type == "b" ? 0o060000 : n.type == "p" ? 0o010000 : 0o020000
      ops.append(OCIOp(kind: BH_OP_MKPATH, target: dir, flags: UInt(BH_MKPATH_ANY_MOUNT), what: "create \(dir)"))
      ops.append(
        OCIOp(
          kind: BH_OP_MKNOD, target: dir, data: name,
          dev: Self.makedev(UInt64(n.major), UInt64(n.minor)), mode: typeBits | n.mode, uid: n.uid,
          gid: n.gid, what: n.what))
    }
    for (name, link) in [
      ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
      ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"),
    ] {
      ops.append(OCIOp(kind: BH_OP_SYMLINK, source: link, target: "/dev", data: name, what: "symlink /dev/\(name)"))
    }
  }
}
