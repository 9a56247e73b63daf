/// A parser for the common shapes of `bulkhead run`, without ArgumentParser's
/// reflection, which costs about a millisecond per start: most of what separates a
/// static Swift binary from /bin/true. It understands exactly the flags of
/// `RunOptions` and `RunCommand`; anything else (help, a typo, a missing value)
/// returns nil and the full parser takes over, with its help and error messages.
/// A test holds the two parsers equal on every shape this one accepts.
public enum FastRunParser {
  public struct Parsed: Equatable {
    public var flags: RunFlags
    public var jsonStatus: String?
    public var command: [String]
  }

  /// "-=3": a dash followed by something that is neither a letter, a digit nor a dash.
  static func isRefusedDashToken(_ token: String) -> Bool {
    guard token.hasPrefix("-"), token.count > 1, !token.hasPrefix("--") else { return false }
    let second = token[token.index(after: token.startIndex)]
    return !(second.isLetter || second.isNumber)
  }

  public static func parse(_ arguments: [String]) -> Parsed? {
    guard arguments.first == "run" else { return nil }
    var flags = RunFlags()
    var jsonStatus: String? = nil
    var i = 1
    while i < arguments.count {
      let arg = arguments[i]
      if arg == "--" {
        return Parsed(flags: flags, jsonStatus: jsonStatus, command: Array(arguments[(i + 1)...]))
      }
      if arg.hasPrefix("-") && !arg.hasPrefix("--") { return nil }
      guard arg.hasPrefix("--") else {
        let command = Array(arguments[i...])
        // ArgumentParser refuses some dash tokens even after the command ("-=x":
        // an invalid short-option group); leave those to it, so both agree.
        if command.contains(where: { Self.isRefusedDashToken($0) }) { return nil }
        return Parsed(flags: flags, jsonStatus: jsonStatus, command: command)
      }
      var name = Substring(arg.dropFirst(2))
      var inlineValue: String? = nil
      if let eq = name.firstIndex(of: "=") {
        inlineValue = String(name[name.index(after: eq)...])
        name = name[..<eq]
      }
      switch name {
      case "rw", "keep-env", "userns", "overlay", "bind-cwd", "bind-cwd-ro", "tty", "no-tty":
        guard inlineValue == nil else { return nil }
        switch name {
        case "rw": flags.rw = true
        case "userns": flags.userns = true
        case "overlay": flags.overlay = true
        case "bind-cwd": flags.bindCwd = true
        case "bind-cwd-ro": flags.bindCwdRo = true
        case "tty", "no-tty":
          // Both given: the full parser says so.
          guard flags.tty == nil else { return nil }
          flags.tty = name == "tty"
        default: flags.keepEnv = true
        }
        i += 1
        continue
      default:
        break
      }
      let value: String
      if let inlineValue {
        value = inlineValue
        i += 1
      } else {
        // ArgumentParser refuses a value that looks like an option.
        guard i + 1 < arguments.count, arguments[i + 1] == "-" || !arguments[i + 1].hasPrefix("-") else {
          return nil
        }
        value = arguments[i + 1]
        i += 2
      }
      switch name {
      case "level": flags.level = value
      case "share": flags.share.append(value)
      case "rootfs": flags.rootfs = value
      case "bind": flags.bind.append(value)
      case "tmpfs": flags.tmpfs.append(value)
      case "bind-overlay": flags.bindOverlay.append(value)
      case "overlay-dir": flags.overlayDir = value
      case "overlay-size": flags.overlaySize = value
      case "hostname": flags.hostname = value
      case "cwd": flags.cwd = value
      case "env": flags.env.append(value)
      case "pass-fd":
        guard let fd = Int32(value) else { return nil }
        flags.passFd.append(fd)
      case "grace": flags.grace = value
      case "timeout": flags.timeout = value
      case "json-status": jsonStatus = value
      case "workload": flags.workload.append(value)
      case "seccomp": flags.seccomp = value
      case "cap-add": flags.capAdd.append(value)
      case "cap-drop": flags.capDrop.append(value)
      case "user": flags.user = value
      case "rlimit": flags.rlimit.append(value)
      case "memory": flags.memory = value
      case "memory-swap": flags.memorySwap = value
      case "pids":
        guard let n = Int(value) else { return nil }
        flags.pids = n
      case "cpus":
        // ArgumentParser's Double parsing decides what a number is.
        guard let n = Double(value), n.isFinite, !value.contains("_") else { return nil }
        flags.cpus = n
      case "cpu-time": flags.cpuTime = value
      default: return nil
      }
    }
    return Parsed(flags: flags, jsonStatus: jsonStatus, command: [])
  }
}
