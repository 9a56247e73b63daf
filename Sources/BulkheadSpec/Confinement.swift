/// What the workload may do once it runs: seccomp, capabilities, identity, resource
/// limits, and whether a user namespace maps it. Names stay as users wrote them; the
/// launcher resolves them (libcap, libseccomp) in the parent.
public struct Confinement: Sendable, Codable, Equatable {
  /// "default", "unconfined", or the path of an OCI or Docker profile; nil: the
  /// level's default ("default" in a container, "unconfined" for a process).
  public var seccomp: String?
  /// Capabilities added to or dropped from the level's default set (names or "all").
  public var capAdd: [String]
  public var capDrop: [String]
  /// The identity inside; nil: unchanged (root in a container).
  public var user: UserIdentity?
  /// Resource limits; `core=0` is added unless given.
  public var rlimits: [ResourceLimit]
  /// Create a user namespace even as root (`--userns`).
  public var userNamespace: Bool

  public init(
    seccomp: String? = nil, capAdd: [String] = [], capDrop: [String] = [], user: UserIdentity? = nil,
    rlimits: [ResourceLimit] = [], userNamespace: Bool = false
  ) {
    self.seccomp = seccomp
    self.capAdd = capAdd
    self.capDrop = capDrop
    self.user = user
    self.rlimits = rlimits
    self.userNamespace = userNamespace
  }

  /// Whether anything was asked for explicitly (the process level applies only that).
  public var isExplicit: Bool {
    seccomp != nil || !capAdd.isEmpty || !capDrop.isEmpty || user != nil || !rlimits.isEmpty
  }
}

/// `--user UID[:GID]`.
public struct UserIdentity: Sendable, Codable, Equatable {
  public var uid: UInt32
  public var gid: UInt32

  public init(uid: UInt32, gid: UInt32) {
    self.uid = uid
    self.gid = gid
  }

  /// Parses `UID[:GID]` (numbers; the gid defaults to the uid).
  public init(parsing text: String) throws(BulkheadError) {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count <= 2, let uid = UInt32(parts[0]), uid != UInt32.max else {
      throw .invalidSpec(
        field: "--user", value: text, reason: "expected UID[:GID] as numbers", hint: "e.g. --user 1000:1000")
    }
    var gid = uid
    if parts.count == 2 {
      guard let g = UInt32(parts[1]), g != UInt32.max else {
        throw .invalidSpec(
          field: "--user", value: text, reason: "expected UID[:GID] as numbers", hint: "e.g. --user 1000:1000")
      }
      gid = g
    }
    self.init(uid: uid, gid: gid)
  }
}

/// `--rlimit NAME=SOFT[:HARD]`; nil values mean unlimited.
public struct ResourceLimit: Sendable, Codable, Equatable {
  public var name: String
  public var soft: UInt64?
  public var hard: UInt64?

  /// The names accepted, as in prlimit(1).
  public static let names = ["as", "core", "cpu", "data", "fsize", "memlock", "nofile", "nproc", "stack"]

  public init(name: String, soft: UInt64?, hard: UInt64?) {
    self.name = name
    self.soft = soft
    self.hard = hard
  }

  /// Parses `NAME=SOFT[:HARD]`: numbers, sizes with K/M/G, or `unlimited`; a single
  /// value sets both limits.
  public init(parsing text: String) throws(BulkheadError) {
    guard let eq = text.firstIndex(of: "=") else {
      throw .invalidSpec(
        field: "--rlimit", value: text, reason: "expected NAME=SOFT[:HARD]", hint: "e.g. --rlimit nofile=1024")
    }
    let name = text[..<eq].lowercased()
    guard Self.names.contains(name) else {
      throw .invalidSpec(
        field: "--rlimit", value: name, reason: "unknown resource limit",
        hint: "choose one of \(Self.names.joined(separator: ", "))")
    }
    let values = text[text.index(after: eq)...].split(separator: ":", omittingEmptySubsequences: false)
    guard values.count == 1 || values.count == 2 else {
      throw .invalidSpec(field: "--rlimit", value: text, reason: "expected NAME=SOFT[:HARD]")
    }
    func value(_ s: Substring) throws(BulkheadError) -> UInt64? {
      if s == "unlimited" || s == "infinity" { return nil }
      let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
      var digits = s
      var unit: UInt64 = 1
      if let last = s.last?.uppercased().first, let u = units[last] {
        digits = s.dropLast()
        unit = u
      }
      guard let n = UInt64(digits), n <= UInt64.max / unit else {
        throw .invalidSpec(field: "--rlimit", value: text, reason: "not a number, size or 'unlimited': \(s)")
      }
      return n * unit
    }
    let soft = try value(values[0])
    let hard = values.count == 2 ? try value(values[1]) : soft
    if let s = soft, let h = hard, s > h {
      throw .invalidSpec(field: "--rlimit", value: text, reason: "the soft limit is above the hard limit")
    }
    if soft == nil, hard != nil {
      throw .invalidSpec(field: "--rlimit", value: text, reason: "the soft limit is above the hard limit")
    }
    self.init(name: name, soft: soft, hard: hard)
  }
}
