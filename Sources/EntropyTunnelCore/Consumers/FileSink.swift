#if canImport(Glibc)
import Glibc
#endif

/// A plain output for `fetch`: standard output, or a file written all-or-nothing.
///
/// A file is written to a temporary file beside it (mode 0600, or the mode of the file it will
/// replace) and only `commit()` makes it appear: fsync, rename over the target, fsync of the
/// directory. Until then, and after `abandon()`, an existing file keeps its content. A target
/// that is not a regular file (a FIFO, /dev/null, a terminal) is written directly: it cannot be
/// replaced, and there is nothing to keep.
public final class FileSink {
    public let descriptor: Int32
    private let name: String
    private let ownsDescriptor: Bool
    /// The temporary file that becomes the path, for a file written all-or-nothing (it owns the
    /// descriptor then, which stays open until the sink goes, committed or not).
    private let temporary: SafeFile.Temporary?
    /// Bytes written so far.
    public private(set) var written = 0

    /// Standard output.
    public init(standardOutput: Void = ()) {
        descriptor = STDOUT_FILENO
        name = "standard output"
        ownsDescriptor = false
        temporary = nil
    }

    /// Prepares to write `path`: a temporary file in its directory (`SafeFile.Temporary`: random
    /// name, O_EXCL, no link followed that root did not make; /tmp allowed), or the target itself
    /// when it exists and is not a regular file. A symbolic link at `path` is followed only when
    /// root or this user made it where no one else can replace it (`/dev/stdout`).
    public init(path: String) throws(TunnelError) {
        name = path
        ownsDescriptor = true
        var target = path
        var st = stat()
        do throws(TunnelError) {
            if try SafeFile.isTrustedLink(path), stat(path, &st) == 0 {
                if (st.st_mode & S_IFMT) != S_IFREG {
                    descriptor = try Self.openDirectly(path, follow: true)
                    temporary = nil
                    return
                }
                // Write beside the real file, so that the link keeps pointing at it.
                if let real = realpath(path, nil) {
                    target = String(cString: real)
                    free(real)
                }
            } else if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG, (st.st_mode & S_IFMT) != S_IFLNK {
                descriptor = try Self.openDirectly(path, follow: false)
                temporary = nil
                return
            }
            // The file it replaces keeps its mode and owner; a new one is 0600: these bytes are secret.
            let file = try SafeFile.Temporary(for: target, mode: 0o600, keepExisting: true, policy: .output)
            descriptor = file.fd
            temporary = file
        } catch {
            throw TunnelError(error.isConfigurationProblem ? .configuration : .sink,
                              "cannot write --output \(path): \(error.message)", errno: error.errno)
        }
    }

    /// A FIFO, device or terminal, written in place (`O_NOFOLLOW` unless the link was trusted).
    private static func openDirectly(_ path: String, follow: Bool) throws(TunnelError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | (follow ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            throw TunnelError(.sink, "cannot open \(path) for writing: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    deinit {
        abandon()
        if ownsDescriptor && temporary == nil { close(descriptor) }
    }

    /// Makes the written bytes appear at the path (fsync, rename, fsync of the directory).
    public func commit() throws(TunnelError) {
        guard let temporary else { return }
        do throws(TunnelError) {
            try temporary.commit(durable: true)
        } catch {
            throw TunnelError(.sink, "cannot write \(name): \(error.message)", errno: error.errno)
        }
    }

    /// Removes the temporary file: the target keeps what it had.
    public func abandon() {
        temporary?.abandon()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int> {
        do {
            let result = try syscall("write") { Glibc.write(descriptor, bytes.baseAddress, bytes.count) }
            if case .processed(let n) = result { written += n }
            return result
        } catch {
            throw TunnelError(.sink, "cannot write to \(name): \(error.message)", errno: error.errno)
        }
    }
}
