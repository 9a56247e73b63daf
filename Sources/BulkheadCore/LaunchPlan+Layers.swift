import BulkheadSpec
import BulkheadSystem
import CBulkhead

#if canImport(Glibc)
  import Glibc
#endif

/// The layers Bulkhead makes of its own: the host view's root, overlay upper layers,
/// and the mount points it creates in them. Everything here is planned in the parent;
/// the child only issues the mounts (`child.c`: the staging ops, BH_OP_MKPATH,
/// BH_OP_OVERLAY, BH_OP_COPY).
extension LaunchPlan {
  /// The size of the tmpfs that holds `--overlay` and `--bind-overlay` writes (memory:
  /// under --memory it counts against the sandbox's cgroup), and of the host view's
  /// root without an overlay (it only holds the /etc copies and mount points).
  public static let overlaySize = "512m"
  public static let hostViewRootSize = "8m"

  /// The empty directory the child mounts its staging tmpfs on, in its own mount
  /// namespace only (the host never sees that mount, and it ends with the namespace,
  /// even when bulkhead is SIGKILLed). One per user, never per run: as root
  /// `/run/bulkhead/stage`, else the first of `$XDG_RUNTIME_DIR/bulkhead/stage`,
  /// `~/.cache/bulkhead/stage`, `/tmp/bulkhead-UID/stage` that can be made. Mode
  /// 0755: a user namespace's root must traverse it.
  static func stagingDirectory() throws(BulkheadError) -> String {
    var bases: [String] = []
    if geteuid() == 0 {
      bases.append("/run/bulkhead")
    } else {
      if let xdg = getenv("XDG_RUNTIME_DIR"), xdg.pointee != 0 { bases.append(String(cString: xdg) + "/bulkhead") }
      if let home = getenv("HOME"), home.pointee != 0 { bases.append(String(cString: home) + "/.cache/bulkhead") }
      bases.append("/tmp/bulkhead-\(geteuid())")
    }
    var failure: BulkheadError? = nil
    for base in bases {
      do throws(BulkheadError) {
        return try makeStagingDirectory(base + "/stage")
      } catch {
        failure = failure ?? error
      }
    }
    throw failure ?? .setupFailed(step: "staging directory", value: nil, errno: ENOENT)
  }

