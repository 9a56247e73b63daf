import Foundation
import Testing

/// `bulkhead compare --quick`: one real run, its JSON checked against itself (each
/// summary number must be the one its lab measured: no second implementation)
/// and its HTML rendered in headless Chromium.
@Suite(
  "bulkhead compare: one page from the labs' own numbers",
  .enabled(if: Harness.canRunWorkloads, Harness.workloadReason), .serialized)
struct CompareTests {
  static var chromiumReady: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") }

  struct Run {
    var json: [String: Any]
    var stdout: String
    var html: String
    /// Scripts/check-html's verdict on the page, when Chromium is installed.
    var check: Harness.Result?
  }

  /// One quick comparison for the whole suite; its files are read (and the page
  /// checked) at once and removed, whatever the tests then find.
  nonisolated(unsafe) static let run: Result<Run, Error> = Result {
    let dir = NSTemporaryDirectory() + "bulkhead-compare-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try Harness.run(["compare", "--quick", "--json", dir + "/report.json", "--html", dir + "/report.html"])
    guard r.status == 0 else { throw CrashLabTests.CrashRunFailed(status: r.status, stderr: r.stderr) }
    let check =
      chromiumReady
      ? try Harness.runExecutable(
        Harness.packageRoot + "/Scripts/check-html",
        ["--height", "6000", dir + "/report.html", dir + "/report.png"], environment: nil) : nil
    return Run(
      json: try Harness.json(String(contentsOfFile: dir + "/report.json", encoding: .utf8)), stdout: r.stdout,
      html: try String(contentsOfFile: dir + "/report.html", encoding: .utf8), check: check)
  }

  func summaries() throws -> [String: [String: Any]] {
    let levels = try Self.run.get().json["levels"] as? [[String: Any]] ?? []
    return Dictionary(uniqueKeysWithValues: levels.compactMap { l in (l["level"] as? String).map { ($0, l) } })
  }

  @Test func theJSONHasEveryLevelAndTheVMFromPublishedFigures() throws {
    let json = try Self.run.get().json
    // --quick, as docs/json-compare.md says: four faults, two siblings.
    let crash = try #require(json["crash"] as? [String: Any])
    #expect(crash["faults"] as? [String] == ["segv", "oom", "fork-bomb", "orphan"])
    #expect(crash["siblings"] as? Int == 2)
    #expect(json["quick"] as? Bool == true)
    #expect(json["schema"] as? String == "bulkhead.compare/1")
    #expect(try summaries().keys.sorted() == ["container", "process", "task", "thread"])
    let vm = try #require(json["vm"] as? [String: Any])
    #expect((vm["source"] as? String)?.contains("not measured here") == true)
    #expect((json["crash"] as? [String: Any])?["schema"] as? String == "bulkhead.crash/1")
    #expect((json["cost"] as? [String: Any])?["schema"] as? String == "bulkhead.bench/1")
  }

