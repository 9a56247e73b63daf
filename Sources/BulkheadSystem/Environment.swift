#if canImport(Glibc)
  import Glibc
#endif

/// The process's environment, in order, as (name, value) pairs.
public func hostEnvironment() -> [(name: String, value: String)] {
  var out: [(String, String)] = []
  var p = environ
  while let entry = p.pointee {
    let text = String(cString: entry)
    if let eq = text.firstIndex(of: "=") {
      out.append((String(text[..<eq]), String(text[text.index(after: eq)...])))
    }
    p += 1
  }
  return out
}

/// The real path of the running executable (/proc/self/exe).
public func currentExecutablePath() -> String? { readLink("/proc/self/exe") }

/// Names in a directory, without "." and ".."; empty when it cannot be opened.
public func listDirectory(_ path: String) -> [String] {
  guard let dir = opendir(path) else { return [] }
  defer { closedir(dir) }
  var out: [String] = []
  while let entry = readdir(dir) {
    let name = withUnsafePointer(to: entry.pointee.d_name) {
      $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
    }
    if name != "." && name != ".." { out.append(name) }
  }
  return out
}

/// Whether `path` is a directory.
public func isDirectory(_ path: String) -> Bool {
  var st = stat()
  return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// The whole file as text (read to EOF, EINTR retried); nil when it cannot be opened.
public func readTextFile(_ path: String) -> String? {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var out: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 8192)
  while true {
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { break }
    out.append(contentsOf: buffer[0..<n])
  }
  return String(decoding: out, as: UTF8.self)
}
