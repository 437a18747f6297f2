import Foundation

/// A task executor with one thread of its own: the jobs of a task that prefers it run there, not
/// on the cooperative pool.
///
/// Why the async tests need it: in a full run on two cores the blocking (synchronous) tests can
/// hold every cooperative thread for minutes, and an async test's awaits wait with them. Measured:
/// the rngd restart test took 137 s in a run where it takes 10 s alone, and a stop timed from the
/// test's side ("SIGKILL after a 500 ms grace period, stop took < 5 s") then measures the wait for
/// a pool thread, not the supervisor. On a thread of its own the test measures what it means to.
final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []   // guarded by `condition`

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs jobs as they come, for the life of the test process: a job enqueued late (the last
    /// resumption of a task that outlived its test) still runs.
    private func loop() -> Never {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs `body` with its own thread as the preferred executor (see `OwnThreadExecutor`); tasks it
/// starts with `Task(executorPreference: executor)` run there too.
func onOwnThread<T>(_ name: String, _ body: (OwnThreadExecutor) async throws -> T) async rethrows -> T {
    let executor = OwnThreadExecutor(name: name)
    return try await withTaskExecutorPreference(executor) { try await body(executor) }
}
