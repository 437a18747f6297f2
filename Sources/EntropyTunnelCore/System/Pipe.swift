#if canImport(Glibc)
import Glibc
#endif
import CSystemShims

/// The two ends of a new pipe (`pipe2`), close-on-exec from the start, since another thread may
/// spawn a child at any moment: the one way this program makes a pipe (`SignalPipe` for poll
/// loops, `ChildProcess` for a child's output and exit). Whoever holds an end closes it.
struct Pipe {
    let readEnd: Int32
    let writeEnd: Int32

    /// - Parameter nonBlocking: both ends `O_NONBLOCK` (for a pipe only polled and drained).
    init(nonBlocking: Bool = false) throws(TunnelError) {
        var ends: [Int32] = [0, 0]
        _ = try syscallValue("pipe2") { csystem_pipe2(&ends, O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)) }
        readEnd = ends[0]
        writeEnd = ends[1]
    }
}
