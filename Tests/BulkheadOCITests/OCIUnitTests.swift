import Foundation
import Testing

@testable import BulkheadOCI

/// The OCI runtime's pure parts, without root: the freezer's file formats (v1 and
/// v2, the latter not mounted on this machine), which config properties runtime-spec
/// defines, and runc's signal names.
@Suite("OCI runtime: file formats and tables")
struct OCIUnitTests {
  /// A directory standing in for a cgroup, with `files` written into it.
  static func cgroup(_ files: [String: String]) throws -> String {
    let dir = NSTemporaryDirectory() + "bulkhead-oci-unit-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
    return dir
  }

  @Test(arguments: [("FROZEN\n", true), ("FREEZING\n", false), ("THAWED\n", false)])
  func theV1FreezerIsFrozenOnlyWhenItSaysFrozen(_ text: String, _ frozen: Bool) throws {
    let dir = try Self.cgroup(["freezer.state": text])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(OCICgroup.frozen(["freezer": dir, "memory": "/nonexistent"]) == frozen)
  }

  @Test(arguments: [("populated 1\nfrozen 1\n", true), ("populated 1\nfrozen 0\n", false), ("populated 0\n", false)])
  func theV2FreezerIsReadFromCgroupEvents(_ text: String, _ frozen: Bool) throws {
    let dir = try Self.cgroup(["cgroup.events": text, "cgroup.freeze": "0\n"])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(OCICgroup.frozen(["": dir]) == frozen)
  }

  @Test func withoutAFreezerNothingIsFrozenAndPauseSaysWhy() throws {
    #expect(!OCICgroup.frozen(["memory": "/nonexistent"]))
    #expect(throws: OCIError.self) { try OCICgroup.freeze(["memory": "/nonexistent"], true) }
  }

  @Test func aV2FreezeWritesOneAndWaitsForTheKernelsWord() throws {
    // The "kernel" here is this test: cgroup.events already says frozen.
    let dir = try Self.cgroup(["cgroup.events": "populated 1\nfrozen 1\n", "cgroup.freeze": "0\n"])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try OCICgroup.freeze(["": dir], true)
    // One write of "1" (a cgroup file is not truncated: the rest of the stand-in stays).
    #expect(try String(contentsOfFile: dir + "/cgroup.freeze", encoding: .utf8).hasPrefix("1"))
  }

  @Test func propertiesAreKnownByTheirObjectsKind() {
    #expect(JSONObject.kind(of: "linux.devices[3]") == "linux.devices")
    #expect(JSONObject.kind(of: "process.rlimits[0]") == "process.rlimits")
    #expect(JSONObject.kind(of: "") == "")
    #expect(JSONObject.specified["linux.resources.memory"]?.contains("swappiness") == true)
  }

  @Test func anUnknownPropertyIsIgnoredAndADefinedOneLeftOverIsRefused() throws {
    let unknown = try JSONObject.parse(Data(#"{"args":["x"],"futureKnob":1}"#.utf8), path: "process")
    _ = try unknown.strings("args")
    try unknown.finish()
    let defined = try JSONObject.parse(
      Data(#"{"args":["x"],"ioPriority":{"class":"IOPRIO_CLASS_RT"}}"#.utf8), path: "process")
    _ = try defined.strings("args")
    #expect(throws: OCIError.self) { try defined.finish() }
    // An object the table does not know refuses whatever is left.
    let other = try JSONObject.parse(Data(#"{"x":1}"#.utf8), path: "linux.intelRdt")
    #expect(throws: OCIError.self) { try other.finish() }
  }

  @Test(arguments: [("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigterm", 15), ("usr1", 10), ("64", 64)])
  func signalsAreReadAsRuncReadsThem(_ text: String, _ number: Int32) throws {
    #expect(try OCIRuntime.signal(text) == number)
  }

  @Test(arguments: ["", "0", "65", "SIGNOPE", "-1"])
  func otherSignalsAreRefused(_ text: String) {
    #expect(throws: OCIError.self) { try OCIRuntime.signal(text) }
  }
}
