#if canImport(Glibc)
import Glibc
#endif
import CSystemShims

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
    /// The temporary file and the path it becomes, for a file written all-or-nothing.
    private var pending: (temporary: String, target: String)?
    /// Bytes written so far.
    public private(set) var written = 0

    /// Standard output.
    public init(standardOutput: Void = ()) {
        descriptor = STDOUT_FILENO
        name = "standard output"
        ownsDescriptor = false
    }

    /// Prepares to write `path`: a temporary file in its directory, or the target itself when it
    /// exists and is not a regular file.
    public init(path: String) throws(TunnelError) {
        name = path
        ownsDescriptor = true
        var st = stat()
        var target = path
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) != S_IFREG {
                let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
                guard fd >= 0 else {
                    throw TunnelError(.sink, "cannot open \(path) for writing: \(String(cString: strerror(errno)))")
                }
                descriptor = fd
                return
            }
            // Write beside the real file, so that a symlink keeps pointing at it.
            if let real = realpath(path, nil) {
                target = String(cString: real)
                free(real)
            }
        }
        let directory = FileSystem.parent(of: target.hasPrefix("/") ? target : "./" + target)
        let base = target.split(separator: "/").last.map(String.init) ?? "output"
        var template = Array("\(directory)/.\(base).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { csystem_mkostemp($0.baseAddress!, O_CLOEXEC) }
        guard fd >= 0 else {
            throw TunnelError(.sink, "cannot create a temporary file in \(directory) for \(path): " +
                              "\(String(cString: strerror(errno))); check that the directory exists and is writable")
        }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // The file it replaces keeps its mode and owner; a new one is 0600: these bytes are secret.
        if stat(target, &st) == 0 {
            _ = fchmod(fd, st.st_mode & 0o777)
            _ = fchown(fd, st.st_uid, st.st_gid)
        } else {
            _ = fchmod(fd, 0o600)
        }
        descriptor = fd
        pending = (temporary, target)
    }

    deinit {
        abandon()
        if ownsDescriptor { close(descriptor) }
    }

    /// Makes the written bytes appear at the path (fsync, rename, fsync of the directory).
    public func commit() throws(TunnelError) {
        guard let (temporary, target) = pending else { return }
        guard fsync(descriptor) == 0 else {
            throw TunnelError(.sink, "cannot write \(name): fsync failed: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, target) == 0 else {
            throw TunnelError(.sink, "cannot write \(name): rename failed: \(String(cString: strerror(errno)))")
        }
        pending = nil
        let directory = open(FileSystem.parent(of: target.hasPrefix("/") ? target : "./" + target), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }

    /// Removes the temporary file: the target keeps what it had.
    public func abandon() {
        guard let (temporary, _) = pending else { return }
        unlink(temporary)
        pending = nil
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
