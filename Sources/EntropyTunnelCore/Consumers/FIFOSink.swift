#if canImport(Glibc)
import Glibc
#endif
import Logging

/// The FIFO entropy-tunnel creates and owns, held open for as long as the tunnel runs.
///
/// It is opened read-write (`O_RDWR`): the open never waits for a reader, and a consumer that
/// closes and reopens the FIFO (rngd restarting) neither stops the supply with EPIPE nor sees EOF.
/// While nobody reads, the pipe fills and the supply loop stops reading from SSH: backpressure.
public final class FIFOSink: Consumer {
    public let path: String
    public let descriptor: Int32
    /// The pipe's capacity (`F_GETPIPE_SZ`).
    public let capacity: Int
    private var device: UInt
    private var inode: UInt
    private let groupID: gid_t?
    private let logger: Logger?

    /// Creates the FIFO if it is missing (mode 0600, or 0640 with `group`; parent directories
    /// 0755), or reuses an existing FIFO of ours; refuses a regular file, directory, symlink or
    /// anything else at `path`, and leaves it untouched.
    ///
    /// A local user must not be able to read the stream or inject bytes into it: the directory
    /// must belong to root or to us and be writable by nobody else (its ancestors likewise, or
    /// sticky like /tmp), and an existing FIFO must be ours and not writable by others. Any of
    /// these refusals is a configuration error (exit 78) naming the path and the fix.
    ///
    /// - Parameters:
    ///   - size: the pipe capacity to request (`F_SETPIPE_SZ`); nil keeps the default.
    ///   - group: a group allowed to read the FIFO (never to write it).
    public init(path: String, size: ByteSize?, group: String? = nil, logger: Logger? = nil) throws(TunnelError) {
        self.logger = logger
        guard path.hasPrefix("/"), !path.hasSuffix("/") else {
            throw TunnelError(.sink, "--fifo \(path) must be an absolute path to a file (a FIFO entropy-tunnel creates)")
        }
        self.path = path
        if let group {
            guard let entry = getgrnam(group) else {
                throw TunnelError(.sink,
                                  "--fifo-group \(group): no such group; create it (groupadd \(group)) or drop the option")
            }
            groupID = entry.pointee.gr_gid
        } else {
            groupID = nil
        }
        let (fd, st) = try FIFOSink.createAndOpen(path, groupID: groupID)
        if let size {
            if fcntl(fd, F_SETPIPE_SZ, Int32(clamping: size.bytes)) < 0 {
                let err = errno
                close(fd)
                let hint = err == EPERM ? " (above /proc/sys/fs/pipe-max-size, \(FIFOSink.pipeMaxSize.map { "\($0) bytes" } ?? "unknown"); use a smaller --fifo-size)" : ""
                throw TunnelError(.sink,
                                  "cannot set the FIFO size to \(size): \(String(cString: strerror(err)))\(hint)")
            }
        }
        descriptor = fd
        capacity = Int(fcntl(fd, F_GETPIPE_SZ))
        device = UInt(st.st_dev)
        inode = UInt(st.st_ino)
    }

    deinit { close(descriptor) }

    /// `/proc/sys/fs/pipe-max-size`, for messages.
    static var pipeMaxSize: Int? {
        (try? FileSystem.read("/proc/sys/fs/pipe-max-size", limit: 64)).flatMap { Int($0.trimmingSpaces) }
    }

