import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Small file operations for the config file, keys and install, without Foundation.
///
/// Writes go through `writeIfChanged` (on `SafeFile`): it compares the content (and mode) first
/// and leaves an identical file untouched (same inode, same mtime), so running `install` twice
/// rewrites nothing.
public enum FileSystem {
    /// The whole file as UTF-8 text (`open`/`read`), at most `limit` bytes of it.
    public static func read(_ path: String, limit: Int = .max) throws(TunnelError) -> String {
        String(decoding: try readBytes(path, limit: limit), as: UTF8.self)
    }

    /// The whole file as bytes, at most `limit` of them. A FIFO or socket planted where a config,
    /// key or state file belongs would block the read forever: it is refused, and the open itself
    /// is non-blocking so it does not wait for a writer. A character device (`--config /dev/null`)
    /// is read non-blocking (one that has nothing is an error, not a wait) and at most 1 MiB of it.
    ///
    /// No link is followed that root (or this user) did not make where only they can change it
    /// (`SafeFile.inspectForReading`), and the file opened must be the one inspected.
    public static func readBytes(_ path: String, limit: Int = .max) throws(TunnelError) -> [UInt8] {
        let expected = try SafeFile.inspectForReading(path)
        let fd = try syscallValue("open") { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        defer { close(fd) }
        var info = stat()
        _ = try syscallValue("fstat") { fstat(fd, &info) }
        if let expected, expected.st_dev != info.st_dev || expected.st_ino != info.st_ino {
            throw TunnelError(.configuration, "refusing to read \(path): it changed while it was opened")
        }
        var limit = limit
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            break
        case S_IFCHR:
            limit = min(limit, 1 << 20)
        case S_IFDIR:
            throw TunnelError(.system, "read failed: \(Errno.isDirectory)", errno: .isDirectory)
        default:
            throw TunnelError(.system, "\(path) is not a regular file (a FIFO, socket or block device); not read")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = try syscallValue("read") { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { return bytes }
            bytes += buffer[0..<n]
            if bytes.count >= limit { return Array(bytes.prefix(limit)) }
        }
    }

    /// The file's text, or nil when it does not exist.
    public static func readIfExists(_ path: String, limit: Int = .max) throws(TunnelError) -> String? {
        guard exists(path) else { return nil }
        return try read(path, limit: limit)
    }

    /// Whether anything (file, directory, link target) exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Whether `path` is a directory.
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The permission bits of `path`, or nil when it does not exist.
    public static func mode(_ path: String) -> mode_t? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    /// What `writeIfChanged` did.
    public enum Change: String, Sendable {
        case created, updated, unchanged
    }

    /// Writes `content` to `path` with `mode` (and `owner`) unless the file already holds exactly
    /// that content with that mode. Through `SafeFile`: a temporary with a random name renamed
    /// over the old file (a reader never sees half a file), and no link followed that root did
    /// not make.
    @discardableResult
    public static func writeIfChanged(_ path: String, _ content: String, mode: mode_t,
                                      owner: SafeFile.Owner? = nil) throws(TunnelError) -> Change {
        try SafeFile.writeIfChanged(path, Array(content.utf8), mode: mode, owner: owner)
    }

    /// `writeIfChanged` for content that need not be text (a copy of a file as it was).
    @discardableResult
    public static func writeIfChanged(_ path: String, bytes content: [UInt8], mode: mode_t,
                                      owner: SafeFile.Owner? = nil) throws(TunnelError) -> Change {
        try SafeFile.writeIfChanged(path, content, mode: mode, owner: owner)
    }

    /// Replaces `path` with `content` atomically through `SafeFile`, without `fsync`: for files
    /// in /run that a reboot empties anyway (state, metrics).
    public static func replace(_ path: String, _ content: String, mode: mode_t) throws(TunnelError) {
        try SafeFile.write(path, Array(content.utf8), mode: mode, policy: .runtime)
    }

    /// `mkdir -p` with `mode` for the directories it creates, following no link root did not
    /// make (`SafeFile.makeDirectories`); returns those, outermost first.
    @discardableResult
    public static func makeDirectories(_ path: String, mode: mode_t) throws(TunnelError) -> [String] {
        try SafeFile.makeDirectories(path, mode: mode)
    }

    /// Removes a file (a link itself, never its target); a missing file is not an error.
    /// Returns whether something was removed.
    @discardableResult
    public static func remove(_ path: String) throws(TunnelError) -> Bool {
        try SafeFile.remove(path)
    }

    /// What `removeDirectoryIfEmpty` did.
    public enum DirectoryRemoval: Sendable {
        case removed, missing, notEmpty
    }

    /// `rmdir`: removes `path` only when it is an empty directory.
    @discardableResult
    public static func removeDirectoryIfEmpty(_ path: String) throws(TunnelError) -> DirectoryRemoval {
        if rmdir(path) == 0 { return .removed }
        let code = errno
        switch code {
        case ENOENT: return .missing
        case ENOTEMPTY, EEXIST: return .notEmpty
        default:
            let err = Errno(rawValue: code)
            throw TunnelError(.system, "cannot remove directory \(path): \(err)", errno: err)
        }
    }

    /// The directory part of `path` ("" for a bare name, "/" for a top-level entry).
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}
