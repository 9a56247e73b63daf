/// A profile file as written: the OCI `linux.seccomp` fields plus Docker's
/// (`archMap`, `name`, `comment`, `includes`, `excludes`), every value checked and
/// typed, nothing resolved yet. OCI profiles are Docker profiles without the
/// Docker fields, so one reader serves both.
struct WrittenProfile {
  var defaultAction: SeccompAction
  var architectures: [String]
  var archMap: [(architecture: String, subArchitectures: [String])]
  var flags: [String]
  var rules: [WrittenRule]
}

struct WrittenRule {
  var rule: SeccompRule
  var includes: RuleCondition?
  var excludes: RuleCondition?
}

/// Docker's `includes`/`excludes` object.
struct RuleCondition {
  var caps: [String] = []
  var arches: [String] = []
  var minKernel: (major: Int, minor: Int)?
}

/// What is wrong, at which JSON path: `syscalls[3].action`.
struct ProfileError: Error {
  var path: String
  var message: String
  var hint: String?

  var reason: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Reads a parsed JSON document into a `WrittenProfile`. Strict where Go's
/// decoder is lenient: unknown and duplicate fields are errors (a misspelt field
/// would otherwise be a rule silently not applied); `null` counts as absent, as in Go.
enum ProfileReader {
  static func read(_ document: JSONValue) throws(ProfileError) -> WrittenProfile {
    let top = try Fields(
      document, path: "",
      known: [
        "defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "listenerPath",
        "listenerMetadata", "syscalls",
      ])
    guard let defaultName = try top.string("defaultAction") else { throw top.missing("defaultAction") }
    let defaultAction = try action(
      defaultName, errnoRet: try top.integer("defaultErrnoRet", maximum: 0xffff),
      actionPath: top.path("defaultAction"), errnoPath: top.path("defaultErrnoRet"))

    let architectures = try top.strings("architectures") ?? []
    for (i, name) in architectures.enumerated() where !SeccompArchitecture.ociNames.contains(name) {
      throw ProfileError(path: top.path("architectures") + "[\(i)]", message: unknownArchitecture(name))
    }
    var archMap: [(String, [String])] = []
    for (i, entry) in (try top.array("archMap") ?? []).enumerated() {
      let fields = try Fields(entry, path: top.path("archMap") + "[\(i)]", known: ["architecture", "subArchitectures"])
      guard let name = try fields.string("architecture") else { throw fields.missing("architecture") }
      let subArchitectures = try fields.strings("subArchitectures") ?? []
      for (j, sub) in ([name] + subArchitectures).enumerated() where !SeccompArchitecture.ociNames.contains(sub) {
        let path = j == 0 ? fields.path("architecture") : fields.path("subArchitectures") + "[\(j - 1)]"
        throw ProfileError(path: path, message: unknownArchitecture(sub))
      }
      archMap.append((name, subArchitectures))
    }
    if !architectures.isEmpty && !archMap.isEmpty {
      throw ProfileError(path: "archMap", message: "both 'architectures' and 'archMap' are given; use one of them")
    }

    let flags = try top.strings("flags") ?? []
    for (i, flag) in flags.enumerated() {
      if case .failure(let error) = SeccompProfile(defaultAction: .allow, flags: [flag], rules: []).flagBits() {
        throw ProfileError(path: top.path("flags") + "[\(i)]", message: error.reason)
      }
    }
    for key in ["listenerPath", "listenerMetadata"] {
      if let value = try top.string(key), !value.isEmpty {
        throw ProfileError(
          path: top.path(key), message: "seccomp notifications are not supported: Bulkhead has no notification agent")
      }
    }

    var rules: [WrittenRule] = []
    for (i, entry) in (try top.array("syscalls") ?? []).enumerated() {
      rules.append(try rule(entry, path: "syscalls[\(i)]"))
    }
    return WrittenProfile(
      defaultAction: defaultAction, architectures: architectures, archMap: archMap, flags: flags, rules: rules)
  }

