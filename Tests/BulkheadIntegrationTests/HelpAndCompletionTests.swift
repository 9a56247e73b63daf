import Foundation
import Testing

/// What the help, the completion scripts and the man page generator read from the
/// binary. bulkhead's main is its own (a fast path for `run`, then ArgumentParser
/// with one-line errors), so each of these requests must still reach ArgumentParser
/// and exit 0 with the text on stdout.
@Suite(.enabled(if: Harness.binaryReady, "needs a built bulkhead (BULKHEAD_BIN, else .build/debug/bulkhead)"))
struct HelpAndCompletionTests {
  static let subcommands = ["run", "inspect", "crash", "workloads"]

  @Test(arguments: ["bash", "zsh", "fish"])
  func completionScriptIsPrinted(shell: String) throws {
    let result = try Harness.run(["--generate-completion-script", shell])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.isEmpty, "\(result.stderr)")
    for name in Self.subcommands { #expect(result.stdout.contains(name), "no \(name) in the \(shell) script") }
  }

  /// The bash script, sourced as bash-completion would, completes a subcommand and
  /// a flag of `run` (whose options come from an option group).
  @Test func bashCompletionCompletes() throws {
    let script = try Harness.run(["--generate-completion-script", "bash"]).stdout
    let file = NSTemporaryDirectory() + "bulkhead-completion-\(Harness.uniqueMarker()).bash"
    try script.write(toFile: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: file) }
    func complete(_ line: String) throws -> [String] {
      let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
      let r = try Harness.runExecutable(
        "/bin/bash",
        [
          "-c",
          """
          source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
          _bulkhead bulkhead "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; printf '%s\\n' "${COMPREPLY[@]}"
          """,
          "_", file,
        ] + words, environment: nil)
      return r.stdout.split(separator: "\n").map(String.init)
    }
    #expect(try complete("bulkhead ins") == ["inspect"])
    #expect(try complete("bulkhead run --le") == ["--level"])
    #expect(try complete("bulkhead run --json-st") == ["--json-status"])
  }

  /// `--experimental-dump-help` (what the man page is generated from) is JSON with
  /// every command; each one a user sees has examples, one of them at least of that
  /// command itself.
  @Test func everyCommandHasExamplesOfItself() throws {
    let result = try Harness.run(["--experimental-dump-help"])
    #expect(result.status == 0, "\(result.stderr)")
    let root = try #require(try Harness.json(result.stdout)["command"] as? [String: Any])
    var seen: [String] = []
    func visit(_ command: [String: Any], path: [String]) {
      let name = command["commandName"] as? String ?? "?"
      let here = path + [name]
      let visible = command["shouldDisplay"] as? Bool ?? true
      if visible, name != "help" {
        seen.append(here.joined(separator: " "))
        let discussion = command["discussion"] as? String ?? ""
        let examples = Self.examples(in: discussion)
        #expect(!examples.isEmpty, "'\(here.joined(separator: " "))' has no Examples: block in its discussion")
        let prefix = here.joined(separator: " ")
        #expect(
          examples.isEmpty || examples.contains { $0 == prefix || $0.hasPrefix(prefix + " ") },
          "no example of '\(prefix)' itself among \(examples)")
        for example in examples { #expect(example.hasPrefix("bulkhead "), "'\(example)' is not a bulkhead command") }
      }
      for sub in command["subcommands"] as? [[String: Any]] ?? [] { visit(sub, path: here) }
    }
    visit(root, path: [])
    for name in Self.subcommands { #expect(seen.contains("bulkhead \(name)"), "no \(name) in the dump") }
  }

  /// `run --help` goes past the fast parser; each subcommand's help shows its examples.
  @Test(arguments: subcommands)
  func subcommandHelpShowsExamples(name: String) throws {
    let result = try Harness.run([name, "--help"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("Examples:\n  bulkhead \(name)"), "\(result.stdout)")
  }

  /// The indented lines after "Examples:" up to a blank line, comments removed.
  static func examples(in discussion: String) -> [String] {
    let lines = discussion.split(separator: "\n", omittingEmptySubsequences: false)
    guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "Examples:" }) else {
      return []
    }
    var out: [String] = []
    for line in lines[(start + 1)...] {
      let text = line.trimmingCharacters(in: .whitespaces)
      if text.isEmpty { break }
      let code = text.range(of: "  #").map { String(text[..<$0.lowerBound]) } ?? text
      out.append(code.trimmingCharacters(in: .whitespaces))
    }
    return out
  }
}
