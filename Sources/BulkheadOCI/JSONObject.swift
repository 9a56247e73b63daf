import Foundation

/// A JSON object of config.json with the path it was found at, so that every
/// refusal names the field ("linux.resources.memory.kernel"). Fields are taken
/// one by one; `finish()` refuses any runtime-spec property that no one took, so
/// nothing the spec defines is ignored silently. A property the spec does not
/// define is ignored, as the spec demands of runtimes ("MUST ignore unknown
/// properties"), which is how configs written for newer runtimes still run.
final class JSONObject {
  let path: String
  private let values: [String: Any]
  private var taken: Set<String> = []

  init(_ values: [String: Any], path: String) {
    self.values = values
    self.path = path
  }

  static func parse(_ data: Data, path: String = "") throws(OCIError) -> JSONObject {
    let any: Any
    do { any = try JSONSerialization.jsonObject(with: data, options: []) } catch {
      throw OCIError("config.json: not valid JSON: \(String(describing: error).prefix(200))")
    }
    guard let dict = any as? [String: Any] else {
      throw OCIError("\(path.isEmpty ? "config.json" : path): the top level must be an object")
    }
    return JSONObject(dict, path: path)
  }

  func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

  func has(_ key: String) -> Bool {
    guard let v = values[key] else { return false }
    return !(v is NSNull)
  }

  private func raw(_ key: String) -> Any? {
    taken.insert(key)
    guard let v = values[key], !(v is NSNull) else { return nil }
    return v
  }

  /// Marks a field as seen without using it (documented as ignored).
  func skip(_ key: String) { taken.insert(key) }

  func string(_ key: String) throws(OCIError) -> String? {
    guard let v = raw(key) else { return nil }
    guard let s = v as? String else { throw .field(name(key), "must be a string") }
    return s
  }

  /// swift-corelibs-foundation decodes true/false as __NSCFBoolean, numbers as
  /// NSNumber (which also casts to Bool): the type's name tells them apart.
  static func isBool(_ v: Any) -> Bool { String(describing: type(of: v)) == "__NSCFBoolean" }

  func bool(_ key: String) throws(OCIError) -> Bool? {
    guard let v = raw(key) else { return nil }
    guard Self.isBool(v), let b = v as? Bool else { throw .field(name(key), "must be true or false") }
    return b
  }

  func int(_ key: String) throws(OCIError) -> Int64? {
    guard let v = raw(key) else { return nil }
    guard let n = v as? NSNumber, !Self.isBool(v) else { throw .field(name(key), "must be an integer") }
    let d = n.doubleValue
    guard d == d.rounded(), abs(d) < 9.2e18 else { throw .field(name(key), "must be an integer") }
    return n.int64Value
  }

  func uint(_ key: String) throws(OCIError) -> UInt64? {
    guard let v = raw(key) else { return nil }
    guard let n = v as? NSNumber, !Self.isBool(v), n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded(),
      n.doubleValue < 1.85e19
    else { throw .field(name(key), "must be a non-negative integer") }
    return n.uint64Value
  }

  func object(_ key: String) throws(OCIError) -> JSONObject? {
    guard let v = raw(key) else { return nil }
    guard let d = v as? [String: Any] else { throw .field(name(key), "must be an object") }
    return JSONObject(d, path: name(key))
  }

  func array(_ key: String) throws(OCIError) -> [Any]? {
    guard let v = raw(key) else { return nil }
    guard let a = v as? [Any] else { throw .field(name(key), "must be an array") }
    return a
  }

  func strings(_ key: String) throws(OCIError) -> [String]? {
    guard let a = try array(key) else { return nil }
    var out: [String] = []
    for (i, v) in a.enumerated() {
      guard let s = v as? String else { throw .field("\(name(key))[\(i)]", "must be a string") }
      out.append(s)
    }
    return out
  }

  func objects(_ key: String) throws(OCIError) -> [JSONObject]? {
    guard let a = try array(key) else { return nil }
    var out: [JSONObject] = []
    for (i, v) in a.enumerated() {
      guard let d = v as? [String: Any] else { throw .field("\(name(key))[\(i)]", "must be an object") }
      out.append(JSONObject(d, path: "\(name(key))[\(i)]"))
    }
    return out
  }

  func stringMap(_ key: String) throws(OCIError) -> [String: String]? {
    guard let v = raw(key) else { return nil }
    guard let d = v as? [String: Any] else { throw .field(name(key), "must be an object") }
    var out: [String: String] = [:]
    for (k, value) in d {
      guard let s = value as? String else { throw .field("\(name(key)).\(k)", "must be a string") }
      out[k] = s
    }
    return out
  }

  /// The raw JSON of a field (seccomp goes to the profile reader as bytes).
  func json(_ key: String) throws(OCIError) -> Data? {
    guard let v = raw(key) else { return nil }
    do { return try JSONSerialization.data(withJSONObject: v, options: []) } catch {
      throw .field(name(key), "cannot be re-encoded")
    }
  }

  /// Refuses fields nobody took that runtime-spec defines; ignores the others.
  /// An object whose kind is not in the table refuses every field left over.
  func finish() throws(OCIError) {
    let known = Self.specified[Self.kind(of: path)]
    for key in values.keys.sorted() where !taken.contains(key) {
      if values[key] is NSNull { continue }
      if let known, !known.contains(key) { continue }
      throw .field(name(key), "not supported by bulkhead (refused rather than ignored)")
    }
  }

  /// "linux.devices[3]" -> "linux.devices".
  static func kind(of path: String) -> String {
    var out = ""
    var inIndex = false
    for ch in path {
      if ch == "[" { inIndex = true } else if ch == "]" { inIndex = false } else if !inIndex { out.append(ch) }
    }
    return out
  }

  /// The properties runtime-spec 1.2 defines for each object of config.json.
  static let specified: [String: Set<String>] = [
    "": [
      "ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks", "annotations", "linux", "solaris",
      "windows", "vm", "zos",
    ],
    "root": ["path", "readonly"],
    "process": [
      "terminal", "consoleSize", "cwd", "env", "args", "commandLine", "rlimits", "apparmorProfile", "capabilities",
      "noNewPrivileges", "oomScoreAdj", "scheduler", "selinuxLabel", "ioPriority", "execCPUAffinity", "user",
    ],
    "process.consoleSize": ["height", "width"],
    "process.user": ["uid", "gid", "umask", "additionalGids", "username"],
    "process.capabilities": ["bounding", "effective", "inheritable", "permitted", "ambient"],
    "process.rlimits": ["type", "soft", "hard"],
    "mounts": ["destination", "source", "options", "type", "uidMappings", "gidMappings"],
    "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
    "linux": [
      "namespaces", "uidMappings", "gidMappings", "timeOffsets", "devices", "cgroupsPath", "rootfsPropagation",
      "maskedPaths", "readonlyPaths", "mountLabel", "personality", "resources", "sysctl", "seccomp", "intelRdt",
      "memoryPolicy", "netDevices",
    ],
    "linux.namespaces": ["type", "path"],
    "linux.devices": ["type", "path", "major", "minor", "fileMode", "uid", "gid"],
    "linux.resources": [
      "devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma", "unified",
    ],
    "linux.resources.devices": ["allow", "type", "major", "minor", "access"],
    "linux.resources.memory": [
      "limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller", "useHierarchy",
      "checkBeforeUpdate",
    ],
    "linux.resources.cpu": [
      "shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle",
    ],
    "linux.resources.pids": ["limit"],
  ]
}