  private static func rule(_ value: JSONValue, path: String) throws(ProfileError) -> WrittenRule {
    let fields = try Fields(
      value, path: path, known: ["names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"])
    var names = try fields.strings("names") ?? []
    if let name = try fields.string("name") {
      guard names.isEmpty else {
        throw ProfileError(path: fields.path("name"), message: "both 'name' and 'names' are given; use one of them")
      }
      names = [name]
    }
    if names.isEmpty {
      throw ProfileError(path: fields.path("names"), message: "expected at least one system call name")
    }
    for (i, name) in names.enumerated() where !isSyscallName(name) {
      let location = fields.has("name") ? fields.path("name") : fields.path("names") + "[\(i)]"
      throw ProfileError(path: location, message: "'\(name)' is not a system call name")
    }
    guard let actionName = try fields.string("action") else { throw fields.missing("action") }
    let action = try action(
      actionName, errnoRet: try fields.integer("errnoRet", maximum: 0xffff), actionPath: fields.path("action"),
      errnoPath: fields.path("errnoRet"))
    var arguments: [SeccompArgument] = []
    for (i, entry) in (try fields.array("args") ?? []).enumerated() {
      arguments.append(try argument(entry, path: fields.path("args") + "[\(i)]"))
    }
    _ = try fields.string("comment")
    return WrittenRule(
      rule: SeccompRule(names: names, action: action, arguments: arguments),
      includes: try condition(fields.value("includes"), path: fields.path("includes")),
      excludes: try condition(fields.value("excludes"), path: fields.path("excludes")))
  }

  private static func argument(_ value: JSONValue, path: String) throws(ProfileError) -> SeccompArgument {
    let fields = try Fields(value, path: path, known: ["index", "value", "valueTwo", "op"])
    guard let index = try fields.integer("index", maximum: UInt64(SeccompArgument.indices.upperBound)) else {
      throw fields.missing("index")
    }
    guard let opName = try fields.string("op") else { throw fields.missing("op") }
    guard let op = SeccompArgument.Operator(rawValue: opName) else {
      throw ProfileError(
        path: fields.path("op"),
        message: "unknown operator '\(opName)' (expected one of "
          + SeccompArgument.Operator.allCases.map(\.rawValue).joined(separator: ", ") + ")")
    }
    return SeccompArgument(
      index: index, value: try fields.unsigned("value") ?? 0, valueTwo: try fields.unsigned("valueTwo") ?? 0, op: op)
  }

  private static func condition(_ value: JSONValue?, path: String) throws(ProfileError) -> RuleCondition? {
    guard let value else { return nil }
    let fields = try Fields(value, path: path, known: ["caps", "arches", "minKernel"])
    var condition = RuleCondition()
    condition.caps = try fields.strings("caps") ?? []
    for (i, cap) in condition.caps.enumerated() where !isCapabilityName(cap) {
      throw ProfileError(
        path: fields.path("caps") + "[\(i)]", message: "'\(cap)' is not a capability name like CAP_SYS_ADMIN")
    }
    condition.arches = try fields.strings("arches") ?? []
    for (i, arch) in condition.arches.enumerated() where SeccompArchitecture.dockerToOCI[arch] == nil {
      throw ProfileError(
        path: fields.path("arches") + "[\(i)]",
        message: "unknown architecture '\(arch)' (Docker's names: amd64, arm64, x86, x32, arm, ppc64le, s390x, ...)")
    }
    if let text = try fields.string("minKernel"), !text.isEmpty {
      guard let version = kernelVersion(minKernel: text) else {
        throw ProfileError(
          path: fields.path("minKernel"), message: "invalid kernel version '\(text)' (expected \"<major>.<minor>\")")
      }
      condition.minKernel = version
    }
    return condition
  }

  /// moby's rule for `minKernel`: exactly two dot-separated numbers of 0...255,
  /// not both 0.
  static func kernelVersion(minKernel text: String) -> (major: Int, minor: Int)? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
      let major = UInt8(parts[0]), let minor = UInt8(parts[1]), major > 0 || minor > 0
    else { return nil }
    return (Int(major), Int(minor))
  }