    /// Creates the FIFO if missing and opens it read-write, non-blocking; checks on the open
    /// descriptor that it is a FIFO of ours (nothing swapped in between) and sets its mode and group.
    private static func createAndOpen(_ path: String, groupID: gid_t?) throws(TunnelError) -> (Int32, stat) {
        let directory = try createIfMissing(path)
        let name = path.split(separator: "/").last.map(String.init) ?? ""
        let fd = openat(directory.fd, name, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            throw TunnelError(.sink, "cannot open FIFO \(path): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        fstat(fd, &st)
        guard (st.st_mode & S_IFMT) == S_IFIFO else {
            close(fd)
            throw TunnelError(.sink, "\(path) changed while it was being opened; refusing to use it")
        }
        guard st.st_uid == geteuid(), st.st_mode & 0o002 == 0 else {
            close(fd)
            throw TunnelError(.sink,
                              "FIFO \(path) belongs to uid \(st.st_uid) with mode \(String(st.st_mode & 0o7777, radix: 8)): another user " +
                              "could read or inject bytes. Remove it (rm \(path)) so that entropy-tunnel creates its own, " +
                              "and keep its directory writable only by root or uid \(geteuid())")
        }
        if let groupID {
            if fchown(fd, uid_t.max, groupID) != 0 {
                let err = errno
                close(fd)
                throw TunnelError(.sink, "cannot give FIFO \(path) to group \(groupID): \(String(cString: strerror(err)))")
            }
            fchmod(fd, 0o640)
        } else {
            fchmod(fd, 0o600)
        }
        return (fd, st)
    }

    /// Reaches the FIFO's directory without following a link another user made (`SafeFile`,
    /// creating missing directories 0755), checks it, and creates the FIFO in it if missing
    /// (`mkfifoat` relative to the directory's descriptor). Returns the directory.
    private static func createIfMissing(_ path: String) throws(TunnelError) -> SafeFile.Directory {
        let directory: SafeFile.Directory
        do throws(TunnelError) {
            (directory, _) = try SafeFile.openParent(of: path, policy: SafeFile.Policy(createDirectories: 0o755), checkDirectory: false,
                                                     verb: "create the FIFO")
        } catch {
            throw TunnelError(.sink, error.message, errno: error.errno)
        }
        try checkDirectory(directory.path, forFIFO: path)
        let name = path.split(separator: "/").last.map(String.init) ?? ""
        var st = stat()
        if fstatat(directory.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
            let kind: String
            switch st.st_mode & S_IFMT {
            case S_IFIFO: return directory
            case S_IFREG: kind = "a regular file"
            case S_IFDIR: kind = "a directory"
            case S_IFLNK: kind = "a symbolic link"
            default: kind = "not a FIFO"
            }
            throw TunnelError(.sink,
                              "--fifo \(path) is \(kind); entropy-tunnel creates and owns its FIFO and will not " +
                              "replace it: remove it or choose another path with --fifo")
        }
        guard errno == ENOENT else {
            throw TunnelError(.sink, "cannot check --fifo \(path): \(String(cString: strerror(errno)))")
        }
        if mkfifoat(directory.fd, name, 0o600) != 0 && errno != EEXIST {
            throw TunnelError(.sink, "cannot create FIFO \(path): \(String(cString: strerror(errno)))")
        }
        return directory
    }

    /// Refuses a FIFO directory that another user could write to: it must belong to root or to
    /// us and be writable by neither group nor others; each ancestor must belong to root or us
    /// and be writable by nobody else unless it is sticky (/tmp), where others cannot rename
    /// what is ours.
    static func checkDirectory(_ directory: String, forFIFO path: String) throws(TunnelError) {
        let me = geteuid()
        var current = directory
        var isParent = true
        while true {
            var st = stat()
            guard stat(current, &st) == 0 else {
                throw TunnelError(.sink, "cannot check \(current) (for --fifo \(path)): \(String(cString: strerror(errno)))")
            }
            let mode = st.st_mode & 0o7777
            let othersWrite = mode & 0o022 != 0
            let sticky = mode & 0o1000 != 0
            if (st.st_uid != 0 && st.st_uid != me) || (othersWrite && (isParent || !sticky)) {
                throw TunnelError(.sink,
                                  "--fifo \(path) is unsafe: \(current) belongs to uid \(st.st_uid) with mode \(String(mode, radix: 8)), " +
                                  "so another user could replace the FIFO and read or inject bytes. Put the FIFO in a directory " +
                                  "owned by root or uid \(me) and writable by nobody else (the default /run/entropy-tunnel is)")
            }
            if current == "/" { return }
            current = FileSystem.parent(of: current)
            isParent = false
        }
    }

    /// Whether `path` still names the FIFO this sink holds (it may have been deleted or replaced).
    public var isStillAtPath: Bool {
        var st = stat()
        return lstat(path, &st) == 0 && UInt(st.st_dev) == device && UInt(st.st_ino) == inode
    }

    /// Recreates the FIFO when its path no longer names it (deleted or replaced by someone),
    /// keeping the same descriptor number (`dup2`). Bytes queued in the old pipe stay with it; its
    /// reader (rngd) sees EOF once we let go of it, exits, and is restarted on the new FIFO.
    public func revalidate() throws(TunnelError) {
        guard !isStillAtPath else { return }
        let (fd, st) = try FIFOSink.createAndOpen(path, groupID: groupID)
        defer { close(fd) }
        _ = fcntl(fd, F_SETPIPE_SZ, Int32(clamping: capacity))
        guard dup2(fd, descriptor) == descriptor else {
            throw TunnelError(.sink, "cannot switch to the new FIFO \(path): \(String(cString: strerror(errno)))")
        }
        device = UInt(st.st_dev)
        inode = UInt(st.st_ino)
        logger?.warning("FIFO was removed or replaced; created it again", metadata: ["path": "\(path)"])
    }

    /// Bytes waiting in the pipe for the consumer (`FIONREAD`).
    public func queuedBytes() -> Int {
        var queued: Int32 = 0
        _ = ioctl(descriptor, UInt(FIONREAD), &queued)
        return Int(queued)
    }

    /// Refill from a `serve` host once the FIFO is half empty.
    public var refillThreshold: Int { max(1, capacity / 2) }

    public var pollDescriptor: Int32? { descriptor }

    /// Room in the pipe (capacity minus `FIONREAD`); a `serve` host is asked for more once half of
    /// it is free.
    public func demand(at now: Instant) -> Demand {
        Demand(bytes: max(0, capacity - queuedBytes()), refillThreshold: refillThreshold)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int> {
        do {
            return try syscall("write") { Glibc.write(descriptor, bytes.baseAddress, bytes.count) }
        } catch {
            throw TunnelError(.sink, "cannot write to FIFO \(path): \(error.message)", errno: error.errno)
        }
    }
}

/// fcntl commands Glibc does not export without _GNU_SOURCE (F_LINUX_SPECIFIC_BASE + 7, + 8).
private let F_SETPIPE_SZ: Int32 = 1031
private let F_GETPIPE_SZ: Int32 = 1032
