import BulkheadSpec
import BulkheadSystem
import Foundation
import Testing

/// cgroup v2 cannot run on this machine (its unified hierarchy has no controllers),
/// so the v2 backend is exercised against its file formats in a directory laid out
/// as the kernel lays out a cgroup, and detection against real mountinfo texts.
@Suite("cgroup backends against their file formats")
struct CgroupFormatTests {
  static let v1Mountinfo = """
    25 30 0:22 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755
    26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu
    27 25 0:24 / /sys/fs/cgroup/cpuacct rw,relatime shared:11 - cgroup cgroup rw,cpuacct
    29 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory
    33 25 0:30 / /sys/fs/cgroup/pids rw,relatime shared:17 - cgroup cgroup rw,pids
    35 25 0:32 / /sys/fs/cgroup/unified rw,relatime shared:19 - cgroup2 cgroup2 rw
    """
  static let v1SelfCgroup = """
    8:pids:/
    4:memory:/process_api/abc
    2:cpuacct:/
    1:cpu:/
    0::/
    """

  @Test func aHybridSystemWithAnEmptyUnifiedHierarchyIsV1() throws {
    let found = try #require(
      Cgroups.detect(mountinfo: Self.v1Mountinfo, selfCgroup: Self.v1SelfCgroup) { path in
        path.hasSuffix("cgroup.controllers") ? "" : nil
      })
    #expect(found.version == .v1)
    #expect(found.mounts["memory"] == "/sys/fs/cgroup/memory")
    #expect(found.ownPaths["memory"] == "/process_api/abc")
  }

  @Test func aUnifiedHierarchyWithControllersIsV2() throws {
    let mountinfo = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"
    let found = try #require(
      Cgroups.detect(mountinfo: mountinfo, selfCgroup: "0::/user.slice/session-1.scope\n") { path in
        path == "/sys/fs/cgroup/user.slice/session-1.scope/cgroup.controllers" ? "cpuset cpu io memory pids\n" : nil
      })
    #expect(found.version == .v2)
    #expect(found.ownPaths[""] == "/user.slice/session-1.scope")
  }

  @Test func noHierarchyIsNil() {
    #expect(Cgroups.detect(mountinfo: "", selfCgroup: "") { _ in nil } == nil)
  }

  @Test func keyedFilesParse() {
    let events = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n"
    #expect(CgroupFiles.keyed(events)["oom_kill"] == 1)
    #expect(CgroupFiles.keyed("usage_usec 123456\nuser_usec 100\n")["usage_usec"] == 123_456)
    #expect(CgroupFiles.keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")["oom_kill"] == 2)
  }

  @Test func cpuMaxIsQuotaAndPeriod() {
    #expect(CgroupFiles.cpuMax(cpus: 0.5) == "50000 100000")
    #expect(CgroupFiles.cpuMax(cpus: 2) == "200000 100000")
    #expect(CgroupFiles.cpuMax(cpus: 0.001) == "1000 100000")
  }

  /// A v2 tree as the kernel would present it: the files exist, Bulkhead writes them.
  func fakeV2Tree() throws -> (root: String, cgroups: Cgroups) {
    let root = NSTemporaryDirectory() + "bulkhead-cg2-\(UInt32.random(in: 0...UInt32.max))"
    let fm = FileManager.default
    let parent = root + "/bulkhead"
    try fm.createDirectory(atPath: parent + "/run-1-1", withIntermediateDirectories: true)
    try "cpu memory pids\n".write(toFile: parent + "/cgroup.controllers", atomically: false, encoding: .utf8)
    for file in ["cgroup.subtree_control"] { fm.createFile(atPath: parent + "/" + file, contents: nil) }
    for file in ["memory.max", "memory.swap.max", "pids.max", "cpu.max", "cgroup.procs", "cgroup.kill"] {
      fm.createFile(atPath: parent + "/run-1-1/" + file, contents: nil)
    }
    try "1048576000\n".write(toFile: parent + "/run-1-1/memory.peak", atomically: false, encoding: .utf8)
    try "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n".write(
      toFile: parent + "/run-1-1/memory.events", atomically: false, encoding: .utf8)
    try "7\n".write(toFile: parent + "/run-1-1/pids.peak", atomically: false, encoding: .utf8)
    try "max 2\n".write(toFile: parent + "/run-1-1/pids.events", atomically: false, encoding: .utf8)
    try "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n".write(
      toFile: parent + "/run-1-1/cpu.stat", atomically: false, encoding: .utf8)
    return (root, Cgroups(version: .v2, mounts: ["": root], ownPaths: ["": "/"]))
  }

  @Test func theV2BackendWritesLimitsInTheKernelsFormats() throws {
    let (root, cgroups) = try fakeV2Tree()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let group = try cgroups.create(
      name: "run-1-1", request: CgroupRequest(memoryBytes: 64 << 20, memorySwapBytes: 96 << 20, pids: 10, cpus: 0.5))
    let dir = root + "/bulkhead/run-1-1"
    func read(_ file: String) throws -> String { try String(contentsOfFile: dir + "/" + file, encoding: .utf8) }
    #expect(try read("memory.max") == "\(64 << 20)")
    #expect(try read("memory.swap.max") == "\(32 << 20)", "v2 counts swap alone")
    #expect(try read("pids.max") == "10")
    #expect(try read("cpu.max") == "50000 100000")
    #expect(
      try String(contentsOfFile: root + "/bulkhead/cgroup.subtree_control", encoding: .utf8) == "+memory +pids +cpu")
    #expect(group.directoryFD >= 0, "an O_PATH descriptor for CLONE_INTO_CGROUP")
    let stats = group.stats()
    #expect(stats.version == "v2")
    #expect(stats.memoryPeakBytes == 1_048_576_000)
    #expect(stats.oomKills == 1)
    #expect(stats.pidsPeak == 7)
    #expect(stats.pidsLimitHits == 2)
    #expect(stats.cpuUsageNanoseconds == 2_500_000)
    try group.attach(pid: 4242)
    #expect(try read("cgroup.procs") == "4242")
  }

  @Test func aControllerMissingFromTheParentIsRefusedByName() throws {
    let (root, cgroups) = try fakeV2Tree()
    defer { try? FileManager.default.removeItem(atPath: root) }
    try "cpu memory\n".write(toFile: root + "/bulkhead/cgroup.controllers", atomically: false, encoding: .utf8)
    #expect {
      try cgroups.create(name: "run-1-1", request: CgroupRequest(pids: 5))
    } throws: { error in
      let e = error as? BulkheadError
      return e?.code == .unsupported && e?.value == "pids"
    }
  }

  @Test func requestsAreValidated() throws {
    #expect(throws: BulkheadError.self) { try CgroupRequest(memoryBytes: 1000).validate() }
    #expect(throws: BulkheadError.self) {
      try CgroupRequest(memoryBytes: 64 << 20, memorySwapBytes: 32 << 20).validate()
    }
    #expect(throws: BulkheadError.self) { try CgroupRequest(memorySwapBytes: 64 << 20).validate() }
    #expect(throws: BulkheadError.self) { try CgroupRequest(pids: 0).validate() }
    #expect(throws: BulkheadError.self) { try CgroupRequest(cpus: 0).validate() }
    #expect(throws: Never.self) { try CgroupRequest(memoryBytes: 64 << 20, pids: 5, cpus: 0.5).validate() }
    #expect(try CgroupRequest.parseSize("512M", field: "--memory") == 512 << 20)
    #expect(try CgroupRequest.parseSize("1GB", field: "--memory") == 1 << 30)
    #expect(throws: BulkheadError.self) { try CgroupRequest.parseSize("lots", field: "--memory") }
  }
}
