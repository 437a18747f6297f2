import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The files behind one client key's budget, in `serve`'s budget directory (by default
/// `~/.cache/entropy-tunnel` of the account `serve` runs as):
///
/// - `STEM.budget`: the shared `ClientBudget`, read, updated and written back under an exclusive
///   `flock` for every request, so that every session of the key draws on one bucket;
/// - `STEM.slot0` ... `STEM.slotN-1`: one per session allowed at once; a session holds an
///   exclusive `flock` on one for its whole life. The kernel drops the lock when the process ends
///   (a crash or `kill -9` included), so a dead session never keeps its slot.
///
/// Every file is opened `O_NOFOLLOW` relative to the directory's descriptor; the directory must
/// belong to this user (or root) and be writable by no one else.
public final class ClientBudgetFiles {
    public let client: ServeClient
    public let directory: String
    private let directoryFD: Int32
    private let budgetFD: Int32
    private let slotFD: Int32
    /// The slot this session holds (0-based).
    public let slot: Int
    private let bootID: String

    /// Opens (creating, mode 0700) the directory, takes a free session slot, and opens the budget.
    /// Throws `.tooManySessions` when all `maxSessions` slots are held, `.budget` when the
    /// files cannot be used.
    public init(directory: String, client: ServeClient, maxSessions: Int) throws(ServeError) {
        self.client = client
        self.directory = directory
        do throws(TunnelError) {
            try SafeFile.makeDirectories(directory, mode: 0o700)
        } catch {
            throw ServeError(.budget, Self.fix("cannot create \(directory): \(error.message)"))
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dir >= 0 else { throw ServeError(.budget, Self.fix("cannot open \(directory): \(Errno(rawValue: errno))")) }
        var st = stat()
        fstat(dir, &st)
        guard st.st_uid == geteuid() || st.st_uid == 0, st.st_mode & 0o022 == 0 else {
            close(dir)
            throw ServeError(.budget, Self.fix("\(directory) belongs to uid \(st.st_uid) with mode 0\(String(st.st_mode & 0o7777, radix: 8)): " +
                                               "another user could change the budgets"))
        }
        directoryFD = dir
        let stem = client.fileStem
        var held: (fd: Int32, slot: Int)?
        for slot in 0..<maxSessions {
            let fd = openat(dir, "\(stem).slot\(slot)", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let err = Errno(rawValue: errno)
                close(dir)
                throw ServeError(.budget, Self.fix("cannot open \(directory)/\(stem).slot\(slot): \(err)"))
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                held = (fd, slot)
                break
            }
            close(fd)
        }
        guard let held else {
            close(dir)
            throw ServeError(.tooManySessions,
                             "entropy-tunnel serve: client \(client.id) already has \(maxSessions) session\(maxSessions == 1 ? "" : "s") " +
                             "open (--max-sessions \(maxSessions)); refusing another: close one, or give each machine a key of its own")
        }
        slotFD = held.fd
        slot = held.slot
        let budget = openat(dir, "\(stem).budget", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard budget >= 0 else {
            let err = Errno(rawValue: errno)
            close(held.fd)
            close(dir)
            throw ServeError(.budget, Self.fix("cannot open \(directory)/\(stem).budget: \(err)"))
        }
        budgetFD = budget
        bootID = ((try? FileSystem.read("/proc/sys/kernel/random/boot_id", limit: 64)) ?? "unknown").trimmingSpaces
    }

    deinit {
        close(budgetFD)
        close(slotFD)
        close(directoryFD)
    }

    /// Takes `count` bytes from the key's shared bucket; returns when they may be sent.
    public func take(_ count: Int, rate: Int, capacity: Int) throws(ServeError) -> Instant {
        // Held for a read and a write of a few dozen bytes; a holder that dies drops it.
        while flock(budgetFD, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw ServeError(.budget, Self.fix("cannot lock the budget of \(client.id): \(Errno(rawValue: errno))"))
        }
        defer { flock(budgetFD, LOCK_UN) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { pread(budgetFD, $0.baseAddress, $0.count, 0) }
        let now = Instant.now.nanoseconds
        var state = ClientBudget.loaded(n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil,
                                        capacity: capacity, now: now, bootID: bootID)
        let due = state.take(count, rate: rate, capacity: capacity, now: now)
        let text = Array(state.text.utf8)
        let written = text.withUnsafeBytes { pwrite(budgetFD, $0.baseAddress, $0.count, 0) }
        guard written == text.count, ftruncate(budgetFD, off_t(text.count)) == 0 else {
            throw ServeError(.budget, Self.fix("cannot write the budget of \(client.id) in \(directory): \(Errno(rawValue: errno))"))
        }
        return Instant(nanoseconds: due)
    }

    private static func fix(_ problem: String) -> String {
        "entropy-tunnel serve: \(problem); the per-key budget needs a directory of this user's own: " +
            "give --budget-dir DIR (default ~/.cache/entropy-tunnel)"
    }
}