  @Test func eachSummaryNumberIsTheOneItsLabMeasured() throws {
    let json = try Self.run.get().json
    let cost = (json["cost"] as? [String: Any])?["results"] as? [[String: Any]] ?? []
    let cells = (json["crash"] as? [String: Any])?["cells"] as? [[String: Any]] ?? []
    let columns = (json["scorecard"] as? [String: Any])?["columns"] as? [[String: Any]] ?? []
    for (level, s) in try summaries() {
      // Spawn: the named variant's own p50.
      let variant = try #require(s["spawnVariant"] as? String, "\(level)")
      let spawn = try #require(
        cost.first {
          $0["kind"] as? String == "spawn" && $0["level"] as? String == level && $0["name"] as? String == variant
        })
      #expect((spawn["distribution"] as? [String: Any])?["p50"] as? Int == s["spawnP50"] as? Int, "\(level)")
      // Crash: the verdicts of this level's cells, counted.
      let mine = cells.filter { $0["level"] as? String == level }
      #expect(mine.filter { $0["verdict"] as? String == "spread" }.count == s["crashSpread"] as? Int, "\(level)")
      #expect(mine.filter { $0["verdict"] as? String == "contained" }.count == s["crashContained"] as? Int)
      // Isolation: the scorecard's rows for this level.
      let rows = try #require(columns.first { $0["level"] as? String == level }?["rows"] as? [[String: Any]])
      let isolated = rows.filter {
        ($0["property"] as? String)?.hasSuffix(" namespace") == true && $0["verdict"] as? String == "isolated"
      }
      #expect(isolated.count == s["namespacesIsolated"] as? Int, "\(level)")
      #expect(mine.filter { $0["verdict"] as? String == "partial" }.count == s["crashPartial"] as? Int)
      #expect((spawn["distribution"] as? [String: Any])?["p99"] as? Int == s["spawnP99"] as? Int, "\(level)")
      let namespaces = rows.filter { ($0["property"] as? String)?.hasSuffix(" namespace") == true }
      #expect(namespaces.count == s["namespacesTotal"] as? Int)
      // Privileged ops: each check row's verdict follows docs/inspect.md's table from
      // what it displays, and the summary counts those rows (n/a ones left out).
      let checks = rows.filter { ($0["property"] as? String)?.hasPrefix("check: ") == true }
      for row in checks {
        let table = InspectWitnessTests.checkVerdict(
          host: row["host"] as? String ?? "", workload: row["workload"] as? String ?? "", reachesHost: nil)
        let verdict = row["verdict"] as? String
        #expect(verdict == table || (table == "shared" && verdict == "isolated"), "\(level): \(row)")
      }
      let compared = checks.filter { $0["verdict"] as? String != "n/a" }
      #expect(compared.count == s["checksTotal"] as? Int, "\(level)")
      #expect(
        compared.filter { ["reduced", "isolated"].contains($0["verdict"] as? String) }.count
          == s["checksDenied"] as? Int, "\(level)")
      // Round trip and streaming: that level's one-core results, named by transport.
      let ipcLevel = level == "container" ? "host-container" : level
      let oneCore = cost.filter {
        $0["kind"] as? String == "ipc" && $0["level"] as? String == ipcLevel
          && ($0["placement"] as? String)?.hasPrefix("same core") == true
      }
      let transport = try #require(s["roundTripTransport"] as? String, "\(level)")
      let rtt = try #require(oneCore.first { ($0["name"] as? String) == "\(transport) blocking rtt 1B" }, "\(level)")
      #expect((rtt["distribution"] as? [String: Any])?["p50"] as? Int == s["roundTripP50"] as? Int, "\(level)")
      let stream = try #require(oneCore.first { $0["metric"] as? String == "throughput" }, "\(level)")
      #expect((stream["distribution"] as? [String: Any])?["p50"] as? Int == s["streamP50"] as? Int, "\(level)")
      #expect((s["memoryPerUnit"] as? Int ?? 0) > 0, "\(level): memory per unit measured")
      #expect((s["roundTripP50"] as? Int ?? 0) > 0, "\(level): a round trip measured")
    }
    // What physics orders: a thread starts faster than a container, a container
    // isolates more than a process, and a segv spreads among threads only.
    let s = try summaries()
    #expect((s["thread"]?["spawnP50"] as? Int ?? .max) < (s["container"]?["spawnP50"] as? Int ?? 0))
    #expect((s["container"]?["namespacesIsolated"] as? Int ?? 0) > (s["process"]?["namespacesIsolated"] as? Int ?? 0))
    #expect((s["thread"]?["crashSpread"] as? Int ?? 0) > 0)
    #expect(s["container"]?["crashSpread"] as? Int == 0)
  }

  @Test func theTerminalPageHasTheFiveColumnsAndAVerdictPerLevel() throws {
    let out = try Self.run.get().stdout
    let header = try #require(out.split(separator: "\n").first { $0.contains("task") && $0.contains("VM (published)") })
    for level in ["thread", "process", "container"] { #expect(header.contains(level)) }
    for level in ["task", "thread", "process", "container", "VM"] {
      #expect(out.split(separator: "\n").contains { $0.hasPrefix("\(level): ") }, "\(level)")
    }
  }

  /// Beside the busybox root, the page says what the host view exposes: the host's
  /// own /usr, read-only, and none of its secrets or homes.
  @Test func thePageSaysWhichHostPathsTheContainerAndTheHostViewExpose() throws {
    let lines = try Self.run.get().stdout.split(separator: "\n").map(String.init)
    #expect(lines.contains("  container: none (isolated)"), "\(lines)")
    let view = try #require(lines.first { $0.hasPrefix("  host view: ") }, "\(lines)")
    #expect(view.contains("ro ") && view.contains("/usr") && view.hasSuffix("(reduced)"), "\(view)")
    for secret in ["/etc/shadow", "/home", "/root", "/run", "rw "] { #expect(!view.contains(secret), "\(view)") }
  }

  /// compare takes the container level's root like inspect and crash, and refuses a
  /// bad one at the scorecard's first container (not after half a minute of
  /// measuring), in one line, with run's exit code for the same flags.
  @Test func compareTakesTheContainersRootAndRefusesABadOneAtOnce() throws {
    let help = try Harness.run(["compare", "--help"])
    for flag in ["--rootfs", "--overlay", "--overlay-dir"] { #expect(help.stdout.contains(flag), "\(flag)") }
    for (arguments, status) in [
      (["compare", "--rootfs", "/nonexistent-bulkhead-root"], Int32(125)),
      (["compare", "--overlay-dir", "/tmp/bulkhead,bad"], 2),
    ] {
      let started = Date()
      let r = try Harness.run(arguments)
      #expect(r.status == status, "\(arguments): \(r.status) \(r.stderr)")
      let errors = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("bulkhead: compare: ") }
      #expect(errors.count == 1, "\(r.stderr)")
      #expect(!r.stderr.contains("2/3"), "refused before the crash matrix: \(r.stderr)")
      #expect(Date().timeIntervalSince(started) < 20)
    }
  }

  @Test(.enabled(if: chromiumReady, "needs Debian's chromium (Scripts/setup installs it)"))
  func theHTMLRendersInChromiumWithEveryChart() throws {
    let run = try Self.run.get()
    // The scorecard, the blast-radius grid and the cost charts.
    #expect(run.html.components(separatedBy: "<svg").count - 1 >= 4)
    for title in ["Isolation scorecard", "Blast radius", "Spawn"] { #expect(run.html.contains(title), "\(title)") }
    let check = try #require(run.check)
    #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
  }
}
