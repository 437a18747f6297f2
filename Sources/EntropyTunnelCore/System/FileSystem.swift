import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Small file operations for the config file, keys and install, without Foundation.
///
/// Writes go through `writeIfChanged`: it compares the content (and mode) first and leaves an
/// identical file untouched (same inode, same mtime), so running `install` twice rewrites nothing.
public enum FileSystem {
    /// The whole file as UTF-8 text (`open`/`read`), at most `limit` bytes of it.
    public static func read(_ path: String, limit: Int = .max) throws(TunnelError) -> String {
        String(decoding: try readBytes(path, limit: limit), as: UTF8.self)
    }

    /// The whole file as bytes, at most `limit` of them. A FIFO or socket planted where a config,
    /// key or state file belongs would block the read forever: it is refused, and the open itself
    /// is non-blocking so it does not wait for a writer. A character device (`--config /dev/null`)
    /// is read non-blocking (one that has nothing is an error, not a wait) and at most 1 MiB of it.
    public static func readBytes(_ path: String, limit: Int = .max) throws(TunnelError) -> [UInt8] {
        let fd = try syscallValue("open") { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        defer { close(fd) }
        var info = stat()
        _ = try syscallValue("fstat") { fstat(fd, &info) }
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

    /// Writes `content` to `path` with `mode` unless the file already holds exactly that content
    /// with that mode. The new content goes to a temporary file that is renamed over the old one,
    /// so a reader never sees half a file.
    @discardableResult
    public static func writeIfChanged(_ path: String, _ content: String, mode: mode_t) throws(TunnelError) -> Change {
        try writeIfChanged(path, bytes: Array(content.utf8), mode: mode)
    }

    /// `writeIfChanged` for content that need not be text (a copy of a file as it was).
    @discardableResult
    public static func writeIfChanged(_ path: String, bytes content: [UInt8], mode: mode_t) throws(TunnelError) -> Change {
        let existed = exists(path)
        if existed, let old = try? readBytes(path), old == content {
            if self.mode(path) == mode { return .unchanged }
            _ = try syscallValue("chmod") { chmod(path, mode) }
            return .updated
        }
        try makeDirectories(parent(of: path), mode: 0o755)
        try writeAtomically(path, content[...], temporary: path + ".tmp-entropy-tunnel", mode: mode, sync: true)
        return existed ? .updated : .created
    }

    /// Replaces `path` with `content` atomically (a temporary file in the same directory, then
    /// `rename`), without `fsync`: for files in /run that a reboot empties anyway (state, metrics).
    public static func replace(_ path: String, _ content: String, mode: mode_t) throws(TunnelError) {
        // Per process: two daemons given the same path must not truncate each other's temporary.
        try writeAtomically(path, Array(content.utf8)[...], temporary: path + ".tmp-\(getpid())", mode: mode, sync: false)
    }

    /// Writes `content` to `temporary` with exactly `mode` (fchmod: the umask must not narrow it,
    /// 0640 lets the group read status), fsyncs it when `sync`, and renames it onto `path`; the
    /// temporary is removed on any failure.
    private static func writeAtomically(_ path: String, _ content: ArraySlice<UInt8>, temporary: String, mode: mode_t,
                                        sync: Bool) throws(TunnelError) {
        let fd = try wrap(path) { () throws(TunnelError) in
            try syscallValue("open") { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        try wrap(path) { () throws(TunnelError) in
            _ = try syscallValue("fchmod") { fchmod(fd, mode) }
            var bytes = content
            while !bytes.isEmpty {
                let n = try syscallValue("write") { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
                bytes = bytes.dropFirst(n)
            }
            if sync { _ = try syscallValue("fsync") { fsync(fd) } }
            _ = try syscallValue("rename") { rename(temporary, path) }
        }
        ok = true
    }

    /// `mkdir -p` with `mode` for the directories it creates; returns those, outermost first.
    @discardableResult
    public static func makeDirectories(_ path: String, mode: mode_t) throws(TunnelError) -> [String] {
        if path.isEmpty || isDirectory(path) { return [] }
        var created = try makeDirectories(parent(of: path), mode: mode)
        if mkdir(path, mode) == 0 {
            created.append(path)
        } else {
            let code = errno
            if code == EEXIST && isDirectory(path) { return created }
            let err = Errno(rawValue: code == EEXIST ? ENOTDIR : code)
            throw TunnelError(.system, "cannot create directory \(path): \(err)", errno: err)
        }
        return created
    }

    /// Removes a file; a missing file is not an error. Returns whether something was removed.
    @discardableResult
    public static func remove(_ path: String) throws(TunnelError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        let err = Errno(rawValue: errno)
        throw TunnelError(.system, "cannot remove \(path): \(err)", errno: err)
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

    /// Runs `body`, adding `path` to the message of a system error.
    private static func wrap<T>(_ path: String, _ body: () throws(TunnelError) -> T) throws(TunnelError) -> T {
        do throws(TunnelError) {
            return try body()
        } catch {
            throw TunnelError(error.code, "cannot write \(path): \(error.message)", errno: error.errno)
        }
    }
}
