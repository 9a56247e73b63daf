import BulkheadSpec

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Where profiles come from: a file (OCI or Docker form) or the built-in default.
public enum SeccompProfiles {
  /// The flag every profile error names.
  static let field = "--seccomp"
  /// Profiles are tens of kilobytes; this only stops `--seccomp /dev/zero`.
  static let maximumFileSize = 16 << 20

  /// Reads and parses the profile at `path`; see `parse`. A file that cannot be
  /// read is an invalidSpec error carrying errno.
  public static func load(path: String, capabilities: Set<String>, architecture: String, kernel: (Int, Int))
    throws(BulkheadError) -> SeccompProfile
  {
    let bytes = try readFile(path)
    do {
      return try parse(bytes, capabilities: capabilities, architecture: architecture, kernel: kernel)
    } catch {
      var named = error
      named.value = path
      throw named
    }
  }

  /// Parses a profile that is either an OCI `linux.seccomp` object or a Docker
  /// profile, and resolves Docker's conditions the way moby's profiles/seccomp
  /// does (`setupSeccomp`):
  /// - `archMap`: the entry for `architecture` gives `architectures` (it and its
  ///   sub-architectures); none matching leaves the native one only.
  /// - `includes`: a rule is kept only if `architecture` is in its `arches`, every
  ///   one of its `caps` is in `capabilities`, and `kernel` is at least `minKernel`.
  /// - `excludes`: a rule is dropped if `architecture` is in its `arches`, any of
  ///   its `caps` is in `capabilities`, or `kernel` is at least `minKernel`.
  ///
  /// - Parameters:
  ///   - capabilities: the sandbox's effective set, "CAP_SYS_ADMIN" (the prefix
  ///     may be left out; case does not matter).
  ///   - architecture: the running architecture: Docker's name ("amd64", "arm64",
  ///     "x86", "x32", ...) or uname's ("x86_64", "aarch64", ...).
  ///   - kernel: the running kernel's major and minor version (`kernelVersion(release:)`).
  /// - Throws: `BulkheadError.invalidSpec` for field "--seccomp", its reason one
  ///   line naming the JSON path: "syscalls[3].action: unknown action 'SCMP_ACT_FOO'".
  public static func parse(_ json: [UInt8], capabilities: Set<String>, architecture: String, kernel: (Int, Int))
    throws(BulkheadError) -> SeccompProfile
  {
    guard let dockerArchitecture = SeccompArchitecture.dockerName(architecture) else {
      throw .invalidSpec(
        field: field, value: nil, reason: "unknown running architecture '\(architecture)'",
        hint: "expected a name like amd64, x86_64, arm64 or aarch64")
    }
    let document: JSONValue
    do { document = try JSONParser.parse(json) } catch {
      throw .invalidSpec(
        field: field, value: nil, reason: "invalid JSON at line \(error.line), column \(error.column): \(error.message)"
      )
    }
    let written: WrittenProfile
    do { written = try ProfileReader.read(document) } catch {
      throw .invalidSpec(field: field, value: nil, reason: error.reason, hint: error.hint)
    }
    return resolve(
      written, capabilities: Set(capabilities.map(normalizedCapability)), architecture: dockerArchitecture,
      kernel: kernel)
  }

  /// "CAP_SYS_ADMIN" for "sys_admin" and "cap_sys_admin".
  static func normalizedCapability(_ name: String) -> String {
    let upper = name.uppercased()
    return upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
  }

  /// The major and minor version of a kernel release string, as moby reads it
  /// (`"%d.%d"`): "6.18.44-fc-v595" gives (6, 18), "3.12-1-amd64" (3, 12).
  public static func kernelVersion(release: String) -> (Int, Int)? {
    let parts = release.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count >= 2 else { return nil }
    let major = parts[0]
    let minor = parts[1].prefix { $0.isASCII && $0.isNumber }
    guard !major.isEmpty, major.allSatisfy({ $0.isASCII && $0.isNumber }), let a = Int(major), let b = Int(minor) else {
      return nil
    }
    return (a, b)
  }

  /// The running kernel's version, from uname(2).
  public static func runningKernel() throws(BulkheadError) -> (Int, Int) {
    var names = utsname()
    guard uname(&names) == 0 else { throw .setupFailed(step: "uname", errno: errno) }
    let release = withUnsafeBytes(of: &names.release) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    guard let version = kernelVersion(release: release) else {
      throw BulkheadError(code: .unsupported, step: "uname", value: release, reason: "cannot read the kernel version")
    }
    return version
  }

  /// Docker's name of the architecture this process runs on ("amd64"), from libseccomp.
  public static var runningArchitecture: String {
    LibSeccomp.nativeArchitectureDockerName
  }

  private static func readFile(_ path: String) throws(BulkheadError) -> [UInt8] {
    func failure(_ code: Int32) -> BulkheadError {
      BulkheadError(
        code: .invalidSpec, step: field, value: path,
        reason: "cannot read the profile: \(BulkheadError.describe(errno: code))", errno: code)
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw failure(errno) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw failure(errno)
      }
      if count == 0 { return bytes }
      bytes += chunk[0..<count]
      if bytes.count > maximumFileSize {
        throw .invalidSpec(
          field: field, value: path, reason: "the profile is larger than \(maximumFileSize >> 20) MiB")
      }
    }
  }
}
