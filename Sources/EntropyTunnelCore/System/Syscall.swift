#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// The result of a non-blocking operation: done (with a value), or "try again after poll()".
public enum IOResult<Value> {
    case processed(Value)
    case wouldBlock
}

/// Runs one system call: retries `EINTR`, returns `EAGAIN`/`EWOULDBLOCK` as `.wouldBlock`,
/// and throws every other failure with its `Errno` and the call's name.
///
/// The body returns the raw C result (`-1` with `errno` set on failure).
@inline(__always)
func syscall<T: FixedWidthInteger>(
    _ name: StaticString, _ body: () -> T
) throws(TunnelError) -> IOResult<T> {
    while true {
        let result = body()
        if result != -1 { return .processed(result) }
        let err = Errno(rawValue: Glibc.errno)
        switch err {
        case .interrupted: continue
        case .wouldBlock, .resourceTemporarilyUnavailable: return .wouldBlock
        default: throw TunnelError(.system, "\(name) failed: \(err)", errno: err)
        }
    }
}

/// Like `syscall(_:_:)` for calls that cannot block: returns the value or throws.
@inline(__always)
func syscallValue<T: FixedWidthInteger>(
    _ name: StaticString, _ body: () -> T
) throws(TunnelError) -> T {
    switch try syscall(name, body) {
    case .processed(let value): return value
    case .wouldBlock:
        throw TunnelError(.system, "\(name) failed: \(Errno.wouldBlock)", errno: .wouldBlock)
    }
}
