import BulkheadSpec
import CBulkhead
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One entry of config.json's `hooks`: a program run by the runtime, in the
/// runtime's namespaces, with the container's state JSON on its standard input.
public struct OCIHook: Sendable, Equatable {
  public var path: String
  public var args: [String]
  public var env: [String]
  public var timeout: Int?
}

/// The hooks that run in the runtime's namespaces. createContainer and
/// startContainer (in the container's) are refused with their JSON path.
public struct OCIHooks: Sendable, Equatable {
  public var prestart: [OCIHook] = []
  public var createRuntime: [OCIHook] = []
  public var poststart: [OCIHook] = []
  public var poststop: [OCIHook] = []

  static func parse(_ hooks: JSONObject) throws(OCIError) -> OCIHooks {
    func list(_ key: String) throws(OCIError) -> [OCIHook] {
      var out: [OCIHook] = []
      for entry in try hooks.objects(key) ?? [] {
        guard let path = try entry.string("path"), path.hasPrefix("/") else {
          throw .field(entry.path + ".path", "must be an absolute path")
        }
        let timeout = try entry.int("timeout")
        if let timeout, timeout <= 0 { throw .field(entry.path + ".timeout", "must be more than 0 seconds") }
        out.append(
          OCIHook(
            path: path, args: try entry.strings("args") ?? [path], env: try entry.strings("env") ?? [],
            timeout: timeout.map { Int($0) }))
        try entry.finish()
      }
      return out
    }
    var h = OCIHooks()
    h.prestart = try list("prestart")
    h.createRuntime = try list("createRuntime")
    h.poststart = try list("poststart")
    h.poststop = try list("poststop")
    for key in ["createContainer", "startContainer"] where !(try list(key)).isEmpty {
      throw .field(
        "hooks.\(key)",
        "hooks in the container's namespaces are not supported yet (prestart, createRuntime, poststart, poststop are)")
    }
    try hooks.finish()
    return h
  }

  /// Runs `hooks` in order, each with `state` on stdin; the first that fails (a
  /// status other than 0, a signal, its timeout) stops the rest and is thrown.
  static func run(_ hooks: [OCIHook], _ phase: String, state: Data) throws(OCIError) {
    for (i, hook) in hooks.enumerated() {
      let name = "hooks.\(phase)[\(i)] (\(hook.path))"
      var input: [Int32] = [-1, -1]
      guard bh_pipe_cloexec(&input) == 0 else {
        throw OCIError("\(name): pipe2: \(BulkheadError.describe(errno: errno).lowercased())")
      }
      var actions = posix_spawn_file_actions_t()
      posix_spawn_file_actions_init(&actions)
      defer { posix_spawn_file_actions_destroy(&actions) }
      posix_spawn_file_actions_adddup2(&actions, input[0], 0)
      var attributes = posix_spawnattr_t()
      posix_spawnattr_init(&attributes)
      defer { posix_spawnattr_destroy(&attributes) }
      var empty = sigset_t()
      sigemptyset(&empty)
      posix_spawnattr_setsigmask(&attributes, &empty)
      var all = sigset_t()
      sigfillset(&all)
      posix_spawnattr_setsigdefault(&attributes, &all)
      posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
      let argv: [UnsafeMutablePointer<CChar>?] = hook.args.map { strdup($0) } + [nil]
      let envp: [UnsafeMutablePointer<CChar>?] = hook.env.map { strdup($0) } + [nil]
      defer { for p in argv + envp { free(p) } }
      var pid: pid_t = 0
      let err = posix_spawn(&pid, hook.path, &actions, &attributes, argv, envp)
      close(input[0])
      guard err == 0 else {
        close(input[1])
        throw OCIError("\(name): \(BulkheadError.describe(errno: err).lowercased())")
      }
      // The state is small (well under a pipe's buffer): written whole, then EOF.
      _ = state.withUnsafeBytes { Glibc.write(input[1], $0.baseAddress, $0.count) }
      close(input[1])
      let pidfd = bh_pidfd_open(pid)
      var timedOut = false
      if pidfd >= 0 {
        var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        let limit = hook.timeout.map { Int32(clamping: $0 * 1000) } ?? -1
        var ready: Int32
        repeat { ready = poll(&p, 1, limit) } while ready < 0 && errno == EINTR
        if ready == 0 {
          timedOut = true
          _ = bh_pidfd_send_signal(pidfd, SIGKILL)
        }
        close(pidfd)
      }
      var status: Int32 = 0
      while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
      if timedOut { throw OCIError("\(name): timed out after \(hook.timeout ?? 0) s") }
      let signal = status & 0x7f
      if signal != 0 { throw OCIError("\(name): killed by signal \(signal)") }
      let code = (status >> 8) & 0xff
      if code != 0 { throw OCIError("\(name): exited with status \(code)") }
    }
  }

  /// As `run`, for the hooks whose failure runtime-spec makes a warning (poststart,
  /// poststop): each failure is one line on stderr, and the rest still run.
  static func runWarning(_ hooks: [OCIHook], _ phase: String, state: Data) {
    for (i, hook) in hooks.enumerated() {
      do { try run([hook], phase, state: state) } catch {
        let message = error.message.replacingOccurrences(of: "hooks.\(phase)[0]", with: "hooks.\(phase)[\(i)]")
        FileHandle.standardError.write(Data("bulkhead: warning: \(message)\n".utf8))
      }
    }
  }

  /// The state document hooks read: runtime-spec's, with the given status.
  static func stateJSON(_ state: OCIStateFile, status: String, pid: Int32) -> Data {
    let doc = OCIStateDocument(
      ociVersion: state.ociVersion, id: state.id, status: status, pid: pid, bundle: state.bundle,
      created: state.created, annotations: state.annotations.isEmpty ? nil : state.annotations)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(doc)) ?? Data()
  }
}
