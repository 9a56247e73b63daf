import BulkheadSpec

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// Encodes `value` as pretty JSON with sorted keys and writes it to `destination`:
/// "-" for stderr, else a file path (written whole, then renamed into place).
func writeJSON<T: Encodable>(_ value: T, to destination: String, field: String) throws(BulkheadError) {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
  let data: Data
  do { data = try encoder.encode(value) } catch {
    throw BulkheadError(code: .setupFailed, step: field, reason: "cannot encode JSON: \(error)")
  }
  var bytes = [UInt8](data)
  bytes.append(UInt8(ascii: "\n"))
  try writeBytes(bytes, to: destination, field: field)
}

/// Writes `text` to `destination` ("-" for stderr), whole, then renamed into place.
func writeText(_ text: String, to destination: String, field: String) throws(BulkheadError) {
  try writeBytes(Array(text.utf8), to: destination, field: field)
}

func writeBytes(_ bytes: [UInt8], to destination: String, field: String) throws(BulkheadError) {
  if destination == "-" {
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    return
  }
  let temporary = destination + ".tmp-\(getpid())"
  let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
  guard fd >= 0 else { throw .setupFailed(step: field, value: destination, errno: errno) }
  let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
  let err = errno
  close(fd)
  if written != bytes.count {
    unlink(temporary)
    throw .setupFailed(step: field, value: destination, errno: err)
  }
  if rename(temporary, destination) != 0 {
    let err = errno
    unlink(temporary)
    throw .setupFailed(step: field, value: destination, errno: err)
  }
}

/// Prints `value` as pretty JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws(BulkheadError) {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
  do {
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
  } catch {
    throw BulkheadError(code: .setupFailed, step: "--json", reason: "cannot encode JSON: \(error)")
  }
}

/// Refuses, before anything runs, a report destination whose directory is missing
/// or not writable ("-" is stderr and always fine).
func checkWritable(_ destination: String, field: String) throws(BulkheadError) {
  guard destination != "-" else { return }
  let directory: String
  if let slash = destination.lastIndex(of: "/") {
    directory = slash == destination.startIndex ? "/" : String(destination[..<slash])
  } else {
    directory = "."
  }
  if access(directory, W_OK) != 0 {
    throw .setupFailed(
      step: field, value: destination, errno: errno, hint: "the directory must exist and be writable")
  }
}

/// Writes one line to stderr.
public func printError(_ line: String) {
  let text = line + "\n"
  _ = text.withCString { write(2, $0, strlen($0)) }
}
