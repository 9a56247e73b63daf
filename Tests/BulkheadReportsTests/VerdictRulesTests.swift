import Testing

@testable import BulkheadReports

/// The table of docs/inspect.md ("How each verdict is decided"), written out here
/// once more by hand, against VerdictRules, for every combination.
@Suite("Every verdict follows the documented table")
struct VerdictRulesTests {
  typealias O = VerdictRules.Outcome

  /// host outcome -> workload outcome -> verdict, for a check whose target is not
  /// known (reachesHost nil): docs/inspect.md's check table, cell by cell.
  static let checkTable: [O: [O: IsolationVerdict]] = [
    .allowed: [
      .allowed: .shared, .denied: .reduced, .killed: .reduced, .unavailable: .reduced, .skipped: .isolated,
      .other: .unknown,
    ],
    .denied: [
      .allowed: .shared, .denied: .unknown, .killed: .unknown, .unavailable: .unknown, .skipped: .unknown,
      .other: .unknown,
    ],
    .killed: [
      .allowed: .shared, .denied: .unknown, .killed: .unknown, .unavailable: .unknown, .skipped: .unknown,
      .other: .unknown,
    ],
    .unavailable: [
      .allowed: .shared, .denied: .unknown, .killed: .unknown, .unavailable: .unknown, .skipped: .unknown,
      .other: .unknown,
    ],
    .skipped: [
      .allowed: .shared, .denied: .unknown, .killed: .unknown, .unavailable: .unknown, .skipped: .unknown,
      .other: .unknown,
    ],
    .other: [
      .allowed: .shared, .denied: .unknown, .killed: .unknown, .unavailable: .unknown, .skipped: .unknown,
      .other: .unknown,
    ],
  ]

  @Test func everyPairOfCheckOutcomes() {
    #expect(Self.checkTable.count == O.allCases.count)
    for host in O.allCases {
      for workload in O.allCases {
        let expected = Self.checkTable[host]?[workload]
        for reach in [nil, true, false] as [Bool?] {
          let got = VerdictRules.check(host: host, workload: workload, reachesHost: reach).verdict
          // The target decides only for an allowed attempt: its own instance is isolated.
          let want = workload == .allowed && reach == false ? .isolated : expected
          #expect(got == want, "host \(host), workload \(workload), reachesHost \(String(describing: reach))")
        }
      }
    }
  }

  @Test func aDeniedWorkloadIsNeverShared() {
    for host in O.allCases {
      for workload in [O.denied, .killed, .unavailable, .skipped] {
        for reach in [nil, true, false] as [Bool?] {
          #expect(VerdictRules.check(host: host, workload: workload, reachesHost: reach).verdict != .shared)
        }
      }
    }
  }

