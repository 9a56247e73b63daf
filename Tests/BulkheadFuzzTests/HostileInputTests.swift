import ArgumentParser
import BulkheadSeccomp
import BulkheadSpec
import Foundation
import PropertyBased
import Testing

@testable import BulkheadCLI

/// A small deterministic generator, so that every generated input is reproducible
/// from the seed PropertyBased reports when a check fails.
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  init(_ seed: Int) { state = UInt64(truncatingIfNeeded: seed) &+ 0x9E37_79B9_7F4A_7C15 }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

enum Hostile {
  static let flags = [
    "--level", "--share", "--rootfs", "--rw", "--bind", "--tmpfs", "--hostname", "--cwd", "--env", "--keep-env",
    "--pass-fd", "--grace", "--timeout", "--json-status", "--workload", "--seccomp", "--cap-add", "--cap-drop",
    "--user",
    "--rlimit", "--userns", "--memory", "--memory-swap", "--pids", "--cpus", "--cpu-time", "--", "-h", "--levl", "-x",
  ]
  static let values = [
    "", " ", "container", "process", "thread", "task", "vm", "net", "mnt", "pid", "bogus", "/", "/tmp", "/tmp/x",
    "relative", "/etc:/data:ro", "/etc:/data:rx", ":", "::", "a=b", "=b", "A", "-1", "0", "3", "999999999999999999999",
    "1s", "500ms", "-1s", "1e400", "nan", "inf", "0.5", "all", "net_raw", "CAP_NONE", "1000:1000", "1000:", ":1",
    "nofile=64", "nofile=10:5", "core=unlimited", "as=1G", "64M", "1GB", "0M", "default", "unconfined", "x.json",
    "segv", "heartbeat 1 1", "after=5 exit 3", "after=x segv", "exit", "\u{0}", "é", "💥", "--", "-", "../../etc",
    String(repeating: "a", count: 300), "%s%n", "$(reboot)", "'", "\"", "\\",
  ]

  static func token(_ rng: inout SplitMix) -> String {
    switch rng.next() % 3 {
    case 0: return flags.randomElement(using: &rng)!
    case 1: return values.randomElement(using: &rng)!
    default:
      let length = Int(rng.next() % 12)
      return String((0..<length).map { _ in Character(UnicodeScalar(UInt8(32 + rng.next() % 95))) })
    }
  }

  static func arguments(_ seed: Int) -> [String] {
    var rng = SplitMix(seed)
    return ["run"] + (0..<Int(rng.next() % 9)).map { _ in token(&rng) }
  }

  /// A one-line refusal that names what was wrong.
  static func isOneLineRefusal(_ error: BulkheadError) -> Bool {
    !error.description.contains("\n") && !error.step.isEmpty
      && [.invalidSpec, .setupFailed, .unsupported].contains(error.code)
  }
}

