import Foundation
import Testing

@testable import BulkheadLab

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// The report's statistics and rendering, from made-up results (no machine needed).
@Suite struct BenchChartsTests {
  static func result(_ kind: String, _ level: String, _ name: String, p50: UInt64, metric: String = "latency")
    -> BenchResult
  {
    let samples = (0..<100).map { p50 - p50 / 10 + UInt64($0) * (p50 / 500) }
    return BenchResult(
      kind: kind, level: level, name: name, metric: metric,
      distribution: Distribution(samples: samples, unit: metric == "memory" ? "B" : "ns"))
  }

  static let machine = MachineInfo(
    cpuModel: "Test CPU", cpus: 2, kernel: "6.1.0", memoryBytes: 8 << 30, cgroupVersion: "v1")

  static func report() -> BenchReport {
    let results = [
      result("spawn", "thread", "pthread_create+join", p50: 20_000),
      result("spawn", "container", "mnt+pid, no cgroup", p50: 1_000_000),
      result("spawn", "container", "+net namespace", p50: 1_400_000),
      result("spawn", "container", "small supervisor", p50: 3_000_000),
      result("spawn", "container", "1 GiB supervisor", p50: 3_050_000),
      result("spawn", "process", "fork+exec, small supervisor", p50: 500_000),
      result("spawn", "process", "fork+exec, 1 GiB supervisor", p50: 2_500_000),
      BenchResult(kind: "spawn", level: "container", name: "+user namespace", metric: "latency", unavailable: "EPERM"),
      result("memory", "thread", "idle thread", p50: 40_000, metric: "memory"),
      result("memory", "container", "idle container", p50: 900_000, metric: "memory"),
    ]
    return BenchReport(machine: machine, startedAt: 1, results: results)
  }

  @Test func marginalIsTheDifferenceOfMediansFromTheNamedReference() throws {
    let results = Self.report().results
    let net = try #require(results.first { $0.name == "+net namespace" })
    let m = try #require(SpawnBench.marginal(of: net, in: results))
    #expect(m.reference == "mnt+pid, no cgroup")
    let base = try #require(results.first { $0.name == "mnt+pid, no cgroup" }?.distribution)
    #expect(m.nanoseconds == Int64(net.distribution!.p50) - Int64(base.p50))
    #expect(SpawnBench.marginal(of: results[0], in: results) == nil)  // a thread has no reference
    // The unavailable variant has none either.
    #expect(SpawnBench.marginal(of: results[7], in: results) == nil)
  }

  @Test func theHeapVerdictComparesTheContainerSpawnWithTheTarget() throws {
    let line = try #require(BenchCharts.heapVerdict(Self.report().results))
    #expect(line.contains("1 GiB"))
    #expect(line.contains("(target at most +100 µs: met)"))
    #expect(line.contains("fork+exec: +2"))
    var slow = Self.report().results
    slow[4] = Self.result("spawn", "container", "1 GiB supervisor", p50: 3_500_000)
    #expect(BenchCharts.heapVerdict(slow)?.contains("missed") == true)
    // With rounds, the verdict needs every round on one side of the target.
    func withRounds(_ deltas: [Int64]) -> String? {
      var results = Self.report().results
      results[4].notes = [
        SpawnBench.roundDeltasPrefix + deltas.map { ($0 >= 0 ? "+" : "") + "\($0)" }.joined(separator: ", ")
      ]
      return BenchCharts.heapVerdict(results)
    }
    #expect(withRounds([-20_000, 40_000, 90_000])?.contains("met in every round") == true)
    #expect(withRounds([120_000, 400_000])?.contains("missed in every round") == true)
    #expect(withRounds([-700_000, 500_000, 1_600_000])?.contains("inconclusive") == true)
    #expect(withRounds([-700_000, 500_000])?.contains("per round: -700 µs, +500 µs") == true)
  }

  @Test func tablesShowEveryResultAndWhyOneIsMissing() {
    let text = BenchCharts.tables(for: Self.report())
    for r in Self.report().results { #expect(text.contains(r.name), "\(r.name)") }
    #expect(
      text.split(separator: "\n").contains { $0.contains("+user namespace") && $0.contains("n/a (see warnings)") })
    #expect(text.contains("vs ref (p50)"))
    #expect(text.contains("per unit (p50)"))
  }

  @Test func aLongTailIsReportedAsNoise() {
    let quiet = BenchCharts.noiseWarnings(Self.report().results)
    #expect(quiet.isEmpty)
    let noisy = BenchResult(
      kind: "spawn", level: "process", name: "posix_spawn", metric: "latency",
      distribution: Distribution(samples: Array(repeating: 100, count: 90) + Array(repeating: 50_000, count: 10)))
    let warnings = BenchCharts.noiseWarnings([noisy])
    #expect(warnings.count == 1 && warnings[0].contains("posix_spawn"))
  }

  @Test func theJSONEnvelopeRoundTripsWithItsSchema() throws {
    let report = Self.report()
    let data = try JSONEncoder().encode(report)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["schema"] as? String == "bulkhead.bench/1")
    #expect(Set(object.keys) == ["schema", "machine", "startedAt", "results", "warnings"])
    #expect(try JSONDecoder().decode(BenchReport.self, from: data) == report)
  }

  @Test func boxesSayWhereThePeersRan() {
    var r = Self.result("ipc", "process", "pipe blocking rtt 1B", p50: 9_000)
    r.placement = "same core (cpu 0)"
    let report = BenchReport(machine: Self.machine, startedAt: 1, results: [r])
    #expect(BenchCharts.svg(for: report).contains("pipe blocking rtt 1B, same core (cpu 0)"))
  }

  @Test func theSVGHasAChartPerKindAndParses() throws {
    let report = Self.report()
    let charts = BenchCharts.charts(for: report)
    #expect(charts.count == 2)  // spawn box plots, memory bars
    let svg = BenchCharts.svg(for: report)
    #if canImport(FoundationXML)
      let parser = XMLParser(data: Data(svg.utf8))
      #expect(parser.parse(), "not well-formed")
    #endif
    for r in report.results where r.distribution != nil {
      #expect(svg.contains(r.name.replacingOccurrences(of: "&", with: "&amp;")))
    }
  }
}
