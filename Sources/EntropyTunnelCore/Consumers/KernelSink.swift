import CSystemShims
import Glibc
import Logging
import Synchronization

/// Asks the kernel sink for a feed now (SIGUSR1, after a VM restore or clone) from any thread,
/// and is the sink's timer: a `timerfd` the supply loop polls while the sink takes nothing, armed for
/// the next scheduled feed. One descriptor for both, so the supply loop waits on one thing.
public final class KernelFeedTrigger: Sendable {
    /// The timerfd (CLOCK_MONOTONIC, the clock of `Instant`), close-on-exec, non-blocking.
    public let descriptor: Int32
    private let forced = Atomic<Bool>(false)

    public init() throws(TunnelError) {
        let fd = csystem_timerfd_create()
        guard fd >= 0 else { throw TunnelError(.system, "timerfd_create failed (errno \(errno))") }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// A feed now: wakes the supply loop at once.
    public func fire() {
        forced.store(true, ordering: .sequentiallyConsistent)
        _ = csystem_timerfd_arm(descriptor, 1)
    }

    /// Whether `fire()` was called since the last call; clears the flag.
    func takeForced() -> Bool { forced.exchange(false, ordering: .sequentiallyConsistent) }

    /// Wakes the supply loop at `instant` (at once when it has passed).
    func arm(at instant: Instant) {
        _ = csystem_timerfd_arm(descriptor, max(1, instant.nanoseconds - Instant.now.nanoseconds))
    }

    /// Clears a fired timer so the descriptor stops polling readable.
    func drain() {
        var expirations: UInt64 = 0
        _ = read(descriptor, &expirations, 8)
    }
}

/// `--sink kernel`: health-tested bytes go straight into the kernel's input pool.
///
/// Before the CRNG is ready the sink takes whatever arrives and feeds it in 64-byte
/// `RNDADDENTROPY` calls with credit; after that it takes `--kernel-bytes` at start and every
/// `--kernel-interval`, each followed by `RNDRESEEDCRNG` (`KernelFeedPolicy`). Between feeds its
/// demand is nothing, so the supply loop reads nothing from the channel and waits on the sink's
/// timer: the SSH window closes and the host's reader blocks. Without CAP_SYS_ADMIN it writes to
/// /dev/urandom instead (mixed, never credited, no reseed; a warning at start and in the status).
final class KernelSink: Consumer {
    private let device: KernelRandomDevice
    private var policy: KernelFeedPolicy
    private let trigger: KernelFeedTrigger
    private let stats: TunnelStats?
    private let logger: Logger
    /// The current batch.
    private var batch: [UInt8]
    /// The CRNG was seen ready (it never becomes unready again).
    private var crngReady: Bool
    private var loggedFailures: Set<String> = []
    private var feeds = 0
    /// Fresh bytes for the next boot's seed, taken from the stream but never fed to the kernel.
    private let seed: SeedRefresh?
    /// Seeds to save, for the loop to run off the supply thread (`takeEffects`).
    private var effects: [ConsumerEffect] = []
    /// When the next seed is due (set at the first feed).
    private var seedDue: Instant?

    /// How `run` keeps the seed for the next boot fresh from the sink: after the first feed,
    /// then every `interval`, a `.saveSeed` effect gets `bytes` bytes of the stream that are not
    /// fed to the kernel.
    struct SeedRefresh {
        var interval: Duration = .seconds(3600)
        var bytes = 32
    }

    var pollDescriptor: Int32? { trigger.descriptor }
    var pollEvents: Poller.Events { .readable }
    var mode: KernelRandomDevice.Mode { device.mode }

