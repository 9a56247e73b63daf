import BulkheadSpec
import CCap

#if canImport(Glibc)
  import Glibc
#endif

/// Capability names and numbers, through libcap (in the parent only).
public enum Capabilities {
  /// The 14 capabilities Docker keeps by default for root in a container.
  public static let dockerDefault = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
  ]

  /// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap),
  /// read once per process: a launch needs it several times.
  public static let lastCapability: Int32 = {
    let text = readTextFile("/proc/sys/kernel/cap_last_cap") ?? ""
    return Int32(text.split(separator: "\n").first ?? "") ?? Int32(CAP_LAST_CAP)
  }()

  /// The number of a capability written as users write it: `net_raw`,
  /// `CAP_NET_RAW`, `cap_net_raw`; nil when libcap does not know it.
  public static func number(of name: String) -> Int32? {
    var lower = name.lowercased()
    if !lower.hasPrefix("cap_") { lower = "cap_" + lower }
    var value: cap_value_t = 0
    guard cap_from_name(lower, &value) == 0 else { return nil }
    return Int32(value)
  }

  /// "CAP_NET_RAW" for 13.
  public static func name(of number: Int32) -> String {
    guard let text = cap_to_name(cap_value_t(number)) else { return "CAP_\(number)" }
    defer { cap_free(text) }
    return String(cString: text).uppercased()
  }

  /// The set kept after `add` and `drop` (names, or "all") are applied to `base`.
  /// Throws an invalidSpec error naming the flag for an unknown name.
  public static func resolve(base: [String], add: [String], drop: [String]) throws(BulkheadError) -> UInt64 {
    let last = min(lastCapability, 63)
    let all: UInt64 = last >= 63 ? UInt64.max : (UInt64(1) << UInt64(last + 1)) - 1
    func mask(_ names: [String], field: String) throws(BulkheadError) -> UInt64 {
      var m: UInt64 = 0
      for name in names {
        if name.lowercased() == "all" {
          m |= all
          continue
        }
        guard let n = number(of: name), n <= last else {
          throw .invalidSpec(
            field: field, value: name, reason: "unknown capability",
            hint: "write names like net_raw or CAP_NET_RAW, or all (see capabilities(7))")
        }
        m |= UInt64(1) << UInt64(n)
      }
      return m
    }
    let baseMask = try mask(base, field: "capabilities")
    let added = try mask(add, field: "--cap-add")
    let dropped = try mask(drop, field: "--cap-drop")
    return (baseMask | added) & ~dropped
  }

  /// `resolve`, limited to what this process can pass on: "all" means all that
  /// bulkhead has; a capability named explicitly that it lacks is refused.
  public static func resolveAvailable(base: [String], add: [String], drop: [String]) throws(BulkheadError) -> UInt64 {
    let wanted = try resolve(base: base, add: add, drop: drop)
    let available = currentBoundingSet
    let explicit = try resolve(base: [], add: add.filter { $0.lowercased() != "all" }, drop: [])
    let missing = explicit & ~available
    if missing != 0 {
      throw BulkheadError(
        code: .unsupported, step: "--cap-add", value: names(missing).joined(separator: ", "),
        reason: "bulkhead does not hold this capability, so it cannot give it", errno: EPERM,
        hint: "run bulkhead where its bounding set has it (grep CapBnd /proc/self/status)")
    }
    return wanted & available
  }

  /// Whether this process's effective set holds `name` (from /proc/self/status).
  public static func effectiveContains(_ name: String) -> Bool {
    guard let n = number(of: name), let status = readTextFile("/proc/self/status") else { return false }
    for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
      let hex = line.dropFirst(7).trimmingPrefix(while: { $0 == "\t" || $0 == " " })
      guard let mask = UInt64(hex, radix: 16) else { return false }
      return mask & (UInt64(1) << UInt64(n)) != 0
    }
    return false
  }

  /// This process's bounding set (capabilities any child can keep at most).
  public static var currentBoundingSet: UInt64 {
    guard let status = readTextFile("/proc/self/status") else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("CapBnd:") {
      return UInt64(line.dropFirst(7).trimmingPrefix(while: { $0 == "\t" || $0 == " " }), radix: 16) ?? 0
    }
    return 0
  }

  /// Names of the bits set in `mask`, in number order.
  public static func names(_ mask: UInt64) -> [String] {
    (0..<64).filter { mask & (UInt64(1) << UInt64($0)) != 0 }.map { name(of: Int32($0)) }
  }
}
