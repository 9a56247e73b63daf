/// Limits applied through a cgroup of the sandbox's own (`--memory`, `--memory-swap`,
/// `--pids`, `--cpus`), at the process and container levels.
public struct CgroupRequest: Sendable, Codable, Equatable {
  public var memoryBytes: UInt64?
  /// Memory plus swap, as Docker's --memory-swap (at least `memoryBytes`).
  public var memorySwapBytes: UInt64?
  public var pids: Int?
  public var cpus: Double?

  public init(memoryBytes: UInt64? = nil, memorySwapBytes: UInt64? = nil, pids: Int? = nil, cpus: Double? = nil) {
    self.memoryBytes = memoryBytes
    self.memorySwapBytes = memorySwapBytes
    self.pids = pids
    self.cpus = cpus
  }

  public var isEmpty: Bool { memoryBytes == nil && memorySwapBytes == nil && pids == nil && cpus == nil }

  /// Checks values alone and against each other.
  public func validate() throws(BulkheadError) {
    if let memoryBytes, memoryBytes < 1 << 20 {
      throw .invalidSpec(field: "--memory", value: "\(memoryBytes)", reason: "below 1 MiB", hint: "e.g. --memory 256M")
    }
    if let memorySwapBytes {
      guard let memoryBytes else {
        throw .invalidSpec(field: "--memory-swap", value: "\(memorySwapBytes)", reason: "needs --memory")
      }
      if memorySwapBytes < memoryBytes {
        throw .invalidSpec(
          field: "--memory-swap", value: "\(memorySwapBytes)", reason: "must be at least --memory",
          hint: "it counts memory plus swap, as in Docker")
      }
    }
    if let pids, pids < 1 {
      throw .invalidSpec(field: "--pids", value: "\(pids)", reason: "must be at least 1")
    }
    if let cpus, !(cpus > 0 && cpus <= 1024) {
      throw .invalidSpec(field: "--cpus", value: "\(cpus)", reason: "must be above 0", hint: "e.g. --cpus 0.5")
    }
  }

  /// Parses a size: a number of bytes, or with K, M, G (powers of 1024).
  public static func parseSize(_ text: String, field: String) throws(BulkheadError) -> UInt64 {
    let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = Substring(text)
    var unit: UInt64 = 1
    if let last = text.last?.uppercased().first, let u = units[last] {
      digits = text.dropLast()
      unit = u
    } else if text.lowercased().hasSuffix("b"), let u = units[text.dropLast().last?.uppercased().first ?? " "] {
      digits = text.dropLast(2)
      unit = u
    }
    guard let n = UInt64(digits), n > 0, n <= UInt64.max / unit else {
      throw .invalidSpec(field: field, value: text, reason: "not a size", hint: "write e.g. 512M or 2G")
    }
    return n * unit
  }
}
