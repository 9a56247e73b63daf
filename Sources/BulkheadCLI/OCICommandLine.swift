import BulkheadOCI
import BulkheadSpec
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The OCI runtime command line (runc's): global flags, then create, start, state,
/// kill, delete, spec, features. Parsed by hand, as runc's urfave/cli reads it, so
/// that engines' argument orders work; Bulkhead's own commands keep ArgumentParser.
enum OCICommandLine {
  static let commands: Set<String> = [
    "create", "start", "state", "kill", "delete", "exec", "pause", "resume", "ps", "list", "spec", "features",
  ]
  static let valueGlobals: Set<String> = ["--root", "--log", "--log-format", "--rootless", "--criu"]
  static let flagGlobals: Set<String> = ["--debug", "--systemd-cgroup"]

  /// Whether `arguments` are an OCI invocation (a global flag or an OCI command first).
  static func matches(_ arguments: [String]) -> Bool {
    guard let first = arguments.first else { return false }
    let name = first.split(separator: "=", maxSplits: 1).first.map(String.init) ?? first
    return commands.contains(first) || valueGlobals.contains(name) || flagGlobals.contains(first)
      || first == "--version" || first == "-v"
  }

  struct Globals {
    var root =
      getuid() == 0
      ? "/run/bulkhead"
      : (ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"].map { $0 + "/bulkhead" } ?? "/tmp/bulkhead-\(getuid())")
    var log: String?
    var json = false
    var systemdCgroup = false
  }

  static func main(_ arguments: [String]) -> Int32 {
    var globals = Globals()
    do {
      return try run(arguments, &globals)
    } catch {
      report(error.message, globals)
      return 1
    }
  }

  /// One line on stderr, and one line in --log (a JSON object with --log-format json:
  /// podman reads the file with a single unmarshal).
  static func report(_ message: String, _ g: Globals) {
    let line = BulkheadError.oneLine(message)
    FileHandle.standardError.write(Data("bulkhead: \(line)\n".utf8))
    guard let log = g.log else { return }
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let text: String
    if g.json {
      let object = ["level": "error", "msg": line, "time": f.string(from: Date())]
      let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
      text = String(decoding: data, as: UTF8.self) + "\n"
    } else {
      text = "time=\"\(f.string(from: Date()))\" level=error msg=\(line.debugDescription)\n"
    }
    let fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    if fd >= 0 {
      _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
      close(fd)
    }
  }

  static func run(_ arguments: [String], _ g: inout Globals) throws(OCIError) -> Int32 {
    var args = arguments[...]
    func value(_ flag: String, _ inline: String?) throws(OCIError) -> String {
      if let inline { return inline }
      guard let v = args.popFirst() else { throw OCIError("flag needs an argument: \(flag)") }
      return v
    }
    while let first = args.first, first.hasPrefix("-") {
      args.removeFirst()
      let parts = first.split(separator: "=", maxSplits: 1).map(String.init)
      let flag = parts[0]
      let inline = parts.count == 2 ? parts[1] : nil
      switch flag {
      case "--root": g.root = try value(flag, inline)
      case "--log": g.log = try value(flag, inline)
      case "--log-format":
        let format = try value(flag, inline)
        guard format == "text" || format == "json" else { throw OCIError("invalid log-format: \(format)") }
        g.json = format == "json"
      case "--rootless":
        let v = try value(flag, inline)
        guard ["auto", "true", "false"].contains(v) else { throw OCIError("invalid --rootless value: \(v)") }
        if v == "true" && getuid() == 0 { break }
        if v == "true" { throw OCIError("--rootless true: rootless containers are not supported yet") }
      case "--criu": _ = try value(flag, inline)
      case "--debug": break
      case "--systemd-cgroup": g.systemdCgroup = true
      case "--version", "-v":
        print("bulkhead version 0.1.0\nspec: \(OCIConfig.specVersion)")
        return 0
      case "--help", "-h":
        print(usage)
        return 0
      default: throw OCIError("flag provided but not defined: \(first) (see bulkhead --help)")
      }
    }
    guard let command = args.popFirst() else { throw OCIError("no command given (see bulkhead --help)") }
    if g.root.hasPrefix("/") == false { g.root = FileManager.default.currentDirectoryPath + "/" + g.root }
    let runtime = OCIRuntime(root: g.root)
    var rest = Array(args)
    // `bulkhead create --help`: the usage, as runc prints its commands' help.
    if rest.first == "--help" || rest.first == "-h" {
      print(usage)
      return 0
    }
    func id() throws(OCIError) -> String {
      guard let first = rest.first, !first.isEmpty else { throw OCIError("\(command): container id cannot be empty") }
      rest.removeFirst()
      return first
    }
    func flags(_ valued: Set<String>, _ plain: Set<String>) throws(OCIError) -> [String: String] {
      var out: [String: String] = [:]
      var positional: [String] = []
      var i = 0
      while i < rest.count {
        let a = rest[i]
        i += 1
        guard a.hasPrefix("-"), a != "-" else {
          positional.append(a)
          continue
        }
        let parts = a.split(separator: "=", maxSplits: 1).map(String.init)
        let name = parts[0].hasPrefix("--") ? parts[0] : "-" + parts[0].drop(while: { $0 == "-" })
        if valued.contains(name) {
          if parts.count == 2 {
            out[name] = parts[1]
          } else {
            guard i < rest.count else { throw OCIError("flag needs an argument: \(a)") }
            out[name] = rest[i]
            i += 1
          }
        } else if plain.contains(name) {
          out[name] = parts.count == 2 ? parts[1] : "true"
        } else {
          throw OCIError("flag provided but not defined: \(a) (see bulkhead \(command) --help)")
        }
      }
      rest = positional
      return out
    }
    switch command {
    case "create":
      let f = try flags(
        ["--bundle", "-b", "--pid-file", "--console-socket", "--preserve-fds"], ["--no-pivot", "--no-new-keyring"])
      let container = try id()
      if let n = f["--preserve-fds"], n != "0" {
        throw OCIError("--preserve-fds \(n): passing descriptors is not supported yet")
      }
      if f["--no-pivot"] != nil { throw OCIError("--no-pivot: bulkhead always uses pivot_root") }
      try runtime.create(
        id: container, bundle: f["--bundle"] ?? f["-b"] ?? FileManager.default.currentDirectoryPath,
        pidFile: f["--pid-file"], consoleSocket: f["--console-socket"], systemdCgroup: g.systemdCgroup)
    case "start":
      try runtime.start(id: try id())
    case "exec":
      // runc's order: flags, the ID, then the command (whose own flags are its own).
      var request = OCIRuntime.ExecRequest()
      var i = 0
      func next(_ flag: String, _ inline: String?) throws(OCIError) -> String {
        if let inline { return inline }
        i += 1
        guard i < rest.count else { throw OCIError("flag needs an argument: \(flag)") }
        return rest[i]
      }
      while i < rest.count, rest[i].hasPrefix("-"), rest[i] != "-" {
        let parts = rest[i].split(separator: "=", maxSplits: 1).map(String.init)
        let flag = parts[0].hasPrefix("--") ? parts[0] : "-" + parts[0].drop(while: { $0 == "-" })
        let inline = parts.count == 2 ? parts[1] : nil
        switch flag {
        case "--process", "-p": request.processFile = try next(flag, inline)
        case "--detach", "-d": request.detach = true
        case "--pid-file": request.pidFile = try next(flag, inline)
        case "--console-socket": request.consoleSocket = try next(flag, inline)
        case "--tty", "-t": request.tty = true
        case "--cwd": request.cwd = try next(flag, inline)
        case "--env", "-e": request.env.append(try next(flag, inline))
        case "--user", "-u": request.user = try next(flag, inline)
        case "--no-new-privs": request.noNewPrivileges = true
        case "--ignore-paused": request.ignorePaused = true
        case "--preserve-fds":
          let n = try next(flag, inline)
          if n != "0" { throw OCIError("--preserve-fds \(n): passing descriptors is not supported yet") }
        case "--apparmor", "--process-label":
          let v = try next(flag, inline)
          if !v.isEmpty { throw OCIError("\(flag) \(v): not available to bulkhead (no AppArmor or SELinux here)") }
        case "--cap", "-c", "--cgroup":
          throw OCIError("\(flag): not supported yet (give the capabilities in --process)")
        default: throw OCIError("flag provided but not defined: \(rest[i]) (see bulkhead exec --help)")
        }
        i += 1
      }
      rest.removeFirst(i)
      let container = try id()
      request.args = rest
      rest = []
      if request.processFile != nil && !request.args.isEmpty {
        throw OCIError("exec: give --process or a command, not both")
      }
      return try runtime.exec(id: container, request)
    case "state":
      let doc = try runtime.state(id: try id())
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      print(String(decoding: (try? encoder.encode(doc)) ?? Data(), as: UTF8.self))
    case "kill":
      let f = try flags([], ["--all", "-a"])
      let container = try id()
      let signal = try OCIRuntime.signal(rest.first ?? "TERM")
      try runtime.kill(id: container, signal: signal, all: f["--all"] != nil || f["-a"] != nil)
    case "delete":
      let f = try flags([], ["--force", "-f"])
      try runtime.delete(id: try id(), force: f["--force"] != nil || f["-f"] != nil)
    case "pause", "resume":
      try runtime.pause(id: try id(), command == "pause")
    case "ps":
      let f = try flags(["--format", "-f"], [])
      let format = f["--format"] ?? f["-f"] ?? "table"
      guard format == "table" || format == "json" else { throw OCIError("invalid format option: \(format)") }
      let pids = try runtime.processes(id: try id())
      rest = []  // runc passes the rest to ps(1); the table here is bulkhead's own
      if format == "json" {
        print("[" + pids.map(String.init).joined(separator: ",") + "]")
      } else {
        print("PID     CMD")
        for pid in pids {
          let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
          let cmd = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
          print(String(pid).padding(toLength: 8, withPad: " ", startingAt: 0) + cmd)
        }
      }
    case "list":
      let f = try flags(["--format", "-f"], ["--quiet", "-q"])
      let format = f["--format"] ?? f["-f"] ?? "table"
      guard format == "table" || format == "json" else { throw OCIError("invalid format option: \(format)") }
      let all = runtime.list()
      if f["--quiet"] != nil || f["-q"] != nil {
        for c in all { print(c.id) }
      } else if format == "json" {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: (try? encoder.encode(all)) ?? Data("[]".utf8), as: UTF8.self))
      } else {
        print("ID\tPID\tSTATUS\tBUNDLE\tCREATED")
        for c in all { print("\(c.id)\t\(c.pid)\t\(c.status)\t\(c.bundle)\t\(c.created)") }
      }
    case "spec":
      let f = try flags(["--bundle", "-b"], ["--rootless"])
      let bundle = f["--bundle"] ?? f["-b"] ?? "."
      let path = bundle + "/config.json"
      if access(path, F_OK) == 0 { throw OCIError("File \(path) exists. Remove it first") }
      let text = OCIDocuments.defaultConfig(rootless: f["--rootless"] != nil)
      let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
      guard fd >= 0 else { throw OCIError("create \(path): \(BulkheadError.describe(errno: errno).lowercased())") }
      _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
      close(fd)
    case "features":
      print(OCIDocuments.features, terminator: "")
    default:
      throw OCIError("unknown command \(command.debugDescription)")
    }
    if !rest.isEmpty && command != "kill" {
      throw OCIError("\(command): unexpected argument \(rest[0].debugDescription)")
    }
    return 0
  }

  static let usage = """
    usage: bulkhead [GLOBAL FLAGS] COMMAND ...   (the OCI runtime command line, as runc's)
      global: --root DIR  --log FILE  --log-format text|json  --debug  --systemd-cgroup  --rootless auto|true|false
      create --bundle DIR [--pid-file FILE] [--console-socket PATH] ID   set the container up; its init waits for start
      start ID                                    run the process of a created container
      exec [--process FILE | ID COMMAND...] [--detach --pid-file FILE] [--tty --console-socket PATH] [--cwd DIR]
           [--env NAME=VALUE] [--user UID[:GID]]   another process in the container (exit: its status)
      state ID                                    the runtime-spec state JSON (status derived from the init)
      kill [--all] ID [SIGNAL]                    default TERM; numbers or names
      delete [--force] ID                         remove a stopped container (--force kills it first)
      pause ID / resume ID                        freeze / thaw the container's cgroup (status paused)
      ps [--format table|json] ID                 the host pids of the container's processes
      list [--format table|json] [-q]             the containers of --root
      spec [--bundle DIR] [--rootless]            write a default config.json
      features                                    the runtime-spec features document
      --version                                   the runtime-spec version implemented
    Bulkhead's own commands (run, inspect, crash, bench, compare) are listed by 'bulkhead help'.
    """
}