  /// An action name and its `errnoRet`. Like runc: ERRNO and TRACE take the
  /// code (EPERM when absent), no other action may have one.
  private static func action(_ name: String, errnoRet: Int?, actionPath: String, errnoPath: String)
    throws(ProfileError) -> SeccompAction
  {
    let epermCode: Int32 = 1
    let action: SeccompAction
    switch name {
    case "SCMP_ACT_ALLOW": action = .allow
    case "SCMP_ACT_ERRNO":
      if let errnoRet, errnoRet > Int(SeccompAction.maximumErrno) {
        throw ProfileError(path: errnoPath, message: "\(errnoRet) is above the largest errno, 4095")
      }
      return .errno(errnoRet.map(Int32.init) ?? epermCode)
    case "SCMP_ACT_TRACE": return .trace(errnoRet.map(Int32.init) ?? epermCode)
    case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": action = .killThread
    case "SCMP_ACT_KILL_PROCESS": action = .killProcess
    case "SCMP_ACT_TRAP": action = .trap
    case "SCMP_ACT_LOG": action = .log
    case "SCMP_ACT_NOTIFY":
      throw ProfileError(
        path: actionPath, message: "SCMP_ACT_NOTIFY is not supported: Bulkhead has no notification agent")
    default:
      throw ProfileError(path: actionPath, message: "unknown action '\(name)'")
    }
    if errnoRet != nil {
      throw ProfileError(path: errnoPath, message: "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return code")
    }
    return action
  }

  private static func unknownArchitecture(_ name: String) -> String {
    "unknown architecture '\(name)' (expected an OCI name like SCMP_ARCH_X86_64)"
  }

  /// Lower-case letters, digits and underscores: what every syscall table uses.
  private static func isSyscallName(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f }
  }

  private static func isCapabilityName(_ name: String) -> Bool {
    name.hasPrefix("CAP_") && name.count > 4
      && name.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f }
  }
}

/// An object's members, read with typed accessors that name the path on error.
private struct Fields {
  let path: String
  private var members: [String: JSONValue] = [:]

  init(_ value: JSONValue, path: String, known: Set<String>) throws(ProfileError) {
    self.path = path
    guard case .object(let list) = value else {
      throw ProfileError(path: path, message: "expected an object, found \(value.kindName)")
    }
    for (key, member) in list {
      guard known.contains(key) else {
        let wholeConfig = path.isEmpty && ["ociVersion", "linux", "process", "root"].contains(key)
        throw ProfileError(
          path: self.path(key), message: "unknown field",
          hint: wholeConfig
            ? "this is a whole OCI config.json; pass its linux.seccomp object"
            : "expected one of \(known.sorted().joined(separator: ", "))")
      }
      guard members[key] == nil else { throw ProfileError(path: self.path(key), message: "duplicate field") }
      members[key] = member
    }
  }

  func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

  func has(_ key: String) -> Bool { value(key) != nil }

  /// The member, or nil when it is absent or null.
  func value(_ key: String) -> JSONValue? {
    guard let member = members[key], member != .null else { return nil }
    return member
  }

  func missing(_ key: String) -> ProfileError { ProfileError(path: path(key), message: "missing") }

  private func typeError(_ key: String, expected: String, found: JSONValue) -> ProfileError {
    ProfileError(path: path(key), message: "expected \(expected), found \(found.kindName)")
  }

  func string(_ key: String) throws(ProfileError) -> String? {
    guard let member = value(key) else { return nil }
    guard case .string(let text) = member else { throw typeError(key, expected: "a string", found: member) }
    return text
  }

  func array(_ key: String) throws(ProfileError) -> [JSONValue]? {
    guard let member = value(key) else { return nil }
    guard case .array(let elements) = member else { throw typeError(key, expected: "an array", found: member) }
    return elements
  }

  func strings(_ key: String) throws(ProfileError) -> [String]? {
    guard let elements = try array(key) else { return nil }
    var result: [String] = []
    for (i, element) in elements.enumerated() {
      guard case .string(let text) = element else {
        throw ProfileError(path: path(key) + "[\(i)]", message: "expected a string, found \(element.kindName)")
      }
      result.append(text)
    }
    return result
  }

  /// A non-negative integer of 64 bits, read from the number's text exactly.
  func unsigned(_ key: String, maximum: UInt64 = .max) throws(ProfileError) -> UInt64? {
    guard let member = value(key) else { return nil }
    guard case .number(let text) = member else {
      throw typeError(key, expected: "a non-negative integer", found: member)
    }
    guard text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
      throw ProfileError(path: path(key), message: "expected a non-negative integer, found \(text)")
    }
    guard let number = UInt64(text), number <= maximum else {
      throw ProfileError(path: path(key), message: "\(text) is out of range (0...\(maximum))")
    }
    return number
  }

  func integer(_ key: String, maximum: UInt64) throws(ProfileError) -> Int? {
    try unsigned(key, maximum: maximum).map { Int($0) }
  }
}