  @Test func everyNotApplicableCheckSaysWhy() {
    for host in O.allCases {
      for workload in O.allCases {
        let r = VerdictRules.check(host: host, workload: workload, reachesHost: nil)
        if r.verdict == .unknown { #expect(r.why?.isEmpty == false, "\(host) \(workload)") }
      }
    }
  }

  @Test func theOutcomeOfEachProbeVerdict() {
    let expected: [String: O] = [
      "allowed": .allowed, "denied": .denied, "killed": .killed, "unavailable": .unavailable, "skipped": .skipped,
      "failed": .other, "invalid": .other, "": .other,
    ]
    for (text, outcome) in expected { #expect(O(text) == outcome, "\(text)") }
  }

  @Test func identitiesAndCounts() {
    #expect(VerdictRules.identity(host: 1, workload: 1) == .shared)
    #expect(VerdictRules.identity(host: 1, workload: 2) == .isolated)
    #expect(VerdictRules.identity(host: nil, workload: 2) == .unknown)
    #expect(VerdictRules.identity(host: 1 as Int?, workload: nil) == .unknown)
    #expect(VerdictRules.fewer(host: 80, workload: 1, fewerIs: .isolated) == .isolated)
    #expect(VerdictRules.fewer(host: 6, workload: 3, fewerIs: .reduced) == .reduced)
    #expect(VerdictRules.fewer(host: 3, workload: 3, fewerIs: .reduced) == .shared)
    #expect(VerdictRules.fewer(host: 3, workload: 4, fewerIs: .reduced) == .shared)
    #expect(VerdictRules.fewer(host: nil, workload: 4, fewerIs: .reduced) == .unknown)
    #expect(VerdictRules.processes(host: 80, workload: 1, ownPidNamespace: true) == .isolated)
    #expect(VerdictRules.processes(host: 80, workload: 79, ownPidNamespace: false) == .shared)
    #expect(VerdictRules.processes(host: 80, workload: 81, ownPidNamespace: false) == .shared)
    #expect(VerdictRules.processes(host: 1, workload: 1, ownPidNamespace: true) == .shared)
    #expect(VerdictRules.processes(host: 80, workload: 1, ownPidNamespace: nil) == .unknown)
    #expect(VerdictRules.more(host: 0, workload: 1) == .reduced)
    #expect(VerdictRules.more(host: 1, workload: 1) == .shared)
    #expect(VerdictRules.more(host: 2, workload: 1) == .shared)
    #expect(VerdictRules.more(host: 0, workload: nil) == .unknown)
    #expect(VerdictRules.ids(host: (0, 0), workloadOnHost: (0, 0)) == .shared)
    #expect(VerdictRules.ids(host: (0, 0), workloadOnHost: (100_000, 100_000)) == .reduced)
    #expect(VerdictRules.ids(host: (0, 0), workloadOnHost: nil) == .unknown)
  }

  @Test func capabilitiesInTheHostsUserNamespaceAndInItsOwn() {
    let all: UInt64 = 0x1ff_ffff_ffff
    let docker: UInt64 = 0xa804_25fb
    // The host's user namespace: a strict subset is reduced, the same or more shared.
    #expect(VerdictRules.capabilities(host: all, workload: docker, ownUserNamespace: false) == .reduced)
    #expect(VerdictRules.capabilities(host: all, workload: 0, ownUserNamespace: false) == .reduced)
    #expect(VerdictRules.capabilities(host: all, workload: all, ownUserNamespace: false) == .shared)
    #expect(VerdictRules.capabilities(host: 0, workload: 0, ownUserNamespace: false) == .shared)
    #expect(VerdictRules.capabilities(host: docker, workload: all, ownUserNamespace: false) == .shared)
    // Its own: what it holds acts there only.
    #expect(VerdictRules.capabilities(host: all, workload: all, ownUserNamespace: true) == .isolated)
    #expect(VerdictRules.capabilities(host: all, workload: docker, ownUserNamespace: true) == .isolated)
    #expect(VerdictRules.capabilities(host: all, workload: 0, ownUserNamespace: true) == .reduced)
    #expect(VerdictRules.capabilities(host: 0, workload: 0, ownUserNamespace: true) == .shared)
    #expect(VerdictRules.capabilities(host: all, workload: docker, ownUserNamespace: nil) == .unknown)
    #expect(VerdictRules.capabilities(host: nil, workload: docker, ownUserNamespace: false) == .unknown)
  }

  @Test func limitsAreLowerRaisedOrEqualSoftAndHard() {
    // The case: equal soft limits, a lower hard core limit.
    let host: [String: [UInt64?]] = ["core": [0, nil], "nofile": [20000, 20000]]
    var w = host
    w["core"] = [0, 0]
    let r = VerdictRules.limits(host: host, workload: w)
    #expect(r.verdict == .reduced && r.lower == ["core"] && r.higher.isEmpty)
    #expect(VerdictRules.limits(host: host, workload: host).verdict == .shared)
    w = host
    w["nofile"] = [30000, 30000]
    let raised = VerdictRules.limits(host: host, workload: w)
    #expect(raised.verdict == .shared && raised.higher == ["nofile"] && raised.lower.isEmpty)
    w["core"] = [0, 0]
    let both = VerdictRules.limits(host: host, workload: w)
    #expect(both.verdict == .reduced && both.lower == ["core"] && both.higher == ["nofile"])
    // A number is lower than unlimited; a missing resource counts as unlimited.
    #expect(VerdictRules.limits(host: ["memory": [nil]], workload: ["memory": [48 << 20]]).lower == ["memory"])
    #expect(VerdictRules.limits(host: [:], workload: ["pids": [64]]).verdict == .reduced)
    #expect(VerdictRules.limits(host: nil, workload: host).verdict == .unknown)
  }

  @Test func theCountsOfTheScorecardAndCompare() {
    func row(_ name: String, _ v: IsolationVerdict) -> ComparisonRow {
      ComparisonRow(property: name, host: "", workload: "", verdict: v, reason: nil)
    }
    let rows = [
      row("pid namespace", .isolated), row("check: a", .reduced), row("check: b", .isolated),
      row("check: c", .shared), row("check: d", .unknown), row("check: e", .unknown), row("seccomp", .reduced),
    ]
    let c = VerdictRules.checkCounts(rows)
    #expect(c.denied == 2 && c.compared == 3 && c.total == 5)
  }
}
