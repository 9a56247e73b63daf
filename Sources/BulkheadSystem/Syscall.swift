import BulkheadSpec
import CBulkhead

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The calling thread's errno.
public var currentErrno: Int32 { errno }

/// Runs a system call that returns -1 and sets errno on failure, retrying on EINTR,
/// and turns a failure into a `BulkheadError` naming `step`.
@discardableResult
public func syscallChecked<T: FixedWidthInteger>(
  _ step: String, value: String? = nil, hint: String? = nil, _ call: () -> T
) throws(BulkheadError) -> T {
  while true {
    let result = call()
    if result != -1 { return result }
    let err = errno
    if err == EINTR { continue }
    throw .setupFailed(step: step, value: value, errno: err, hint: hint)
  }
}

/// A descriptor this process owns; closed exactly once by `close()`.
public struct FileDescriptor: Sendable, Hashable {
  public let rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }

  public func close() { _ = Glibc.close(rawValue) }

  /// A close-on-exec pipe: (read end, write end).
  public static func pipe(step: String = "pipe2") throws(BulkheadError) -> (
    read: FileDescriptor, write: FileDescriptor
  ) {
    var fds: [Int32] = [-1, -1]
    try syscallChecked(step) { bh_pipe_cloexec(&fds) }
    return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
  }

  /// Whether `fd` is open in this process (F_GETFD succeeds).
  public static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

  nonisolated(unsafe) private static var inherited: Set<Int32>?

  /// Notes which descriptors are open now: called first thing by the CLI, so that
  /// `wasInherited` can tell the caller's descriptors from bulkhead's own.
  public static func recordInherited() {
    var fds = Set<Int32>()
    if let dir = opendir("/proc/self/fd") {
      let own = dirfd(dir)
      while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
          $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if let fd = Int32(name), fd != own { fds.insert(fd) }
      }
      closedir(dir)
    }
    inherited = fds
  }

  /// Whether `fd` was open when the process started (when recorded), else whether it is open.
  public static func wasInherited(_ fd: Int32) -> Bool {
    guard let inherited else { return isOpen(fd) }
    return inherited.contains(fd) && isOpen(fd)
  }
}

/// Whether the process runs as root in the initial user namespace's eyes.
public var isRoot: Bool { geteuid() == 0 }
