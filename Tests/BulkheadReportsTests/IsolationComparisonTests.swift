import Testing

@testable import BulkheadReports

@Suite("Host versus workload, row by row")
struct IsolationComparisonTests {
  func report(
    ns: [String: UInt64], pid: Int = 1, visible: Int = 1, capEff: String = "00000000a80425fb",
    nnp: Int = 1, filters: Int = 1, checks: [(String, String)] = []
  ) -> InspectionReport {
    InspectionReport(
      level: "container", pid: pid, ppid: 0, uid: 0, euid: 0, gid: 0, egid: 0, hostname: "bulkhead", root: "64768:2",
      namespaces: ns, visiblePIDs: visible, firstProcesses: nil, capInh: "0000000000000000",
      capPrm: capEff, capEff: capEff, capBnd: capEff, capAmb: "0000000000000000", noNewPrivs: nnp,
      seccomp: filters > 0 ? 2 : 0, seccompFilters: filters, uidMap: ["0 0 4294967295"], gidMap: nil,
      cgroups: ["0::/"], cgroupsOutside: nil, mountCount: 20, rootFilesystem: "ext4", rootReadOnly: true,
      openDescriptors: [0, 1, 2],
      environment: ["PATH"], interfaces: ["lo UP"], rlimitNofile: nil, capabilities: nil, cgroupLimits: nil,
      rlimits: nil,
      checks: checks.map {
        InspectionReport.Check(check: $0.0, verdict: $0.1, errno: nil, error: nil, signal: nil, note: "")
      })
  }

  let hostNS: [String: UInt64] = ["pid": 1, "mnt": 2, "uts": 3, "ipc": 4, "net": 5, "user": 6, "cgroup": 7, "time": 8]

  @Test func differentIdsAreIsolatedAndEqualOnesShared() {
    var ns = hostNS
    ns["pid"] = 11
    ns["net"] = 15
    let host = report(ns: hostNS, pid: 500, visible: 80, capEff: "000001ffffffffff", nnp: 0, filters: 0)
    let rows = IsolationComparison.rows(host: host, workload: report(ns: ns))
    func verdict(_ p: String) -> IsolationVerdict? { rows.first { $0.property == p }?.verdict }
    #expect(verdict("pid namespace") == .isolated)
    #expect(verdict("net namespace") == .isolated)
    #expect(verdict("mnt namespace") == .shared)
    #expect(verdict("user namespace") == .shared)
    #expect(rows.first { $0.property == "pid namespace" }?.reason == "it is PID 1 and sees 1 process(es)")
    #expect(verdict("capabilities (effective)") == .reduced)
    #expect(verdict("no_new_privs") == .reduced)
    #expect(verdict("seccomp") == .reduced)
    #expect(verdict("processes in view") == .isolated)
  }

  @Test func checksCompareVerdicts() {
    let host = report(
      ns: hostNS, nnp: 0, filters: 0, checks: [("mount", "allowed"), ("kill", "allowed"), ("bpf", "allowed")])
    let workload = report(ns: hostNS, checks: [("mount", "denied"), ("kill", "skipped"), ("bpf", "allowed")])
    let rows = IsolationComparison.rows(host: host, workload: workload)
    #expect(rows.first { $0.property == "check: mount" }?.verdict == .reduced)
    #expect(rows.first { $0.property == "check: kill" }?.verdict == .isolated)
    #expect(rows.first { $0.property == "check: bpf" }?.verdict == .shared)
  }

  @Test func theScorecardSummarisesEachLevel() {
    var ns = hostNS
    for k in ["pid", "mnt", "uts", "ipc", "net", "cgroup"] { ns[k]! += 100 }
    let host = report(ns: hostNS, nnp: 0, filters: 0, checks: [("mount", "allowed")])
    let card = Scorecard(
      host: host,
      levels: [
        ("process", report(ns: hostNS, nnp: 0, filters: 0, checks: [("mount", "allowed")])),
        ("container", report(ns: ns, checks: [("mount", "denied")])),
      ])
    #expect(card.columns[0].summary.hasPrefix("0 of 8 namespaces isolated;"))
    #expect(card.columns[1].summary.hasPrefix("6 of 8 namespaces isolated (pid, mnt, uts, ipc, net, cgroup); 1 of 1"))
  }

  @Test func theProbesJSONParses() throws {
    let text =
      #"{"schema":"bulkhead.inspect/1","level":"container","pid":1,"ppid":0,"uid":0,"euid":0,"gid":0,"egid":0,"hostname":"bulkhead","namespaces":{"pid":4026532180},"visiblePIDs":1,"firstProcesses":[{"pid":1,"name":"bulkhead-probe"}],"capEff":"00000000a80425fb","noNewPrivs":1,"seccomp":2,"seccomp_filters":1,"uidMap":["0 0 4294967295"],"cgroups":["0::/"],"mountCount":20,"rootFilesystem":"ext4","rootReadOnly":true,"mounts":["/ ext4"],"openDescriptors":[0,1,2],"environment":["PATH"],"interfaces":["lo UP"],"rlimitNofile":[1024,null],"checks":[{"check":"mount","verdict":"denied","errno":1,"error":"EPERM","note":"mount a filesystem"}]}"#
    let r = try InspectionReport.parse(text)
    #expect(r.seccompFilters == 1)
    #expect(r.checks?.first?.error == "EPERM")
    #expect(r.rlimitNofile == [1024, nil])
    #expect(throws: (any Error).self) { try InspectionReport.parse("not json") }
  }
}
