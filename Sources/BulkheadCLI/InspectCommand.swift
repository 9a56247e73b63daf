import ArgumentParser
import BulkheadCore
import BulkheadReports
import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `bulkhead inspect`: what a workload sees and may do, beside the host.
public struct InspectCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Show what a workload sees and may do at a level, beside the host, or across levels.",
    discussion: """
      Runs the probe's inspect workload (namespaces, ids, capabilities, seccomp, cgroup, mounts, \
      descriptors, and privileged operations attempted for real) with the same options as \
      'bulkhead run', and marks each property isolated, shared, reduced or n/a, from what the \
      host and the workload each showed (docs/inspect.md has the table). A check allowed on the \
      workload's own instance only (its own network namespace, its own root) is isolated; one \
      refused on the host as well is n/a. Cgroup paths and limits are read from outside.

      Examples:
        bulkhead inspect                   # the default container, beside the host
        bulkhead inspect --level process
        bulkhead inspect --userns --cap-drop all
        bulkhead inspect --all-levels      # the isolation scorecard (with a host-view column)
        bulkhead inspect --rootfs host     # the host's own programs: which host paths it exposes
        bulkhead inspect --pid $$          # this shell, read through /proc
        bulkhead inspect --json
      """)

  @OptionGroup public var options: RunOptions

  @Option(
    help: ArgumentHelp(
      "Levels for the scorecard, comma-separated (task,thread,process,container).", valueName: "levels"))
  public var levels: String?

  @Flag(help: "The scorecard across all four levels.")
  public var allLevels = false

  @Option(help: ArgumentHelp("Inspect a running process from outside, through /proc/PID.", valueName: "pid"))
  public var pid: Int32?

  @Flag(help: "Print the report as JSON (schema bulkhead.inspect-report/1).")
  public var json = false

  public init() {}

  public func run() throws {
    if !options.workload.isEmpty {
      throw BulkheadError.invalidSpec(
        field: "--workload", value: options.workload.first, reason: "inspect runs its own workload",
        hint: "drop --workload")
    }
    let host = try InspectRunner.host()
    if let pid {
      if allLevels || levels != nil {
        throw BulkheadError.invalidSpec(field: "--pid", value: "\(pid)", reason: "conflicts with --levels")
      }
      let report = try InspectionReport.read(pid: pid)
      try emit(
        ComparisonReport(
          host: host, workload: report, rows: IsolationComparison.rows(host: host, workload: report),
          subject: "pid \(pid)"))
      return
    }
    let runner = InspectRunner(probePath: probeLocation(), hostExecutable: currentExecutablePath())
    if allLevels || levels != nil {
      let chosen =
        try levels.map { text throws(BulkheadError) in try parseLevels(text, field: "--levels") }
        ?? IsolationLevel.allCases
      try emit(
        Self.scorecard(host: host, levels: chosen, flags: options.flags, runner: runner) { line in
          if isatty(2) == 1 { printError(line) }
        })
      return
    }
    var flags = options.flags
    flags.workload = ["inspect"]
    let spec = try flags.makeSpec(command: [], hostEnvironment: hostEnvironment(), defaultRootfs: defaultRootfsLocation)
    let report = try runner.inspect(spec)
    try emit(
      ComparisonReport(
        host: host, workload: report, rows: IsolationComparison.rows(host: host, workload: report),
        subject: "\(spec.level.rawValue) level"))
  }

  /// The probe's inspect at each level, with the same flags (container-only ones
  /// for the container column only), set beside the host: the scorecard `inspect
  /// --all-levels` prints and `compare` includes.
  static func scorecard(
    host: InspectionReport, levels: [IsolationLevel], flags template: RunFlags, runner: InspectRunner,
    progress: (String) -> Void
  ) throws(BulkheadError) -> Scorecard {
    var results: [(String, InspectionReport)] = []
    for level in levels {
      progress("bulkhead: inspecting the \(level.rawValue) level...")
      var flags = template
      flags.level = level.rawValue
      flags.workload = ["inspect"]
      if level != .container { flags = Self.dropContainerOnly(flags) }
      let spec = try flags.makeSpec(
        command: [], hostEnvironment: hostEnvironment(), defaultRootfs: defaultRootfsLocation)
      results.append((level.rawValue, try runner.inspect(spec)))
      if level == .container && flags.rootfs != RunFlags.hostViewName {
        // The host's own programs as the root, beside the busybox one: which host
        // paths that exposes ("host paths in view").
        progress("bulkhead: inspecting the container level in the host view...")
        var view = flags
        view.rootfs = RunFlags.hostViewName
        let viewSpec = try view.makeSpec(
          command: [], hostEnvironment: hostEnvironment(), defaultRootfs: defaultRootfsLocation)
        results.append((Self.hostViewColumn, try runner.inspect(viewSpec)))
      }
    }
    return Scorecard(host: host, levels: results)
  }

  /// The scorecard column of the container level with `--rootfs host`.
  static let hostViewColumn = "host view"

  /// For a scorecard, container-only flags apply to the container column only.
  static func dropContainerOnly(_ flags: RunFlags) -> RunFlags {
    var f = flags
    f.share = []
    f.rootfs = nil
    f.rw = false
    f.bind = []
    f.tmpfs = []
    f.bindOverlay = []
    f.bindCwd = false
    f.bindCwdRo = false
    f.overlay = false
    f.overlayDir = nil
    f.overlaySize = nil
    f.hostname = nil
    f.userns = false
    return f
  }

  func emit(_ report: ComparisonReport) throws {
    if json { return try printJSON(report) }
    print("What the workload sees (\(report.subject)) beside the host:\n")
    let table = ReportTable(
      headers: ["property", "host", "workload", "verdict", "why"],
      rows: report.rows.map { [$0.property, $0.host, $0.workload, $0.verdict.rawValue, $0.reason ?? ""] })
    print(table.render())
  }

  func emit(_ card: Scorecard) throws {
    if json { return try printJSON(card) }
    print("Isolation scorecard: what each level gave, against the host\n")
    let properties = card.columns.first?.rows.map(\.property) ?? []
    var rows: [[String]] = []
    for (i, property) in properties.enumerated() {
      var row = [property]
      for column in card.columns {
        let r = column.rows.indices.contains(i) ? column.rows[i] : nil
        if property.hasPrefix("check: ") {
          row.append(r.map { $0.workload.split(separator: " ").first.map(String.init) ?? $0.workload } ?? "n/a")
        } else {
          row.append(r?.verdict.rawValue ?? "n/a")
        }
      }
      rows.append(row)
    }
    print(ReportTable(headers: ["property"] + card.columns.map(\.level), rows: rows).render())
    print("")
    for column in card.columns { print("\(column.level): \(column.summary)") }
  }
}

/// The single-level report's JSON (schema bulkhead.inspect-report/1).
struct ComparisonReport: Encodable {
  var schema = "bulkhead.inspect-report/1"
  var host: InspectionReport
  var workload: InspectionReport
  var rows: [ComparisonRow]
  var subject: String
}
