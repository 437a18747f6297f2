#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work on a dedicated OS thread, off Swift's cooperative pool.
///
/// The poll loops of the tunnel block in `poll()` for seconds at a time; running them on the
/// cooperative pool (two threads on a two-core machine) would starve every other task.
public enum BlockingThread {
    private final class Job: @unchecked Sendable {
        // Safe: written once before the thread starts, read only by that thread.
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Runs `body` on a new thread and returns its result to the awaiting task.
    public static func run<T: Sendable>(
        name: String, _ body: @escaping @Sendable () throws(TunnelError) -> T
    ) async throws(TunnelError) -> T {
        let result: Result<T, TunnelError> = await withCheckedContinuation { continuation in
            let job = Job {
                do throws(TunnelError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            start(name: name, job: job)
        }
        return try result.get()
    }

    private static func start(name: String, job: Job) {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attr) }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(job).toOpaque()
        let rc = pthread_create(&thread, &attr, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }
}
