#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work on a dedicated OS thread, off Swift's cooperative pool: the one way this
/// program starts a thread (the poll loops, rngd's supervisor, a child's exit watcher).
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
            start(name: name) {
                do throws(TunnelError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Starts `body` on a new detached thread and returns at once. `name` says what the thread
    /// is for (in the code: Swift's Glibc module has no `pthread_setname_np`). `stackSize`: nil for
    /// the default (8 MiB of address space); a thread that only waits needs little.
    static func start(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        let job = Job(body)
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        if let stackSize { pthread_attr_setstacksize(&attr, stackSize) }
        defer { pthread_attr_destroy(&attr) }
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, { raw in
            guard let raw else { return nil }
            let job = Unmanaged<Job>.fromOpaque(raw).takeRetainedValue()
            job.body()
            return nil
        }, Unmanaged.passRetained(job).toOpaque())
        // Out of threads or memory: nothing sensible is left to do.
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }
}
