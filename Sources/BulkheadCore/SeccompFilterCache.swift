import BulkheadSeccomp
import BulkheadSpec
import BulkheadSystem
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The built-in default filter, kept on disk between runs. Compiling it with
/// libseccomp costs about 5 ms — as much as the rest of a container's start — and
/// its result depends only on this executable (the profile and the libseccomp it
/// links), so it is compiled once per executable and read back afterwards (one
/// small file). The key is the executable's identity (device, inode, size, mtime)
/// and the architecture; the file carries a checksum. Any failure falls back to
/// compiling. Location: `$XDG_CACHE_HOME/bulkhead`, else `~/.cache/bulkhead`;
/// `BULKHEAD_NO_CACHE=1` turns it off. Deleting it is always safe.
public enum SeccompFilterCache {
  static let magic: UInt64 = 0x3143_5348_4C42_4842  // "BHBLHSC1" as bytes, little-endian

  private static let loaded = Mutex<SeccompFilter?>(nil)

  /// The default filter: once per process from the cache when it is valid, else
  /// compiled and stored; later launches reuse it without touching the disk.
  public static func defaultFilter() throws(BulkheadError) -> SeccompFilter {
    try loaded.withLock { (kept: inout SeccompFilter?) throws(BulkheadError) -> SeccompFilter in
      if let kept { return kept }
      let filter: SeccompFilter
      if let path = cachePath() {
        if let cached = read(path) {
          filter = cached
        } else {
          filter = try SeccompCompiler.defaultFilter()
          write(filter, to: path)
        }
      } else {
        filter = try SeccompCompiler.defaultFilter()
      }
      kept = filter
      return filter
    }
  }

  /// nil when caching is off or no identity or directory can be had.
  public static func cachePath() -> String? {
    if let off = getenv("BULKHEAD_NO_CACHE"), String(cString: off) == "1" { return nil }
    guard let exe = currentExecutablePath() else { return nil }
    var st = stat()
    guard stat(exe, &st) == 0 else { return nil }
    let identity =
      "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(SeccompProfiles.runningArchitecture)"
    let base: String
    if let xdg = getenv("XDG_CACHE_HOME"), xdg.pointee != 0 {
      base = String(cString: xdg)
    } else if let home = getenv("HOME"), home.pointee != 0 {
      base = String(cString: home) + "/.cache"
    } else {
      return nil
    }
    let dir = base + "/bulkhead"
    if mkdir(base, 0o755) != 0 && errno != EEXIST { return nil }
    if mkdir(dir, 0o700) != 0 && errno != EEXIST { return nil }
    return dir + "/seccomp-default-" + String(fnv1a(Array(identity.utf8)), radix: 16) + ".bpf"
  }

  static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
      hash ^= UInt64(b)
      hash = hash &* 0x0000_0100_0000_01b3
    }
    return hash
  }

  static func checksum(_ words: ArraySlice<UInt64>) -> UInt64 {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(words.count * 8)
    for w in words { withUnsafeBytes(of: w) { bytes.append(contentsOf: $0) } }
    return fnv1a(bytes)
  }

  /// Layout, in 64-bit words: magic, flags, count, checksum, then the instructions.
  static func read(_ path: String) -> SeccompFilter? {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_size >= 32, st.st_size % 8 == 0,
      st.st_size <= 32 + 8 * SeccompFilter.maximumInstructions
    else { return nil }
    var words = [UInt64](repeating: 0, count: Int(st.st_size) / 8)
    let n = words.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
    guard n == Int(st.st_size), words[0] == magic, Int(words[2]) == words.count - 4,
      checksum(words[4...]) == words[3]
    else { return nil }
    return SeccompFilter(instructions: Array(words[4...]), flags: UInt32(truncatingIfNeeded: words[1]))
  }

  static func write(_ filter: SeccompFilter, to path: String) {
    let words =
      [magic, UInt64(filter.flags), UInt64(filter.instructions.count), checksum(filter.instructions[...])]
      + filter.instructions
    let temporary = path + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return }
    let n = words.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    close(fd)
    if n != words.count * 8 || rename(temporary, path) != 0 { unlink(temporary) }
  }
}