    init(device: KernelRandomDevice, policy: KernelFeedPolicy, trigger: KernelFeedTrigger,
         seed: SeedRefresh? = nil, stats: TunnelStats?, logger: Logger) {
        self.device = device
        self.policy = policy
        self.trigger = trigger
        self.seed = seed
        self.stats = stats
        self.logger = logger
        batch = []
        batch.reserveCapacity(policy.batchBytes + (seed?.bytes ?? 0))
        crngReady = KernelRandomDevice.crngReady()
        let ready = crngReady
        stats?.update {
            var counters = TunnelStats.KernelCounters(mode: device.mode)
            counters.startedBeforeReady = !ready
            if ready { counters.crngReadyAt = WallClock.now() }
            $0.kernel = counters
        }
        if device.mode == .write {
            logger.warning("""
                kernel sink in write mode: no CAP_SYS_ADMIN, so bytes are written to \(KernelRandomDevice.path): mixed into \
                the pool but never credited, and the CRNG is not reseeded; run as root or with \
                AmbientCapabilities=CAP_SYS_ADMIN for RNDADDENTROPY and RNDRESEEDCRNG
                """)
        }
        logger.info("kernel sink ready", metadata: [
            "mode": "\(device.mode.rawValue)", "crng": "\(ready ? "ready" : "not ready yet")",
            "interval": "\(Int(policy.interval.seconds))s", "bytes": "\(policy.batchBytes)",
        ])
    }

    deinit {
        batch.withUnsafeMutableBytes { bytes in if let base = bytes.baseAddress { memset(base, 0, bytes.count) } }
    }

    /// Takes in a forced feed and the timer, and notices the CRNG becoming ready.
    private func refresh(_ now: Instant) {
        trigger.drain()
        if trigger.takeForced() {
            policy.force()
            logger.notice("feed requested (SIGUSR1): feeding and reseeding now")
        }
        if !crngReady && KernelRandomDevice.crngReady() {
            crngReady = true
            stats?.update { $0.kernel?.crngReadyAt = WallClock.now() }
            logger.notice("the kernel's CRNG is ready: crediting stops, scheduled feeds begin")
        }
        if crngReady, let wake = policy.wakeAt(now, crngReady: true) { trigger.arm(at: wake) }
    }

    /// Extra bytes wanted for the seed at this feed.
    private func seedRoom(_ now: Instant) -> Int {
        guard let seed, let seedDue, now >= seedDue else { return 0 }
        return seed.bytes
    }

    /// Everything before the CRNG is ready; after, the batch (and the seed's bytes) while a feed
    /// is due, else nothing until the next feed.
    func demand(at now: Instant) -> Demand {
        let room = policy.room(at: now, crngReady: crngReady)
        guard room > 0 else { return Demand(bytes: 0, wakeAt: policy.wakeAt(now, crngReady: crngReady)) }
        return Demand(bytes: room + seedRoom(now))
    }

    func wake() { refresh(.now) }

