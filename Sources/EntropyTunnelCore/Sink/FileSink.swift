#if canImport(Glibc)
import Glibc
#endif

/// A plain output (a file or standard output) for `fetch`: blocking writes.
public final class FileSink: ByteSink {
    public let descriptor: Int32
    private let name: String
    private let ownsDescriptor: Bool

    /// Standard output.
    public init(standardOutput: Void = ()) {
        descriptor = STDOUT_FILENO
        name = "standard output"
        ownsDescriptor = false
    }

    /// Creates or truncates `path` (mode 0600: these bytes are secret).
    public init(path: String) throws(TunnelError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw TunnelError(.sink, "cannot open \(path) for writing: \(String(cString: strerror(errno)))")
        }
        descriptor = fd
        name = path
        ownsDescriptor = true
    }

    deinit { if ownsDescriptor { close(descriptor) } }

    public func writableBytes() throws(TunnelError) -> Int { .max }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int> {
        do {
            return try syscall("write") { Glibc.write(descriptor, bytes.baseAddress, bytes.count) }
        } catch {
            throw TunnelError(.sink, "cannot write to \(name): \(error.message)", errno: error.errno)
        }
    }
}
