import CSeccomp

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The few libseccomp look-ups that do not need a filter context.
enum LibSeccomp {
  /// "libseccomp 2.5.4": the library loaded at run time, not the header's.
  static let version: String = {
    guard let v = seccomp_version() else { return "libseccomp" }
    return "libseccomp \(v.pointee.major).\(v.pointee.minor).\(v.pointee.micro)"
  }()

  /// The native number of a system call, a negative pseudo number (`__PNR_*`) for
  /// one the native architecture lacks but another has (libseccomp then drops or
  /// rewrites the rule per architecture), or nil when libseccomp does not know
  /// the name at all.
  static func syscallNumber(_ name: String) -> Int32? {
    let number = seccomp_syscall_resolve_name(name)
    return number == __NR_SCMP_ERROR ? nil : number
  }

  /// The token for an OCI architecture name, or nil when this libseccomp does not know it.
  static func architectureToken(ociName: String) -> UInt32? {
    let token = seccomp_arch_resolve_name(SeccompArchitecture.libseccompName(ociName: ociName))
    return token == 0 ? nil : token
  }

  /// The native architecture's token: its AUDIT_ARCH_* value, as in `seccomp_data.arch`.
  static var nativeArchitectureToken: UInt32 { seccomp_arch_native() }

  /// Docker's name of the native architecture ("amd64").
  static let nativeArchitectureDockerName: String = {
    let native = seccomp_arch_native()
    for oci in SeccompArchitecture.ociNames.sorted() where architectureToken(ociName: oci) == native {
      if let name = SeccompArchitecture.dockerName(oci) { return name }
    }
    return "unknown"
  }()

  /// Every system call name libseccomp knows for the native architecture, in
  /// number order.
  ///
  /// libseccomp 2.5 has no list; this asks it to name each number. Tables start
  /// at 0 on most architectures, at 4000/5000/6000 on MIPS and at 0x40000000 on
  /// x32, and hold fewer than 1024 entries, so the scan starts at `read`'s number
  /// rounded down to a thousand.
  static let nativeSyscallNames: [String] = {
    let native = seccomp_arch_native()
    let read = max(seccomp_syscall_resolve_name_arch(native, "read"), 0)
    let base = read / 1000 * 1000
    var names: [String] = []
    for number in base..<base + 1024 {
      guard let name = seccomp_syscall_resolve_num_arch(native, number) else { continue }
      names.append(String(cString: name))
      free(name)
    }
    return names
  }()
}
