import Foundation
import Testing

/// A real terminal: a private tmux server (its own socket, no config) whose one pane
/// runs bash, driven with `send-keys` and read with `capture-pane`, as a person
/// would use `bulkhead run` at a terminal.
final class TmuxSession {
  let socket: String
  private let outputFile: String

  static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") }

  init(width: Int = 100, height: Int = 30) throws {
    let marker = Harness.uniqueMarker()
    socket = NSTemporaryDirectory() + "bulkhead-tmux-\(marker).sock"
    outputFile = NSTemporaryDirectory() + "bulkhead-tmux-\(marker).out"
    let environment = [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/root",
      "BULKHEAD_ROOTFS=\(Harness.rootfs)", "B=\(Harness.bulkhead)", "PS1=$ ",
    ]
    let shell = "env -i " + environment.map { "'\($0)'" }.joined(separator: " ") + " bash --norc --noprofile"
    let started = tmux(["-f", "/dev/null", "new-session", "-d", "-x", "\(width)", "-y", "\(height)", shell])
    guard started.status == 0 else {
      end()
      throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "tmux: \(started.output)"])
    }
  }

  deinit { end() }

  /// Types `text` literally, then Enter.
  func type(_ text: String) {
    _ = tmux(["send-keys", "-t", "0", "-l", text])
    _ = tmux(["send-keys", "-t", "0", "Enter"])
  }

  /// Presses keys by tmux's names (C-c, C-z, Escape, Enter).
  func press(_ keys: String...) { _ = tmux(["send-keys", "-t", "0"] + keys) }

  func resize(width: Int, height: Int) {
    _ = tmux(["resize-window", "-t", "0", "-x", "\(width)", "-y", "\(height)"])
  }

  /// What the pane shows, with its scrollback.
  func screen() -> String { tmux(["capture-pane", "-p", "-J", "-S", "-500", "-t", "0"]).output }

  /// Waits until the screen contains `needle` (up to `seconds`); returns whether it did.
  /// Wait for output that differs from the typed line (echo x-''MARK prints x-MARK).
  @discardableResult
  func wait(for needle: String, seconds: Double = 10) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if screen().contains(needle) { return true }
      usleep(50_000)
    }
    return false
  }

  private var ended = false

  func end() {
    guard !ended else { return }
    ended = true
    _ = tmux(["kill-server"])
    unlink(socket)
    unlink(outputFile)
  }

  /// Runs one tmux client (see `Harness.spawnDetached`: the server must neither
  /// inherit the test process's blocked signals nor hold its pipes open).
  @discardableResult
  private func tmux(_ arguments: [String]) -> (status: Int32, output: String) {
    let status = Harness.spawnDetached(
      ["/usr/bin/tmux", "-S", socket] + arguments, environment: ["PATH=/usr/bin:/bin", "TERM=xterm", "HOME=/root"],
      output: outputFile)
    let output = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
    return (status, output)
  }
}

@Suite(
  "A terminal for the workload (run -t), in a real terminal",
  .enabled(if: Harness.canRunContainers, Harness.containerReason),
  .enabled(if: TmuxSession.available, "needs tmux (Scripts/setup installs it)"))
struct TerminalTests {
  @Test("An interactive shell in a container: its own pty, job control, Ctrl-C ends the job not the shell")
  func jobControlAndInterrupt() throws {
    let tmux = try TmuxSession()
    defer { tmux.end() }
    let marker = Harness.uniqueMarker()
    tmux.type("$B run --hostname \(marker) -- sh")
    #expect(tmux.wait(for: "/ # "), "no prompt: \(tmux.screen())")
    tmux.type("tty; echo t-''$?")
    #expect(tmux.wait(for: "t-0"))
    #expect(tmux.screen().contains("/dev/pts/0"))
    tmux.type("sleep 30 &")
    tmux.type("jobs; echo j-''done")
    #expect(tmux.wait(for: "j-done"))
    #expect(tmux.screen().contains("Running"), "\(tmux.screen())")
    tmux.type("fg")
    #expect(tmux.wait(for: "fg\nsleep 30"))
    tmux.press("C-c")
    tmux.type("echo i-''$?")
    #expect(tmux.wait(for: "i-130"), "Ctrl-C did not end the foreground job: \(tmux.screen())")
    tmux.type("exit 7")
    // bulkhead is gone (nothing with its hostname is left) before the host shell answers.
    #expect(Harness.waitUntilGone(marker, seconds: 10).isEmpty)
    tmux.type("echo h-''$?")
    #expect(tmux.wait(for: "h-7"), "\(tmux.screen())")
    let screen = tmux.screen()
    #expect(!screen.contains("job control turned off"))
    #expect(!screen.contains("killed("), "bulkhead was interrupted itself: \(screen)")
  }

