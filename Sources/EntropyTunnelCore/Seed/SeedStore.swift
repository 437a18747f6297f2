import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The seed for the next boot, by SeedRNG's rules, in entropy-tunnel's own state directory
/// (never systemd's or SeedRNG's files).
///
/// The directory holds at most one seed: `seed.credit` (made while the kernel's CRNG was ready,
/// so it may be credited) or `seed.no-credit` (mixed in only), 32-512 bytes, plus `seed.lock`,
/// which `flock` makes one owner at a time, and `seed.tmp` while a seed is being written.
///
/// - `load` deletes a seed durably (unlink, then fsync of the directory) *before* the kernel
///   gets it, and credits it only when that worked, it is `seed.credit`, and this is not a first
///   boot (a seed baked into an image would be credited on every clone). Then it saves a new seed
///   at once, so a crash later never leaves the old one to be loaded again.
/// - `save` makes a seed from fresh bytes hashed with the old seed and the time; it never stores
///   raw bytes that were also fed to the kernel.
///
/// Size: a new seed is 64 bytes. 32 bytes (256 bits) is all the kernel counts towards readiness
/// and all one SHA-256 state can hold; 64 bytes is two output blocks of the hash, the batch size
/// the kernel's own hwrng feeder uses, and one RNDADDENTROPY call. Files of 32-512 bytes
/// (SeedRNG's bounds) are accepted when loading.
public struct SeedStore: Sendable {
    /// The default state directory (`StateDirectory=entropy-tunnel` in the units).
    public static let defaultDirectory = "/var/lib/entropy-tunnel"
    public static let creditName = "seed.credit"
    public static let noCreditName = "seed.no-credit"
    public static let lockName = "seed.lock"
    public static let temporaryName = "seed.tmp"
    /// Every name the store may leave in its directory (`uninstall --purge` removes these only).
    public static let ownNames = [creditName, noCreditName, lockName, temporaryName]
    /// The size of a new seed, in bytes.
    public static let size = 64
    /// The sizes a seed file may have to be loaded.
    public static let acceptedSizes = 32...512
    /// The domain label of the seed hash.
    public static let domainLabel = "entropy-tunnel seed v1"

    /// The state directory.
    public let directory: String
    /// When set, no seed is credited, and this says why (`--no-credit`, no CAP_SYS_ADMIN).
    public var noCreditReason: String?

    public init(directory: String) {
        self.directory = directory
    }

    /// The path of one of the store's files.
    public func path(_ name: String) -> String { directory + "/" + name }

    // MARK: - load

    /// Loads the seed into `kernel`, then saves a new seed at once.
    ///
    /// For `seed.credit` then `seed.no-credit`: opened without following links, must be a regular
    /// file of 32-512 bytes (else it is removed and skipped), read, unlinked, the directory
    /// fsynced; then mixed in, asking for 8 bits a byte only for `seed.credit` whose deletion was
    /// durable, when `firstBoot` is false and `noCreditReason` is nil. The result reports the
    /// credit the kernel took (`KernelCredit`): none when its CRNG was already ready. Throws a configuration
    /// error for an unsafe directory, and the kernel's refusal; a failed save is in the result.
    public func load(into kernel: some KernelInput, firstBoot: Bool) throws(TunnelError) -> SeedLoadResult {
        let dir = try openDirectory()
        defer { close(dir) }
        let lockFD = try lock(dir)
        defer { close(lockFD) }
        var result = SeedLoadResult()
        var oldSeeds: [UInt8] = []
        for name in [Self.creditName, Self.noCreditName] {
            guard let seed = try takeSeed(name, dir, &result) else { continue }
            var credit = 8 * seed.bytes.count
            var reason: String?
            if name != Self.creditName {
                reason = "it was made before the kernel's CRNG was ready"
            } else if let refusal = seed.notDurablyDeleted {
                reason = "it could not be durably deleted first (\(refusal)), so it might be loaded again"
            } else if firstBoot {
                reason = "this is the first boot of this machine (/etc/machine-id missing or uninitialized): the seed may come from an image"
            } else if let noCreditReason {
                reason = noCreditReason
            }
            if reason != nil { credit = 0 }
            var outcome: Result<KernelCredit, TunnelError> = .success(.mixed(.noCreditAsked))
            seed.bytes.withUnsafeBytes { buffer in
                do throws(TunnelError) { outcome = .success(try kernel.addEntropy(buffer, creditBits: credit)) } catch { outcome = .failure(error) }
            }
            let taken = try outcome.get()
            // Reported as credited only when the kernel took it: a seed loaded after the CRNG got
            // ready is mixed in, and the log says so.
            if reason == nil, case .mixed(let mixed) = taken { reason = mixed.text }
            result.loaded.append(.init(path: path(name), bytes: seed.bytes.count, creditedBits: taken.bits, noCreditReason: reason))
            oldSeeds += seed.bytes
        }
        do throws(TunnelError) {
            result.saved = try saveLocked(dir, extra: [], oldSeed: oldSeeds)
        } catch {
            result.saveError = error
        }
        return result
    }

