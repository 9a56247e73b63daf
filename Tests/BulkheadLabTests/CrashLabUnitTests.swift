import BulkheadSpec
import BulkheadWorkloads
import Testing

@testable import BulkheadLab

@Suite struct CrashLabUnitTests {
  @Test func theLabInjectsEveryFaultOfTheCatalogueAndSeccomp() {
    // The faults are named twice (the catalogue runs them, the lab injects them):
    // this keeps the two lists one.
    #expect(
      CrashFault.allCases.map(\.rawValue) == WorkloadName.allCases.filter(\.isFault).map(\.rawValue) + ["seccomp"])
    for fault in CrashFault.allCases where fault != .seccomp {
      #expect(WorkloadInvocation(parsing: fault.workload) != nil, "\(fault)")
    }
  }

  @Test func seccompIsOnlyForContainers() {
    #expect(CrashFault.seccomp.applies(to: .container))
    for level in [IsolationLevel.task, .thread, .process] { #expect(!CrashFault.seccomp.applies(to: level)) }
  }

  @Test func canaryLinesParseWhateverStrerrorSays() throws {
    let ok = try #require(CrashLab.parseCanary("canary 3 fork=ok alloc=ok us=812"))
    #expect(ok.0 && ok.1 && ok.2 == 812)
    let starved = try #require(
      CrashLab.parseCanary("canary 9 fork=Resource temporarily unavailable alloc=failed us=40"))
    #expect(!starved.0 && !starved.1 && starved.2 == 40)
    #expect(CrashLab.parseCanary("alive 3") == nil)
  }

  func cell(alive: Int, host: Bool? = nil, impaired: Int = 0, escaped: Int = 0, canary: CanaryReport = CanaryReport())
    -> CrashCell
  {
    CrashCell(
      level: .process, fault: .segv, verdict: .contained, explanation: "", faultyOutcome: "signal SIGSEGV",
      detectionMilliseconds: 1, siblings: 3, siblingsAlive: alive, siblingsImpaired: impaired, siblingStops: [],
      hostSurvived: host, supervisorSurvived: true, canary: canary, escapedProcesses: escaped, leftovers: Leftovers(),
      observedMilliseconds: 300)
  }

  @Test func verdictsFollowWhatWasMeasured() {
    #expect(CrashLab.verdict(cell(alive: 3)) == .contained)
    #expect(CrashLab.verdict(cell(alive: 2)) == .spread)
    #expect(CrashLab.verdict(cell(alive: 3, host: false)) == .spread)
    #expect(CrashLab.verdict(cell(alive: 3, impaired: 1)) == .partial)
    #expect(CrashLab.verdict(cell(alive: 3, escaped: 1)) == .partial)
    var starved = CanaryReport()
    starved.forkFailures = 2
    #expect(CrashLab.verdict(cell(alive: 3, canary: starved)) == .partial)
    var left = cell(alive: 3)
    left.leftovers.processes = 1
    #expect(CrashLab.verdict(left) == .partial)
    #expect(left.summary.contains("LEFT 1"))
  }

  /// The README states the safety box's and each container's limits.
  @Test func theBoxAndTheContainersHaveTheLimitsTheREADMEStates() {
    let config = CrashLab.Config()
    #expect(config.boxMemoryBytes == 256 << 20)
    #expect(config.boxPids == 256)
    #expect(config.boxCPUs == 1.5)
    #expect(config.containerMemoryBytes == 64 << 20)
    #expect(config.containerPids == 64)
    #expect(config.descriptorLimit == 4096)
    #expect(config.siblings == 3 && config.windowMilliseconds == 600)
  }
}