  @Test("The pty's size is the host terminal's, and follows a resize")
  func windowSize() throws {
    let tmux = try TmuxSession(width: 100, height: 30)
    defer { tmux.end() }
    tmux.type("$B run -- sh")
    #expect(tmux.wait(for: "/ # "))
    tmux.type("echo s-''$(stty size)")
    #expect(tmux.wait(for: "s-30 100"), "\(tmux.screen())")
    tmux.resize(width: 80, height: 20)
    usleep(300_000)
    tmux.type("echo r-''$(stty size)")
    #expect(tmux.wait(for: "r-20 80"), "\(tmux.screen())")
    tmux.type("exit")
  }

  @Test("The host terminal's settings are the same after a run as before: exit, kill, failure")
  func hostTerminalRestored() throws {
    let tmux = try TmuxSession()
    defer { tmux.end() }
    let dir = NSTemporaryDirectory() + "bulkhead-stty-\(Harness.uniqueMarker())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    tmux.type("stty -g > \(dir)/before")
    tmux.type("$B run -- sh -c 'exit 3'; echo a-''$?; stty -g > \(dir)/exit")
    #expect(tmux.wait(for: "a-3"))
    tmux.type("$B run --level process -- sh -c 'kill -KILL $$'; echo b-''$?; stty -g > \(dir)/killed")
    #expect(tmux.wait(for: "b-137"))
    tmux.type("$B run -t -- /no/such/command; echo c-''$?; stty -g > \(dir)/failed")
    #expect(tmux.wait(for: "c-127"))
    tmux.type("echo d-''done")
    #expect(tmux.wait(for: "d-done"))
    let before = try String(contentsOfFile: dir + "/before", encoding: .utf8)
    #expect(!before.isEmpty)
    for name in ["exit", "killed", "failed"] {
      #expect(try String(contentsOfFile: dir + "/" + name, encoding: .utf8) == before, "after \(name)")
    }
  }

  @Test("vi works in the container's terminal")
  func vi() throws {
    let tmux = try TmuxSession()
    defer { tmux.end() }
    tmux.type("$B run -- sh")
    #expect(tmux.wait(for: "/ # "))
    tmux.type("vi /tmp/note")
    usleep(500_000)
    tmux.press("i")
    tmux.press("-l", "hello from vi")
    tmux.press("Escape")
    // vi tells a lone Escape from the start of a key sequence by the pause after it.
    usleep(300_000)
    tmux.type(":wq")
    tmux.type("echo v-''$(cat /tmp/note | head -n 1)")
    #expect(tmux.wait(for: "v-hello from vi"), "\(tmux.screen())")
    #expect(tmux.screen().contains("/ # vi /tmp/note"))
    tmux.type("exit")
  }

  @Test("The process level gets a pty too, and Ctrl-C ends the workload with 130")
  func processLevel() throws {
    let tmux = try TmuxSession()
    defer { tmux.end() }
    tmux.type("$B run --level process -- sh -c 'tty; sleep 30'; echo p-''$?")
    #expect(tmux.wait(for: "/dev/pts/"))
    tmux.press("C-c")
    #expect(tmux.wait(for: "p-130"), "\(tmux.screen())")
    #expect(!tmux.screen().contains("killed("))
  }
}

@Suite("run -t without a terminal", .enabled(if: Harness.canRunContainers, Harness.containerReason))
struct TerminalWithoutHostTerminalTests {
  @Test("Without a terminal nothing changes: no pty, stdio are bulkhead's")
  func plainStdio() throws {
    let r = try Harness.run(["run", "--", "sh", "-c", "tty; echo rc=$?"])
    #expect(r.stdout.contains("not a tty"))
    #expect(r.stdout.contains("rc=1"))
  }

  @Test("-t gives a pty even with stdin a file; /dev/console is it; its output comes back")
  func forcedTerminal() throws {
    let r = try Harness.run(["run", "-t", "--", "sh", "-c", "tty; ls -l /dev/console; echo done"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("/dev/pts/0"))
    // The console is a device of the container's devpts (major 136), not the host's.
    #expect(r.stdout.contains("136,"), "\(r.stdout)")
    #expect(r.stdout.contains("done\r\n"), "no pty line discipline: \(r.stdout.debugDescription)")
  }

  @Test("EOF on stdin reaches the workload through the pty")
  func endOfInput() throws {
    let r = try Harness.shell("echo hello | \"$BULKHEAD\" run -t -- sh -c 'cat; echo after-eof'")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("after-eof"))
  }

  @Test("--tty and --no-tty together are a usage error")
  func conflict() throws {
    let r = try Harness.run(["run", "--tty", "--no-tty", "--", "true"])
    #expect(r.status == 2)
    #expect(r.stderr.split(separator: "\n").count == 1)
    #expect(r.stderr.contains("--no-tty"))
  }

  @Test("--no-tty keeps stdio plain")
  func noTerminal() throws {
    let r = try Harness.run(["run", "--no-tty", "--", "sh", "-c", "tty"])
    #expect(r.stdout.contains("not a tty"))
  }
}
