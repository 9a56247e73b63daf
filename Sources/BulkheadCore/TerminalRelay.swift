import BulkheadSpec
import BulkheadSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Relays a workload's pty to bulkhead's own stdin and stdout from the fleet's
/// event loop (no thread per direction), as `docker run -it` does: the host
/// terminal is put in raw mode, so Ctrl-C, Ctrl-Z and every other key reach the
/// workload's line discipline as bytes and signal its foreground job, not
/// bulkhead; the window size follows SIGWINCH; EOF on a non-terminal stdin
/// becomes the pty's EOF character. `finish` (called on every way out of the
/// fleet) restores the host terminal exactly as it was.
final class TerminalRelay {
  let master: Int32
  let input: Int32
  let output: Int32
  private let loop: EventLoop
  private let masterToken: UInt64
  private let inputToken: UInt64
  /// The host terminal's settings before raw mode, restored by `finish`.
  private var saved: termios?
  /// Bytes read from stdin not yet accepted by the master.
  private var toMaster: [UInt8] = []
  /// Whether stdin is still read from; whether it is registered with epoll (a
  /// regular file or /dev/null cannot be, and is then read whenever the master has room).
  private var inputOpen = true
  private var inputPollable = false
  private var inputWatched = false
  private var masterOpen = true
  private var wantWritable = false

  init(
    master: Int32, loop: EventLoop, masterToken: UInt64, inputToken: UInt64, input: Int32 = 0, output: Int32 = 1
  ) throws(BulkheadError) {
    self.master = master
    self.input = input
    self.output = output
    self.loop = loop
    self.masterToken = masterToken
    self.inputToken = inputToken
    _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    do { try loop.add(master, token: masterToken) } catch {
      close(master)
      throw error
    }
    if fcntl(input, F_GETFL) == -1 {
      inputOpen = false  // no stdin at all
    } else {
      if loop.tryAdd(input, token: inputToken) {
        inputPollable = true
        inputWatched = true
      } else {
        setWritableInterest(true)  // read it whenever the master can take more
      }
    }
    if isatty(input) == 1 && tcgetpgrp(input) == getpgrp() {
      var settings = termios()
      if tcgetattr(input, &settings) == 0 {
        saved = settings
        var raw = settings
        cfmakeraw(&raw)
        _ = tcsetattr(input, TCSADRAIN, &raw)
      }
    }
  }

  deinit { finish() }

  /// stdin is readable: one read (it never blocks then), passed to the master.
  func inputReady() {
    guard inputOpen, toMaster.isEmpty else { return }
    readInput()
    flush()
  }

  /// The master is readable or writable: copy what the workload printed to stdout,
  /// and what is pending from stdin to the master.
  func masterReady() {
    drainMaster()
    if !inputPollable && inputOpen && toMaster.isEmpty { readInput() }
    flush()
  }

  /// SIGWINCH: the host terminal's size onto the pty (the kernel then signals the
  /// workload's foreground job).
  func resize() {
    var size = winsize()
    guard ioctl(input, UInt(TIOCGWINSZ), &size) == 0 || ioctl(output, UInt(TIOCGWINSZ), &size) == 0 else { return }
    _ = ioctl(master, UInt(TIOCSWINSZ), &size)
  }

  private var finished = false

  /// The workload has ended: print what is left, restore the host terminal, close.
  func finish() {
    guard !finished else { return }
    finished = true
    drainMaster()
    if inputWatched { loop.remove(input) }
    loop.remove(master)
    close(master)
    if var settings = saved {
      _ = tcsetattr(input, TCSADRAIN, &settings)
      saved = nil
    }
  }

  private func readInput() {
    var buffer = [UInt8](repeating: 0, count: 4096)
    var n: Int
    repeat {
      n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
    } while n < 0 && errno == EINTR
    if n > 0 {
      toMaster.append(contentsOf: buffer[0..<n])
    } else if n == 0 || errno != EAGAIN {
      // End of input: the pty's EOF character, as a terminal user would type it.
      inputOpen = false
      if inputWatched {
        loop.remove(input)
        inputWatched = false
      }
      var settings = termios()
      let eof = tcgetattr(master, &settings) == 0 ? settings.c_cc.4 : 4  // VEOF is index 4
      toMaster.append(eof)
    }
  }

  private func flush() {
    while masterOpen && !toMaster.isEmpty {
      let n = toMaster.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
      if n > 0 {
        toMaster.removeFirst(n)
      } else if n < 0 && errno == EINTR {
        continue
      } else {
        if n < 0 && errno != EAGAIN { toMaster.removeAll() }  // the workload is gone
        break
      }
    }
    // Wait for room while something is pending (stdin is not read meanwhile), or
    // while a non-pollable stdin still has data to give.
    let pending = !toMaster.isEmpty
    setWritableInterest(masterOpen && (pending || (!inputPollable && inputOpen)))
    if inputPollable && inputOpen {
      if pending && inputWatched {
        loop.remove(input)
        inputWatched = false
      } else if !pending && !inputWatched {
        inputWatched = loop.tryAdd(input, token: inputToken)
      }
    }
  }

  private func setWritableInterest(_ writable: Bool) {
    guard writable != wantWritable, masterOpen else { return }
    wantWritable = writable
    loop.modify(master, token: masterToken, writable: writable)
  }

  /// Reads the master until it has nothing more (EAGAIN) or every slave is closed (EIO).
  private func drainMaster() {
    guard masterOpen else { return }
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
      if n > 0 {
        writeAll(buffer[0..<n])
        continue
      }
      if n < 0 && errno == EINTR { continue }
      if n < 0 && errno == EAGAIN { return }
      // EIO: the workload and everything that held its terminal are gone.
      masterOpen = false
      loop.remove(master)
      return
    }
  }

  private func writeAll(_ bytes: ArraySlice<UInt8>) {
    var rest = bytes
    while !rest.isEmpty {
      let n = rest.withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
      if n > 0 {
        rest = rest.dropFirst(n)
      } else if n < 0 && errno == EINTR {
        continue
      } else if n < 0 && errno == EAGAIN {
        var ready = pollfd(fd: output, events: Int16(POLLOUT), revents: 0)
        _ = poll(&ready, 1, -1)  // a non-blocking stdout: wait for room
      } else {
        return  // stdout is gone: what the workload prints is dropped, as a closed pipe would
      }
    }
  }
}
