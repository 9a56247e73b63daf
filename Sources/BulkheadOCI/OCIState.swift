import BulkheadSpec
import BulkheadSystem
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What `<root>/<ID>/state.json` holds: runtime-spec's state plus what Bulkhead
/// needs to derive the status and undo `create` (the init's start time, the cgroups).
public struct OCIStateFile: Codable, Sendable, Equatable {
  public var ociVersion: String
  public var id: String
  public var pid: Int32
  public var bundle: String
  public var created: String
  public var annotations: [String: String]
  /// /proc/PID/stat field 22 when the init was created: a reused pid has another.
  public var startTime: UInt64
  public var cgroups: [String: String]
  public var cgroupsCreated: [String]
}

/// runtime-spec's state document, with the status derived from the init.
public struct OCIStateDocument: Codable, Sendable, Equatable {
  public var ociVersion: String
  public var id: String
  public var status: String
  public var pid: Int32
  public var bundle: String
  public var created: String
  public var annotations: [String: String]?
}

public enum OCIStatus: String, Sendable {
  case creating, created, running, paused, stopped
}

/// The init's start time from /proc/PID/stat (field 22), and whether it is a zombie.
func processStart(_ pid: Int32) -> (start: UInt64, zombie: Bool)? {
  guard pid > 0, let text = readTextFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
  let fields = text[text.index(after: close)...].split(separator: " ")
  // fields[0] is the state (field 3); the start time is field 22.
  guard fields.count > 19, let start = UInt64(fields[19]) else { return nil }
  return (start, fields[0] == "Z" || fields[0] == "X")
}

/// The state directory of one root: creation by mkdir, updates by rename, an flock
/// per container for the commands that change it.
public struct OCIStore: Sendable {
  public let root: String

  public init(root: String) { self.root = root }

  /// IDs are names, not paths: no "/", no "..", nothing that could leave the root.
  public static func validate(id: String) throws(OCIError) {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")
    guard !id.isEmpty, id.count <= 1024, id != ".", id != "..", !id.hasPrefix("."),
      id.allSatisfy({ allowed.contains($0) })
    else {
      throw OCIError(
        "invalid container id \(BulkheadError.oneLine(id).debugDescription): use letters, digits, _ + - . (not leading)"
      )
    }
  }

  public func directory(_ id: String) -> String { root + "/" + id }

  func ensureRoot() throws(OCIError) {
    var p = ""
    for part in root.split(separator: "/") {
      p += "/" + part
      if mkdir(p, 0o711) != 0 && errno != EEXIST {
        throw OCIError("create the state root \(p): \(BulkheadError.describe(errno: errno).lowercased())")
      }
    }
  }

  /// Opens and flocks the container's directory; "container does not exist" when it does not.
  func lock(_ id: String) throws(OCIError) -> Int32 {
    let fd = open(directory(id), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else {
      if errno == ENOENT || errno == ENOTDIR { throw .notExist(id) }
      throw OCIError("open the state of \(id): \(BulkheadError.describe(errno: errno).lowercased())")
    }
    while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
    return fd
  }

  func read(_ id: String) throws(OCIError) -> OCIStateFile {
    guard let text = readTextFile(directory(id) + "/state.json"),
      let state = try? JSONDecoder().decode(OCIStateFile.self, from: Data(text.utf8))
    else { throw .notExist(id) }
    return state
  }

  /// Writes `data` to `path` through a temporary file and rename (no partial file is ever seen).
  static func writeAtomically(_ data: Data, to path: String) throws(OCIError) {
    let tmp = path + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { throw OCIError("open \(tmp): \(BulkheadError.describe(errno: errno).lowercased())") }
    let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    let err = errno
    close(fd)
    guard n == data.count, rename(tmp, path) == 0 else {
      unlink(tmp)
      throw OCIError("write \(path): \(BulkheadError.describe(errno: n == data.count ? errno : err).lowercased())")
    }
  }

  /// The derived status: an init that is gone, a zombie, or another process under
  /// its pid is stopped; alive with exec.fifo still there is created; else running.
  public func status(_ state: OCIStateFile) -> OCIStatus {
    guard let info = processStart(state.pid), !info.zombie, info.start == state.startTime else { return .stopped }
    if OCICgroup.frozen(state.cgroups) { return .paused }
    return access(directory(state.id) + "/exec.fifo", F_OK) == 0 ? .created : .running
  }

  /// The containers of this root, by name (state directories with a state file).
  func list() -> [OCIStateFile] {
    listDirectory(root).sorted().compactMap { name in
      guard !name.hasPrefix("."), (try? Self.validate(id: name)) != nil else { return nil }
      return try? read(name)
    }
  }

  public func document(_ state: OCIStateFile) -> OCIStateDocument {
    let status = status(state)
    return OCIStateDocument(
      ociVersion: state.ociVersion, id: state.id, status: status.rawValue, pid: status == .stopped ? 0 : state.pid,
      bundle: state.bundle, created: state.created, annotations: state.annotations.isEmpty ? nil : state.annotations)
  }

  /// Removes what killed `create`s left: `.creating-ID-PID` directories whose PID is
  /// gone, with the cgroups they recorded before making them.
  func sweep() {
    for name in listDirectory(root) where name.hasPrefix(".creating-") {
      guard let dash = name.lastIndex(of: "-"), let pid = Int32(name[name.index(after: dash)...]) else { continue }
      if pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH { continue }
      let dir = root + "/" + name
      if let text = readTextFile(dir + "/cgroups"),
        let created = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
      {
        OCICgroup.remove(created)
      }
      Self.removeDirectory(dir)
    }
  }

  static func removeDirectory(_ dir: String) {
    for name in listDirectory(dir) { unlink(dir + "/" + name) }
    rmdir(dir)
  }
}