  /// mkdir -p `path` (0755), then checks that it is a directory of bulkhead's own
  /// user and not a symlink (in a shared /tmp another user could have made it).
  static func makeStagingDirectory(_ path: String) throws(BulkheadError) -> String {
    var prefix = ""
    for component in path.split(separator: "/") {
      prefix += "/\(component)"
      if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
        throw .setupFailed(step: "staging directory", value: prefix, errno: errno)
      }
    }
    var st = stat()
    guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid() else {
      throw .setupFailed(
        step: "staging directory", value: path, errno: ENOTDIR,
        hint: "it must be a directory of bulkhead's user, not a symlink; remove it and retry")
    }
    return path
  }

  /// What the layer planning decided: ops applied on the host's paths before the
  /// rootfs is bound, the root the child binds and pivots into, and which mount
  /// points inside are Bulkhead's own (mount points may be created there).
  struct Layers {
    var stage: [Op] = []
    var childRoot: String
    /// Mount points inside, in plan order; `owned`: a Bulkhead tmpfs or overlay.
    var mounts: [(path: String, owned: Bool)] = []
    var overlays = 0
    var stagingDirectory: String?

    /// The deepest mount that holds `path`, and whether Bulkhead owns it.
    func layer(of path: String) -> (path: String, owned: Bool)? {
      mounts.filter { path == $0.path || $0.path == "/" || path.hasPrefix($0.path + "/") }
        .max(by: { $0.path.count < $1.path.count })
    }
  }

  /// Characters overlayfs's option string cannot carry in a path.
  static func checkOverlayPath(_ path: String, field: String) throws(BulkheadError) {
    if path.contains(where: { $0 == "," || $0 == ":" || $0 == "\\" || $0 == "\n" }) {
      throw .invalidSpec(
        field: field, value: path, reason: "overlayfs cannot take a path with ',', ':' or '\\'",
        hint: "rename the directory or bind it elsewhere first")
    }
  }

  /// Upper and work directories of the next overlay: in the staging tmpfs, or for the
  /// root with --overlay-dir in DIR/upper/PATH and DIR/work/PATH (made here, on the host).
  static func overlayOptions(
    lower: String, insidePath: String, layers: inout Layers, keepIn upperDirectory: String?, userNamespace: Bool
  ) throws(BulkheadError) -> String {
    try checkOverlayPath(lower, field: "overlay lower layer")
    let upper: String
    let work: String
    if let upperDirectory {
      try checkOverlayPath(upperDirectory, field: "--overlay-dir")
      let suffix = insidePath == "/" ? "" : insidePath
      upper = upperDirectory + "/upper" + suffix
      work = upperDirectory + "/work" + suffix
      for dir in [upper, work] { try makeHostDirectories(dir) }
    } else {
      guard let staging = layers.stagingDirectory else { preconditionFailure("overlay without staging") }
      let n = layers.overlays
      upper = staging + "/u\(n)"
      work = staging + "/w\(n)"
      layers.stage.append(
        Op(kind: Int32(BH_OP_MKDIR.rawValue), target: staging, data: "u\(n)", flags: 0, what: "create \(upper)"))
      layers.stage.append(
        Op(kind: Int32(BH_OP_MKDIR.rawValue), target: staging, data: "w\(n)", flags: 0, what: "create \(work)"))
    }
    layers.overlays += 1
    return "lowerdir=\(lower),upperdir=\(upper),workdir=\(work)\(userNamespace ? ",userxattr" : "")"
  }

  /// mkdir -p on the host, for --overlay-dir (a directory the user named).
  static func makeHostDirectories(_ path: String) throws(BulkheadError) {
    var prefix = ""
    for component in path.split(separator: "/") {
      prefix += "/\(component)"
      if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
        throw .setupFailed(step: "--overlay-dir", value: prefix, errno: errno)
      }
    }
  }

  /// Plans the staging layer and the root: a rootfs bound as it is (nothing staged),
  /// a rootfs under an overlay, or the host view (optionally under overlays).
  static func planLayers(spec: Spec, rootfs: String?, userNamespace: Bool) throws(BulkheadError) -> Layers {
    let needsOverlay = spec.overlay != nil || spec.mounts.contains { if case .overlay = $0 { true } else { false } }
    guard spec.hostView != nil || needsOverlay else {
      var layers = Layers(childRoot: rootfs ?? "/")
      layers.mounts = [("/", false)]
      return layers
    }
    let staging = try stagingDirectory()
    let root = staging + "/root"
    var layers = Layers(childRoot: root)
    layers.stagingDirectory = staging
    let nosuid = UInt(MS_NOSUID)
    let nodev = UInt(MS_NODEV)
    // Sized for the throwaway writes when there are any (a --bind-overlay's too, also
    // beside --overlay-dir); else it holds only the host view's /etc copies.
    let size = spec.hasThrowawayLayer ? spec.overlaySizeBytes.map { "\($0)" } ?? overlaySize : hostViewRootSize
    layers.stage.append(
      Op(
        kind: Int32(BH_OP_TMPFS.rawValue), target: staging, data: "mode=0755,size=\(size)", flags: nosuid | nodev,
        what: "the staging tmpfs on \(staging)"))
    layers.stage.append(
      Op(kind: Int32(BH_OP_MKDIR.rawValue), target: staging, data: "root", flags: 0, what: "create \(root)"))
    if let rootfs {
      if let overlay = spec.overlay {
        let options = try overlayOptions(
          lower: rootfs, insidePath: "/", layers: &layers, keepIn: overlay.upperDirectory,
          userNamespace: userNamespace)
        layers.stage.append(
          Op(
            kind: Int32(BH_OP_OVERLAY.rawValue), target: root, data: options, flags: 0,
            what: "overlay over \(rootfs)"))
        layers.mounts = [("/", true)]
      } else {
        // Only --bind-overlay needs the staging tmpfs: the rootfs itself is bound as always.
        layers.childRoot = rootfs
        layers.mounts = [("/", false)]
      }
    } else {
      layers.mounts = [("/", true)]  // the host view's root is the staging tmpfs
    }
    return layers
  }

  /// The host view inside the (empty) root: system directories bound read-only (or
  /// overlaid), their symlinks recreated, the listed /etc files copied.
  static func hostViewOps(_ view: HostView, spec: Spec, layers: inout Layers, userNamespace: Bool)
    throws(BulkheadError) -> [Op]
  {
    var ops: [Op] = []
    func parentAndName(_ path: String) -> (String, String) {
      let normal = MountSpec.normalize(path)
      let slash = normal.lastIndex(of: "/")!
      let parent = slash == normal.startIndex ? "/" : String(normal[..<slash])
      return (parent, String(normal[normal.index(after: slash)...]))
    }
    func makeParent(_ parent: String) {
      if parent != "/" {
        ops.append(
          Op(kind: Int32(BH_OP_MKPATH.rawValue), source: "/", target: parent, flags: 0, what: "create \(parent)"))
      }
    }
    for path in view.directories {
      let normal = MountSpec.normalize(path)
      var st = stat()
      guard lstat(normal, &st) == 0 else { continue }
      let (parent, name) = parentAndName(normal)
      makeParent(parent)
      if (st.st_mode & S_IFMT) == S_IFLNK {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(normal, &buffer, buffer.count - 1)
        guard n > 0 else { continue }
        let text = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        ops.append(
          Op(
            kind: Int32(BH_OP_SYMLINK.rawValue), source: text, target: parent, data: name, flags: 0,
            what: "symlink \(normal) -> \(text)"))
        continue
      }
      guard (st.st_mode & S_IFMT) == S_IFDIR else { continue }
      ops.append(Op(kind: Int32(BH_OP_MKDIR.rawValue), target: parent, data: name, flags: 0, what: "create \(normal)"))
      if let overlay = spec.overlay {
        let options = try overlayOptions(
          lower: normal, insidePath: normal, layers: &layers, keepIn: overlay.upperDirectory,
          userNamespace: userNamespace)
        ops.append(
          Op(
            kind: Int32(BH_OP_OVERLAY.rawValue), target: normal, data: options, flags: 0,
            what: "overlay over the host's \(normal)"))
        layers.mounts.append((normal, true))
      } else {
        ops.append(
          Op(
            kind: Int32(BH_OP_BIND.rawValue), source: normal, target: normal, flags: UInt(MS_RDONLY),
            what: "bind the host's \(normal) (ro)"))
        layers.mounts.append((normal, false))
      }
    }
    for path in view.files {
      let normal = MountSpec.normalize(path)
      var st = stat()
      guard stat(normal, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
      let (parent, name) = parentAndName(normal)
      makeParent(parent)
      ops.append(
        Op(
          kind: Int32(BH_OP_COPY.rawValue), source: normal, target: parent, data: name, flags: 0,
          what: "copy the host's \(normal)", optional: true))
    }
    return ops
  }

  /// A mount target under /proc or /dev would mask what Bulkhead made there (the
  /// read-only /proc paths, the minimal /dev): refused before anything starts.
  static func checkTarget(_ mount: MountSpec, _ target: String) throws(BulkheadError) {
    for reserved in ["/proc", "/dev"] where target == reserved || target.hasPrefix(reserved + "/") {
      throw BulkheadError(
        code: .unsupported, step: mount.flag, value: target,
        reason: "Bulkhead does not mount over \(reserved) (it keeps its own \(reserved) there)",
        hint: "choose a target outside /proc and /dev, e.g. /mnt/x")
    }
  }
}
