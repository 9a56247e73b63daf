import BulkheadSeccomp
import BulkheadSpec
import BulkheadSystem
import CBulkhead
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One operation for the child path, with every field `bh_op` has.
public struct OCIOp: Sendable, Equatable {
  public var kind: bh_op_kind
  public var source: String?
  public var target: String
  public var data: String?
  public var flags: UInt = 0
  public var fstype: String?
  public var propagation: UInt = 0
  public var dev: UInt64 = 0
  public var mode: UInt32 = 0
  public var uid: UInt32 = 0
  public var gid: UInt32 = 0
  public var what: String
}

/// A device rule of the v1 devices controller: the line written to devices.allow or devices.deny.
public struct DeviceRule: Sendable, Equatable, Codable {
  public var allow: Bool
  public var line: String
}

/// The cgroup resources Bulkhead applies (linux.resources); any other is refused.
public struct OCIResources: Sendable, Equatable, Codable {
  public var memoryLimit: Int64?
  public var memorySwap: Int64?
  public var memoryReservation: Int64?
  public var pidsLimit: Int64?
  public var cpuShares: UInt64?
  public var cpuQuota: Int64?
  public var cpuPeriod: UInt64?
  public var memoryKernel: Int64?
  public var memoryKernelTCP: Int64?
  public var memorySwappiness: UInt64?
  public var disableOOMKiller: Bool?
  public var useHierarchy: Bool?
  public var cpus: String?
  public var mems: String?
  public var realtimeRuntime: Int64?
  public var realtimePeriod: UInt64?
  public var cpuBurst: UInt64?
  public var cpuIdle: Int64?
  public var devices: [DeviceRule] = []
}

/// A namespace of `kind` joined at `path` (a pod's shared network, IPC, UTS).
public struct NamespaceJoin: Sendable, Equatable {
  public var kind: NamespaceKind
  public var path: String
}

/// config.json, parsed and checked: what the child path will apply, literally.
/// Every field Bulkhead cannot apply is refused with its JSON path.
public struct OCIConfig: Sendable {
  public static let specVersion = "1.0.2"

  public var ociVersion = ""
  public var rootfs = ""
  public var rootReadonly = false
  public var rootPropagation: UInt = 0
  public var terminal = false
  public var consoleRows: UInt16 = 0
  public var consoleCols: UInt16 = 0
  public var args: [String] = []
  public var env: [String] = []
  public var cwd = "/"
  public var uid: UInt32 = 0
  public var gid: UInt32 = 0
  public var additionalGids: [UInt32] = []
  public var umask: UInt32?
  public var bounding: UInt64 = 0
  public var effective: UInt64 = 0
  public var permitted: UInt64 = 0
  public var inheritable: UInt64 = 0
  public var ambient: UInt64 = 0
  public var rlimits: [bh_rlimit] = []
  public var noNewPrivileges = false
  public var oomScoreAdj: Int64?
  public var hostname: String?
  public var domainname: String?
  public var ops: [OCIOp] = []
  public var postOps: [OCIOp] = []
  /// The namespaces made for the container (clone flags).
  public var namespaces: Set<NamespaceKind> = []
  /// The namespaces joined by path instead (linux.namespaces[].path).
  public var joins: [NamespaceJoin] = []
  public var seccomp: SeccompFilter?
  public var cgroupsPath = ""
  public var resources = OCIResources()
  public var annotations: [String: String] = [:]
  public var hooks = OCIHooks()
  /// The bytes it was read from (kept with the state for `exec`).
  public var source = Data()