@Suite("Hostile input: generated, never a crash, always a one-line refusal or a valid spec")
/// Each run draws new inputs; a failure prints the seed that reproduces it
/// (`.fixedSeed(...)` on the test).
struct HostileInputTests {
  @Test func cliArgumentsNeverCrashAndBothParsersAgree() async {
    await propertyCheck(count: 4000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
      let arguments = Hostile.arguments(seed)
      let fast = FastRunParser.parse(arguments)
      let full = try? RunCommand.parse(Array(arguments.dropFirst()))
      if let fast {
        // What the fast path accepts, ArgumentParser accepts the same way.
        let full = try #require(full, "fast accepted what the full parser refuses: \(arguments)")
        let argv = full.command.first == "--" ? Array(full.command.dropFirst()) : full.command
        #expect(
          fast.flags == full.options.flags && fast.command == argv && fast.jsonStatus == full.jsonStatus, "\(arguments)"
        )
      }
      guard let full else { return }
      let argv = full.command.first == "--" ? Array(full.command.dropFirst()) : full.command
      do throws(BulkheadError) {
        let spec = try full.options.makeSpec(
          command: argv, hostEnvironment: [("PATH", "/bin")], defaultRootfs: { "/srv/rootfs" })
        try spec.validate()
      } catch {
        #expect(Hostile.isOneLineRefusal(error), "\(arguments): \(error)")
      }
    }
  }

  @Test func specFilesNeverCrashTheDecoderOrTheValidator() async throws {
    let valid = String(
      decoding: try JSONEncoder().encode(
        Spec(
          level: .container, command: ["/bin/sh", "-c", "true"], rootfs: "/srv/r",
          mounts: [.bind(source: "/etc", target: "/e", readOnly: true), .tmpfs(target: "/t")],
          environment: [EnvironmentVariable(name: "PATH", value: "/bin")], passFDs: [3], timeoutMilliseconds: 5,
          confinement: Confinement(
            seccomp: "default", capAdd: ["net_raw"], rlimits: [ResourceLimit(name: "nofile", soft: 1, hard: 2)]),
          cgroup: CgroupRequest(memoryBytes: 1 << 26, pids: 5))),
      as: UTF8.self)
    let pieces = [
      "\"\"", "-1", "0", "null", "true", "[]", "{}", "\"x\"", "1e309", "\"/\"", "\"..\"", "4294967296", "\"\\u0000\"",
    ]
    await propertyCheck(count: 3000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
      var rng = SplitMix(seed)
      var text = Array(valid.utf8)
      for _ in 0..<(1 + Int(rng.next() % 4)) {
        let at = Int(rng.next() % UInt64(max(text.count, 1)))
        switch rng.next() % 3 {
        case 0: text.remove(at: min(at, text.count - 1))
        case 1: text.insert(contentsOf: Array(pieces.randomElement(using: &rng)!.utf8), at: at)
        default: text[min(at, text.count - 1)] = UInt8(32 + rng.next() % 95)
        }
      }
      guard let spec = try? JSONDecoder().decode(Spec.self, from: Data(text)) else { return }
      do throws(BulkheadError) { try spec.validate() } catch { #expect(Hostile.isOneLineRefusal(error), "\(error)") }
    }
  }

  @Test func seccompProfilesNeverCrashTheParserAndRefusalsNameTheField() async throws {
    let valid =
      #"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}],"includes":{"caps":["CAP_SYS_ADMIN"],"minKernel":"4.8"}},{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#
    let pieces = [
      "\"SCMP_ACT_KILL\"", "\"SCMP_ACT_NOTIFY\"", "\"SCMP_ACT_FOO\"", "7", "-1", "null", "[]", "{}", "\"\"",
      "\"names\"", "\"SCMP_CMP_XX\"", "99999999999999999999", "\"4.x\"", "true",
    ]
    let compiled = Counter()
    await propertyCheck(count: 3100, input: Gen.int(in: 0...Int(Int32.max))) { seed in
      var rng = SplitMix(seed)
      var text = Array(valid.utf8)
      for _ in 0..<(1 + Int(rng.next() % 3)) {
        let at = Int(rng.next() % UInt64(text.count))
        switch rng.next() % 3 {
        case 0: text.remove(at: min(at, text.count - 1))
        case 1: text.insert(contentsOf: Array(pieces.randomElement(using: &rng)!.utf8), at: at)
        default: text[min(at, text.count - 1)] = UInt8(32 + rng.next() % 95)
        }
      }
      do throws(BulkheadError) {
        let profile = try SeccompProfiles.parse(
          text, capabilities: ["CAP_CHOWN"], architecture: "amd64", kernel: (6, 18))
        // Compiling is the slow part (libseccomp): a sample of what parses.
        if compiled.next() < 150 { _ = try? SeccompCompiler.compile(profile) }
      } catch {
        #expect(error.code == .invalidSpec && error.step == "--seccomp", "\(error)")
        #expect(!error.description.contains("\n"))
      }
    }
  }
}

final class Counter: @unchecked Sendable {
  private var value = 0
  private let lock = NSLock()
  func next() -> Int {
    lock.lock()
    defer { lock.unlock() }
    value += 1
    return value - 1
  }
}
