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

/// Whether `path` is a directory.
public func isDirectory(_ path: String) -> Bool {
  var st = stat()
  return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}
