import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Directories and files the tests make under /tmp, removed when the test process exits, so a
/// run leaves nothing behind on the machine (a test may still remove its own earlier).
///
/// The removal runs from `atexit`: a child that is forked and then calls `exit` would run it
/// too, so the harness starts children only with posix_spawn or fork + exec (`_exit` on failure).
public enum Scratch {
    private static let paths = Mutex<[String]>([])
    private static let owner = getpid()
    private static let installed: Bool = {
        atexit { Scratch.removeAll() }
        return true
    }()

    /// A new directory `$TMPDIR/PREFIX.XXXXXX` (/tmp without TMPDIR; by default mode 0755, so
    /// the test users can traverse it), removed with everything in it when the process exits.
    public static func directory(_ prefix: String, mode: mode_t = 0o755) throws -> String {
        let temporary = NSTemporaryDirectory()
        let base = temporary.hasSuffix("/") ? temporary : temporary + "/"
        var template = Array("\(base)\(prefix).XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw HarnessError("mkdtemp \(base)\(prefix).XXXXXX failed: errno \(errno)") }
        let path = String(cString: made)
        chmod(path, mode)
        removeAtExit(path)
        return path
    }

    /// Removes `path` (a file, or a directory with everything in it) when the process exits.
    public static func removeAtExit(_ path: String) {
        _ = installed
        paths.withLock { $0.append(path) }
    }

    private static func removeAll() {
        guard getpid() == owner else { return }
        for path in paths.withLock({ $0 }) {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

extension String {
    /// Writes the string to `path` by a rename from a file beside it, so a reader sees the old
    /// content or the new, never a part. (Foundation's `atomically: true` does the same through
    /// a /tmp/TemporaryDirectory.XXXXXX of its own, which it leaves behind on Linux.)
    public func writeReplacing(toFile path: String) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw HarnessError("rename \(temporary) to \(path) failed: errno \(error)")
        }
    }
}

/// Creates (or truncates) the file at `path` with `contents`, in place. (Foundation's
/// `FileManager.createFile` writes through a /tmp/TemporaryDirectory.XXXXXX it leaves behind.)
@discardableResult
public func createFile(atPath path: String, contents: some Collection<UInt8> = [UInt8](), mode: mode_t = 0o644) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(contents)
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
        if n <= 0 { return false }
        written += n
    }
    return true
}