    func takeEffects() -> [ConsumerEffect] {
        defer { effects = [] }
        return effects
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int> {
        guard !bytes.isEmpty else { return .processed(0) }
        let now = Instant.now
        refresh(now)
        if !crngReady { return .processed(feedEarly(bytes)) }
        var taken = 0
        let forSeed = seedRoom(now)
        if forSeed > 0, let seed, policy.isDue(at: now) {
            taken = min(forSeed, bytes.count)
            effects.append(.saveSeed(Array(bytes[0..<taken])))
            seedDue = now + seed.interval
            if taken == bytes.count { return .processed(taken) }
        }
        let room = policy.room(at: now, crngReady: true)
        guard room > 0 else { return taken > 0 ? .processed(taken) : .wouldBlock }
        let n = min(room, bytes.count - taken)
        batch.append(contentsOf: bytes[taken..<taken + n])
        if policy.take(n) { feedBatch(now) }
        return .processed(taken + n)
    }

    /// Before readiness: feed what arrives in 64-byte calls with credit, re-checking readiness
    /// before each so no credit is given once the CRNG is ready.
    private func feedEarly(_ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while offset < bytes.count {
            if offset > 0 && KernelRandomDevice.crngReady() {
                crngReady = true
                stats?.update { $0.kernel?.crngReadyAt = WallClock.now() }
                logger.notice("the kernel's CRNG is ready: crediting stops, scheduled feeds begin")
                break
            }
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + KernelFeedPolicy.earlyCallBytes)])
            let bits = device.mode == .ioctl ? policy.creditBits(for: chunk.count, crngReady: false) : 0
            // Counted as credited only when the kernel took it (KernelCredit.decide).
            let (rc, credited) = device.add(chunk, creditBits: bits)
            record(addResult: rc, bytes: chunk.count, bits: credited)
            offset += chunk.count
        }
        return offset
    }

    /// After readiness: the batch in, then a reseed.
    private func feedBatch(_ now: Instant) {
        feeds += 1
        let first = feeds == 1
        let rc = batch.withUnsafeBytes { device.add($0, creditBits: 0).rc }
        record(addResult: rc, bytes: batch.count, bits: 0)
        var reseed: Int32 = 0
        if device.mode == .ioctl {
            reseed = device.reseedResult()
            if reseed == 0 {
                stats?.update { $0.kernel?.reseeds += 1 }
            } else {
                stats?.update { $0.kernel?.reseedFailures[reseed, default: 0] += 1 }
                logOnce("reseed \(reseed)", "RNDRESEEDCRNG failed: \(Self.errnoName(reseed)); the CRNG reseeds on its own schedule")
            }
        }
        let fed = batch.count
        batch.withUnsafeMutableBytes { bytes in if let base = bytes.baseAddress { memset(base, 0, bytes.count) } }
        batch.removeAll(keepingCapacity: true)
        policy.fed(at: now)
        trigger.arm(at: policy.nextDue!)
        let wall = WallClock.now()
        stats?.update {
            $0.kernel?.feeds += 1
            $0.kernel?.lastFeedAt = wall
        }
        if first {
            logger.info("first kernel feed", metadata: [
                "bytes": "\(fed)", "method": "\(device.mode == .ioctl ? "RNDADDENTROPY" : "write")",
                "reseed": "\(device.mode == .ioctl ? (reseed == 0 ? "RNDRESEEDCRNG" : Self.errnoName(reseed)) : "not possible in write mode")",
                "next_in": "\(Int(policy.interval.seconds))s",
            ])
            if seed != nil { seedDue = now }
            stats?.emit(.kernelFed)
        } else {
            logger.debug("kernel feed", metadata: ["bytes": "\(fed)", "rc": "\(rc)", "reseed": "\(reseed)"])
        }
    }

    private func record(addResult rc: Int32, bytes: Int, bits: Int) {
        if rc == 0 {
            stats?.update {
                $0.kernel?.addEntropyCalls += 1
                $0.kernel?.bytesMixed += UInt64(bytes)
                $0.kernel?.bitsCredited += UInt64(bits)
            }
        } else {
            stats?.update { $0.kernel?.addEntropyFailures[rc, default: 0] += 1 }
            logOnce("add \(rc)", "\(device.mode == .ioctl ? "RNDADDENTROPY" : "write to \(KernelRandomDevice.path)") failed: " +
                    "\(Self.errnoName(rc)); \(bytes) bytes were not mixed in")
        }
    }

    /// Logs a failure the first time it happens (the counters keep the rest).
    private func logOnce(_ key: String, _ message: String) {
        guard loggedFailures.insert(key).inserted else { return }
        logger.warning("\(message) (further failures of this kind are only counted)")
    }

    static func errnoName(_ code: Int32) -> String {
        switch code {
        case EPERM: return "EPERM (no CAP_SYS_ADMIN)"
        case ENODATA: return "ENODATA (CRNG not ready)"
        case EINVAL: return "EINVAL"
        default: return String(cString: strerror(code))
        }
    }
}

extension KernelRandomDevice {
    /// `addEntropy`, with the errno of a failure returned (0 on success) and the bits the kernel
    /// took: the sink counts failures by errno and goes on.
    func add(_ bytes: UnsafeRawBufferPointer, creditBits bits: Int) -> (rc: Int32, credited: Int) {
        do {
            return (0, try addEntropy(bytes, creditBits: bits).bits)
        } catch {
            return (error.errno?.rawValue ?? EIO, 0)
        }
    }

    /// `reseed`, with the errno of a failure returned (0 on success).
    func reseedResult() -> Int32 {
        do {
            try reseed()
            return 0
        } catch {
            return error.errno?.rawValue ?? EIO
        }
    }
}
