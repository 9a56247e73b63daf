import CBench
import Dispatch
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A task executor that is one thread pinned to one CPU (SE-0417 task executor
/// preference): the task level's placement. Tasks that prefer it run their jobs
/// on that thread only, so two tasks given one executor share a core (and a
/// thread: a resumption is a function call), and two tasks given executors on two
/// CPUs run on different cores.
final class PinnedExecutor: TaskExecutor, @unchecked Sendable {
  let cpu: Int32
  private let jobs = Mutex<[UnownedJob]>([])
  private let stopping = Atomic<Bool>(false)
  private let ready = DispatchSemaphore(value: 0)
  private var thread = pthread_t()

  /// Starts the thread; it pins itself before it runs any job.
  init(cpu: Int32) throws {
    self.cpu = cpu
    let box = Unmanaged.passRetained(self)
    let r = pthread_create(
      &thread, nil,
      { raw in
        let executor = Unmanaged<PinnedExecutor>.fromOpaque(raw!).takeRetainedValue()
        executor.loop()
        return nil
      }, box.toOpaque())
    if r != 0 {
      box.release()
      throw IPCFailure(step: "pthread_create (task executor)", errno: r)
    }
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let unowned = UnownedJob(job)
    jobs.withLock { $0.append(unowned) }
    ready.signal()
  }

  /// Ends the thread once the jobs queued so far have run, and waits for it.
  func stop() {
    stopping.store(true, ordering: .sequentiallyConsistent)
    ready.signal()
    pthread_join(thread, nil)
  }

  private func loop() {
    _ = bhb_pin_to_cpu(cpu)
    while true {
      ready.wait()
      let job = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
      if let job {
        job.runSynchronously(on: asUnownedTaskExecutor())
      } else if stopping.load(ordering: .sequentiallyConsistent) {
        return
      }
    }
  }
}