  /// Reads `bundle/config.json` (at most 16 MiB).
  /// Reads `bundle/config.json`, or `file` (the copy `create` keeps for `exec`).
  public static func load(bundle: String, id: String, file: String? = nil) throws(OCIError) -> OCIConfig {
    let path = file ?? bundle + "/config.json"
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else {
      throw OCIError("open \(path): \(BulkheadError.describe(errno: errno).lowercased())")
    }
    defer { close(fd) }
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(fd, &buffer, buffer.count)
      if n < 0 && errno == EINTR { continue }
      if n < 0 { throw OCIError("read \(path): \(BulkheadError.describe(errno: errno).lowercased())") }
      if n == 0 { break }
      data.append(contentsOf: buffer[0..<n])
      if data.count > 16 << 20 { throw OCIError("config.json: larger than 16 MiB") }
    }
    var config = try parse(data, bundle: bundle, id: id)
    config.source = data
    return config
  }

  public static func parse(_ data: Data, bundle: String, id: String) throws(OCIError) -> OCIConfig {
    let top = try JSONObject.parse(data)
    var c = OCIConfig()
    guard let version = try top.string("ociVersion") else { throw .field("ociVersion", "missing") }
    guard version.hasPrefix("1.0") || version.hasPrefix("1.1") || version.hasPrefix("1.2") else {
      throw .field("ociVersion", "\(version) is not a runtime-spec 1.x version")
    }
    c.ociVersion = version
    c.annotations = try top.stringMap("annotations") ?? [:]
    guard let root = try top.object("root") else { throw .field("root", "missing") }
    guard let rootPath = try root.string("path"), !rootPath.isEmpty else { throw .field("root.path", "missing") }
    c.rootReadonly = try root.bool("readonly") ?? false
    try root.finish()
    c.rootfs = try resolveRoot(rootPath, bundle: bundle)
    c.hostname = try top.string("hostname")
    c.domainname = try top.string("domainname")
    guard let process = try top.object("process") else {
      throw .field("process", "missing (bulkhead runs a process in every container)")
    }
    try c.parseProcess(process)
    let linux = try top.object("linux")
    let mounts = try top.objects("mounts") ?? []
    if let linux { try c.parseLinux(linux, id: id) }
    guard c.namespaces.contains(.mnt) || c.joins.contains(where: { $0.kind == .mnt }) else {
      throw .field("linux.namespaces", "a mount namespace is required (pivot_root happens in it)")
    }
    if (c.hostname != nil && !(c.hostname ?? "").isEmpty) || (c.domainname != nil && !(c.domainname ?? "").isEmpty),
      !c.namespaces.contains(.uts)
    {
      throw .field("hostname", "set without a new uts namespace (a joined one keeps its own name)")
    }
    try c.planMounts(mounts, bundle: bundle, linux: linux, id: id)
    if c.terminal {
      // The pty's slave is bound here (runtime-spec's /dev/console), in the
      // container's /dev whatever it is mounted from.
      c.ops.append(
        OCIOp(
          kind: BH_OP_MKPATH, target: "/dev/console", flags: UInt(BH_MKPATH_ANY_MOUNT | BH_MKPATH_FILE),
          what: "create /dev/console"))
    }
    try linux?.finish()
    if let hooks = try top.object("hooks") { c.hooks = try OCIHooks.parse(hooks) }
    try top.finish()
    return c
  }

  static func resolveRoot(_ path: String, bundle: String) throws(OCIError) -> String {
    let joined = path.hasPrefix("/") ? path : bundle + "/" + path
    guard let real = realpath(joined, nil) else {
      throw .field("root.path", "\(joined): \(BulkheadError.describe(errno: errno).lowercased())")
    }
    defer { free(real) }
    let resolved = String(cString: real)
    // A relative root is inside the bundle: a symlink leading out of it is refused.
    if !path.hasPrefix("/") && !(resolved + "/").hasPrefix(bundle + "/") {
      throw .field("root.path", "\(path) leads out of the bundle (to \(resolved))")
    }
    if resolved == "/" { throw .field("root.path", "the host's / is not a container root") }
    var st = stat()
    guard stat(resolved, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
      throw .field("root.path", "\(resolved) is not a directory")
    }
    return resolved
  }

  mutating func parseProcess(_ p: JSONObject) throws(OCIError) {
    terminal = try p.bool("terminal") ?? false
    if let size = try p.object("consoleSize") {
      let height = try size.int("height") ?? 0
      let width = try size.int("width") ?? 0
      guard (0...65535).contains(height), (0...65535).contains(width) else {
        throw .field("process.consoleSize", "height and width must be 0...65535")
      }
      consoleRows = UInt16(height)
      consoleCols = UInt16(width)
      try size.finish()
    }
    guard let args = try p.strings("args"), !args.isEmpty, !args[0].isEmpty else {
      throw .field("process.args", "missing or empty")
    }
    for (i, a) in args.enumerated() where a.utf8.contains(0) { throw .field("process.args[\(i)]", "contains NUL") }
    self.args = args
    env = try p.strings("env") ?? []
    for (i, e) in env.enumerated() where !e.contains("=") || e.utf8.contains(0) {
      throw .field("process.env[\(i)]", "expected NAME=VALUE")
    }
    guard let cwd = try p.string("cwd"), cwd.hasPrefix("/") else {
      throw .field("process.cwd", "must be an absolute path")
    }
    self.cwd = cwd
    if let user = try p.object("user") {
      uid = UInt32(clamping: try user.uint("uid") ?? 0)
      gid = UInt32(clamping: try user.uint("gid") ?? 0)
      if let um = try user.uint("umask") {
        guard um <= 0o777 else { throw .field("process.user.umask", "must be at most 0777") }
        umask = UInt32(um)
      }
      if let gids = try user.array("additionalGids") {
        for (i, g) in gids.enumerated() {
          guard let n = g as? NSNumber, !JSONObject.isBool(g), n.int64Value >= 0, n.int64Value <= UInt32.max else {
            throw .field("process.user.additionalGids[\(i)]", "must be a gid")
          }
          additionalGids.append(UInt32(n.int64Value))
        }
      }
      if let name = try user.string("username"), !name.isEmpty {
        throw .field("process.user.username", "names are for Windows; give uid and gid")
      }
      try user.finish()
    }
    if let caps = try p.object("capabilities") {
      func mask(_ key: String) throws(OCIError) -> UInt64 {
        var m: UInt64 = 0
        for (i, name) in (try caps.strings(key) ?? []).enumerated() {
          guard name.uppercased().hasPrefix("CAP_"), let n = Capabilities.number(of: name) else {
            throw .field("process.capabilities.\(key)[\(i)]", "unknown capability \(name)")
          }
          // A capability newer than this kernel is skipped, as runc and crun do.
          if n <= Capabilities.lastCapability && n < 64 { m |= 1 << UInt64(n) }
        }
        return m
      }
      bounding = try mask("bounding")
      effective = try mask("effective")
      permitted = try mask("permitted")
      inheritable = try mask("inheritable")
      ambient = try mask("ambient")
      try caps.finish()
    }
    if let limits = try p.objects("rlimits") {
      let resources: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
        "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
        "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
      ]
      var seen: Set<String> = []
      for limit in limits {
        guard let type = try limit.string("type"), let resource = resources[type] else {
          throw .field(limit.path + ".type", "unknown resource limit")
        }
        guard seen.insert(type).inserted else { throw .field(limit.path + ".type", "\(type) given twice") }
        guard let hard = try limit.uint("hard"), let soft = try limit.uint("soft") else {
          throw .field(limit.path, "needs soft and hard")
        }
        guard soft <= hard else { throw .field(limit.path, "soft is above hard") }
        try limit.finish()
        var entry = bh_rlimit()
        entry.resource = resource
        entry.limit = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        rlimits.append(entry)
      }
    }
    noNewPrivileges = try p.bool("noNewPrivileges") ?? false
    oomScoreAdj = try p.int("oomScoreAdj")
    if let adj = oomScoreAdj, adj < -1000 || adj > 1000 {
      throw .field("process.oomScoreAdj", "must be within -1000...1000")
    }
    if let profile = try p.string("apparmorProfile"), !profile.isEmpty {
      throw .field("process.apparmorProfile", "AppArmor is not available to bulkhead")
    }
    if let label = try p.string("selinuxLabel"), !label.isEmpty {
      throw .field("process.selinuxLabel", "SELinux is not available to bulkhead")
    }
    try p.finish()
  }
}