    /// A seed read and deleted: its bytes, and why its deletion is not known to be durable (nil: it is).
    private struct TakenSeed {
        var bytes: [UInt8]
        var notDurablyDeleted: String?
    }

    /// Opens, checks, reads and deletes the seed `name`; nil when there is none or it was skipped.
    private func takeSeed(_ name: String, _ dir: Int32, _ result: inout SeedLoadResult) throws(TunnelError) -> TakenSeed? {
        let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            if code == ELOOP {
                unlinkat(dir, name, 0)
                result.skipped.append("\(path(name)) is a symbolic link: refused and removed")
                return nil
            }
            let err = Errno(rawValue: code)
            throw TunnelError(.system, "cannot open \(path(name)): \(err)", errno: err)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            result.skipped.append("\(path(name)) is not a regular file: not loaded; remove it (`rm -r \(path(name))`)")
            return nil
        }
        guard Self.acceptedSizes.contains(Int(st.st_size)) else {
            unlinkat(dir, name, 0)
            result.skipped.append("\(path(name)) has \(st.st_size) bytes, not 32-512: removed, not loaded")
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: Self.acceptedSizes.upperBound + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                let err = Errno(rawValue: errno)
                throw TunnelError(.system, "cannot read \(path(name)): \(err)", errno: err)
            }
            if n == 0 { break }
            count += n
        }
        guard Self.acceptedSizes.contains(count) else {
            unlinkat(dir, name, 0)
            result.skipped.append("\(path(name)) changed size while read (\(count) bytes): removed, not loaded")
            return nil
        }
        bytes.removeSubrange(count...)
        // Deleted, durably, before the kernel sees it: a crash after this point loses the seed
        // instead of crediting it twice.
        var notDurable: String?
        if unlinkat(dir, name, 0) != 0 {
            notDurable = "unlink: \(Errno(rawValue: errno))"
        } else if fsync(dir) != 0 {
            notDurable = "fsync of \(directory): \(Errno(rawValue: errno))"
        }
        return TakenSeed(bytes: bytes, notDurablyDeleted: notDurable)
    }

    // MARK: - save

    /// Writes a new seed: `extra` (fresh bytes, e.g. from the tunnel), 64 bytes of `getrandom`,
    /// the old seed if there is one, CLOCK_REALTIME and CLOCK_BOOTTIME, hashed with SHA-256 under
    /// the domain label. `seed.credit` when the CRNG was ready, else `seed.no-credit`; the other
    /// name is removed. Temp file, fsync, rename, fsync of the directory.
    public func save(extra: [UInt8]) throws(TunnelError) -> SeedSaveResult {
        let dir = try openDirectory()
        defer { close(dir) }
        let lockFD = try lock(dir)
        defer { close(lockFD) }
        var old: [UInt8] = []
        for name in [Self.creditName, Self.noCreditName] {
            if let bytes = readExisting(name, dir) { old += bytes }
        }
        return try saveLocked(dir, extra: extra, oldSeed: old)
    }

    /// `save` with the lock held and the old seed already read.
    private func saveLocked(_ dir: Int32, extra: [UInt8], oldSeed: [UInt8]) throws(TunnelError) -> SeedSaveResult {
        // Readiness first: bytes drawn before the CRNG is ready must not make a creditable seed.
        let creditable = KernelRandomDevice.crngReady()
        let fresh = try KernelRandomDevice.randomBytes(64)
        let seed = Self.derive(fresh: fresh, extra: extra, oldSeed: oldSeed,
                               realtime: Self.clock(CLOCK_REALTIME), boottime: Self.clock(CLOCK_BOOTTIME))
        let name = creditable ? Self.creditName : Self.noCreditName
        let other = creditable ? Self.noCreditName : Self.creditName
        try writeFailing(name) { () throws(TunnelError) in
            // The one safe write (random temporary, O_EXCL|O_NOFOLLOW, fchmod, fsync, renameat,
            // fsync of the directory) in the directory openDirectory checked.
            let directory = SafeFile.Directory(borrowing: dir, path: self.directory)
            try SafeFile.replace(name, in: directory, path: path(name), seed, mode: 0o600, owner: nil, durable: true)
            if unlinkat(dir, other, 0) != 0 && errno != ENOENT {
                throw TunnelError(.system, "unlink \(path(other)) failed: \(Errno(rawValue: errno))", errno: Errno(rawValue: errno))
            }
            _ = try syscallValue("fsync") { fsync(dir) }
        }
        return SeedSaveResult(path: path(name), bytes: seed.count, creditable: creditable)
    }

    /// The new seed's bytes: HKDF-style extract and expand with SHA-256 (no new dependency).
    /// Every input is length-prefixed, so no two different inputs hash alike.
    static func derive(fresh: [UInt8], extra: [UInt8], oldSeed: [UInt8], realtime: [UInt8], boottime: [UInt8]) -> [UInt8] {
        var extract = SHA256()
        for field in [Array(domainLabel.utf8), realtime, boottime, fresh, extra, oldSeed] {
            extract.update(lengthPrefix(field.count))
            extract.update(field)
        }
        let key = extract.finalize()
        var seed: [UInt8] = []
        for block in 1...UInt8(size / 32) {
            var expand = SHA256()
            expand.update(key)
            expand.update(Array((domainLabel + " expand").utf8))
            expand.update([block])
            seed += expand.finalize()
        }
        return seed
    }

    private static func lengthPrefix(_ n: Int) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: UInt64(n) >> (56 - 8 * $0)) }
    }

    /// A clock's time as 16 bytes (seconds, nanoseconds).
    private static func clock(_ id: clockid_t) -> [UInt8] {
        var ts = timespec()
        clock_gettime(id, &ts)
        return lengthPrefix(Int(ts.tv_sec)) + lengthPrefix(Int(ts.tv_nsec))
    }

    /// The content of an existing seed file, for the new seed's hash only (never credited).
    private func readExisting(_ name: String, _ dir: Int32) -> [UInt8]? {
        let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var bytes = [UInt8](repeating: 0, count: Self.acceptedSizes.upperBound)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? Array(bytes[..<n]) : nil
    }

    /// Runs the writes of a new seed; a failure names the directory and what it means.
    private func writeFailing(_ name: String, _ body: () throws(TunnelError) -> Void) throws(TunnelError) {
        do throws(TunnelError) {
            try body()
        } catch {
            var hint = "the next boot gets no seed from entropy-tunnel"
            switch error.errno {
            case .readOnlyFileSystem?:
                hint += "; \(directory) is on a read-only file system: give --state-dir on a writable one"
            case .permissionDenied?, .notPermitted?:
                hint += "; run as root or the directory's owner (the units run as user entropy-tunnel)"
            case .noSpace?:
                hint += "; free space on that file system"
            default: break
            }
            throw TunnelError(error.code, "cannot save a seed as \(path(name)): \(error.message); \(hint)", errno: error.errno)
        }
    }

    // MARK: - The directory

    /// Creates the directory (mode 0700) if missing, opens it and checks that no one but root
    /// and this user can change it. Returns its descriptor.
    func openDirectory() throws(TunnelError) -> Int32 {
        var fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && errno == ENOENT {
            try FileSystem.makeDirectories(FileSystem.parent(of: directory), mode: 0o755)
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw Self.directoryError(directory, Errno(rawValue: errno), "cannot create")
            }
            fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard fd >= 0 else {
            let err = Errno(rawValue: errno)
            if err == .tooManySymbolicLinkLevels || err == .notDirectory {
                throw TunnelError(.configuration,
                                  "the state directory \(directory) is a symbolic link or not a directory: refused; " +
                                  "remove it (a real directory is created, mode 0700) or give --state-dir DIR", errno: err)
            }
            throw Self.directoryError(directory, err, "cannot open")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let err = Errno(rawValue: errno)
            close(fd)
            throw Self.directoryError(directory, err, "cannot stat")
        }
        if st.st_uid != 0 && st.st_uid != geteuid() {
            close(fd)
            throw TunnelError(.configuration,
                              "the state directory \(directory) belongs to uid \(st.st_uid), neither root nor this user (uid \(geteuid())): " +
                              "its seed could be planted; fix with `chown \(geteuid()) \(directory)` or give another --state-dir")
        }
        if st.st_mode & 0o022 != 0 {
            close(fd)
            throw TunnelError(.configuration,
                              "the state directory \(directory) is writable by group or others (mode 0\(String(st.st_mode & 0o7777, radix: 8))): " +
                              "another user could plant or steal a seed; fix with `chmod 0700 \(directory)`")
        }
        return fd
    }

    private static func directoryError(_ directory: String, _ err: Errno, _ what: String) -> TunnelError {
        let hint: String
        switch err {
        case .permissionDenied, .notPermitted:
            hint = "run as root or as the directory's owner, or give --state-dir DIR you own"
        case .readOnlyFileSystem:
            hint = "the file system is read-only: give --state-dir on a writable one"
        default:
            hint = "give --state-dir DIR"
        }
        return TunnelError(.configuration, "\(what) the state directory \(directory): \(err); \(hint)", errno: err)
    }

    /// Takes `seed.lock` (flock, exclusive, waits) and returns its descriptor: closing it, or the
    /// end of the process (kill -9 included), releases the lock.
    ///
    /// On a read-only file system the lock is taken on the existing file opened read-only, or
    /// not at all when there is none: nothing there can change, and a seed that cannot be
    /// deleted is never credited (-1 then, which `close` ignores).
    private func lock(_ dir: Int32) throws(TunnelError) -> Int32 {
        var fd = openat(dir, Self.lockName, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 && errno == EROFS {
            fd = openat(dir, Self.lockName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 && errno == ENOENT { return -1 }
        }
        guard fd >= 0 else {
            let err = Errno(rawValue: errno)
            throw TunnelError(err == .tooManySymbolicLinkLevels ? .configuration : .system,
                              "cannot open the lock \(path(Self.lockName)): \(err)" +
                              (err == .tooManySymbolicLinkLevels ? "; it is a symbolic link: remove it" : ""), errno: err)
        }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let err = Errno(rawValue: errno)
            close(fd)
            throw TunnelError(.system, "cannot lock \(path(Self.lockName)): \(err)", errno: err)
        }
        return fd
    }

    // MARK: - First boot

    /// systemd's rule: a first boot has /etc/machine-id missing, empty or "uninitialized".
    public static func isFirstBoot(machineIDPath: String = "/etc/machine-id") -> Bool {
        guard let text = try? FileSystem.read(machineIDPath, limit: 256) else { return true }
        let id = text.trimmingSpaces
        return id.isEmpty || id == "uninitialized"
    }
}
