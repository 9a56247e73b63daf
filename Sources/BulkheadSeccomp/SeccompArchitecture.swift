/// The three ways architectures are named around seccomp profiles, and the maps
/// between them:
/// - OCI names (`SCMP_ARCH_X86_64`), in `architectures` and Docker's `archMap`;
/// - libseccomp's names (`x86_64`), for `seccomp_arch_resolve_name`;
/// - Docker's names (`amd64`), in `includes.arches`/`excludes.arches`, which are
///   Go's GOARCH spellings as moby's profiles/seccomp maps them (`goToNative`).
enum SeccompArchitecture {
  /// Every architecture the runtime spec (config-linux.md) names. A name may be
  /// valid here and still unknown to the installed libseccomp (LOONGARCH64 needs
  /// libseccomp 2.6); that is reported when a filter is compiled for it.
  static let ociNames: Set<String> = [
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
  ]

  /// `x86_64` for `SCMP_ARCH_X86_64`: libseccomp's names are the OCI suffixes in
  /// lower case.
  static func libseccompName(ociName: String) -> String {
    String(ociName.dropFirst("SCMP_ARCH_".count)).lowercased()
  }

  /// Docker's name for each architecture, with its OCI name. `mips3l64n32` is
  /// moby's spelling (sic) of little-endian mips64n32; profiles use it.
  static let dockerToOCI: [String: String] = [
    "amd64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86", "x32": "SCMP_ARCH_X32",
    "arm": "SCMP_ARCH_ARM", "arm64": "SCMP_ARCH_AARCH64",
    "mips": "SCMP_ARCH_MIPS", "mipsle": "SCMP_ARCH_MIPSEL", "mipsel": "SCMP_ARCH_MIPSEL",
    "mips64": "SCMP_ARCH_MIPS64", "mips64n32": "SCMP_ARCH_MIPS64N32",
    "mipsel64": "SCMP_ARCH_MIPSEL64", "mips3l64n32": "SCMP_ARCH_MIPSEL64N32", "mipsel64n32": "SCMP_ARCH_MIPSEL64N32",
    "ppc": "SCMP_ARCH_PPC", "ppc64": "SCMP_ARCH_PPC64", "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390": "SCMP_ARCH_S390", "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64", "loongarch64": "SCMP_ARCH_LOONGARCH64", "loong64": "SCMP_ARCH_LOONGARCH64",
    "parisc": "SCMP_ARCH_PARISC", "parisc64": "SCMP_ARCH_PARISC64",
  ]

  /// Other spellings of the running architecture (uname -m, GOARCH) and Docker's name for each.
  private static let aliases: [String: String] = [
    "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "x86", "i486": "x86", "i586": "x86",
    "i686": "x86", "386": "x86", "armv6l": "arm", "armv7l": "arm", "armhf": "arm", "armel": "arm",
    "mipsle": "mipsel", "mips64le": "mipsel64", "mips64p32": "mips64n32", "mips64p32le": "mips3l64n32",
    "loong64": "loongarch64",
  ]

  /// Docker's name for the running architecture given in any usual spelling
  /// ("x86_64" and "amd64" both give "amd64"); nil if unknown.
  static func dockerName(_ architecture: String) -> String? {
    let lower = architecture.lowercased()
    if let alias = aliases[lower] { return alias }
    if dockerToOCI[lower] != nil { return lower }
    // An OCI name of the running architecture is accepted too.
    let upper = architecture.uppercased()
    return dockerToOCI.filter { $0.value == upper }.keys.map { aliases[$0] ?? $0 }.sorted().first
  }
}
