import CSystemShims
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Something bytes can be mixed into with a credit: the kernel's input pool, or a fake in tests.
public protocol KernelInput {
    /// Mixes `bytes` in, asking for a credit of `creditBits` bits (0: mix only), and returns what
    /// the kernel took: `.credited` only when the credit counted.
    @discardableResult
    func addEntropy(_ bytes: UnsafeRawBufferPointer, creditBits: Int) throws(TunnelError) -> KernelCredit
}

/// What became of the credit of bytes mixed into the kernel: the one answer every log line,
/// status and metric reports ("credited N bits" only when the kernel took them).
public enum KernelCredit: Sendable, Equatable {
    /// The kernel counted these bits towards its CRNG's readiness.
    case credited(bits: Int)
    /// The bytes were mixed in and nothing was credited, for this reason.
    case mixed(MixedReason)

    /// Why bytes were only mixed in.
    public enum MixedReason: Sendable, Equatable {
        /// No credit was asked for.
        case noCreditAsked
        /// The CRNG was already ready at the ioctl: the kernel ignores the credit field then
        /// (drivers/char/random.c since 5.18 counts credit only towards readiness).
        case crngReady
        /// `write()` to /dev/urandom (no CAP_SYS_ADMIN), which never credits.
        case writeMode
    }

    /// The bits credited (0 when mixed).
    public var bits: Int {
        if case .credited(let bits) = self { return bits }
        return 0
    }

    /// For a log line: `credited 512 bits`, or `mixed, 0 bits credited: the kernel's CRNG was already ready`.
    public var summary: String {
        switch self {
        case .credited(let bits): return "credited \(bits) bits"
        case .mixed(let reason): return "mixed, 0 bits credited: " + reason.text
        }
    }

    /// The credit the kernel takes for `requested` bits over `count` bytes: the decision, made
    /// here only. The kernel counts credit only while its CRNG is not ready, so
    /// `crngReadyBefore` is `getrandom(GRND_NONBLOCK)` asked just before the ioctl; at most
    /// 8 bits a byte; nothing in write mode.
    public static func decide(requested: Int, count: Int, mode: KernelRandomDevice.Mode, crngReadyBefore: Bool) -> KernelCredit {
        if mode == .write { return .mixed(.writeMode) }
        let bits = min(max(0, requested), 8 * max(0, count))
        if bits == 0 { return .mixed(.noCreditAsked) }
        if crngReadyBefore { return .mixed(.crngReady) }
        return .credited(bits: bits)
    }
}

extension KernelCredit.MixedReason {
    /// The reason as words for a log line.
    public var text: String {
        switch self {
        case .noCreditAsked: return "no credit was asked for"
        case .crngReady: return "the kernel's CRNG was already ready, and the kernel ignores credit once it is"
        case .writeMode: return "written to /dev/urandom without CAP_SYS_ADMIN, which never credits"
        }
    }
}

/// The kernel's input pool through /dev/urandom: `ioctl(RNDADDENTROPY)` with a credit when the
/// process has CAP_SYS_ADMIN, otherwise `write()`, which mixes without credit and needs no
/// privilege.
///
/// The mode is probed once, at `init`, with a 0-byte RNDADDENTROPY of credit 0, which changes
/// nothing: 0 means ioctl mode, EPERM means write mode.
public final class KernelRandomDevice: KernelInput {
    /// How bytes reach the kernel.
    public enum Mode: String, Sendable {
        /// `ioctl(RNDADDENTROPY)`: mixed and credited (CAP_SYS_ADMIN).
        case ioctl
        /// `write()` to /dev/urandom: mixed, never credited (any user).
        case write
    }

    /// The device opened (read-only for the ioctl, write-only in write mode).
    public static let path = "/dev/urandom"
    /// The most bytes one RNDADDENTROPY call carries.
    public static let chunkSize = 512

    public let mode: Mode
    private var fd: Int32

    /// Opens /dev/urandom and probes the mode. Throws a configuration error when the device
    /// cannot be opened, or the probe fails with anything but EPERM.
    public init() throws(TunnelError) {
        let readFD = open(Self.path, O_RDONLY | O_CLOEXEC)
        guard readFD >= 0 else { throw Self.openError(Glibc.errno) }
        let probe = csystem_add_entropy(readFD, nil, 0, 0)
        if probe == 0 {
            mode = .ioctl
            fd = readFD
            return
        }
        Glibc.close(readFD)
        guard probe == -EPERM else {
            let err = Errno(rawValue: -probe)
            throw TunnelError(.configuration,
                              "ioctl(RNDADDENTROPY) on \(Self.path) failed: \(err); this kernel or container does not " +
                              "accept entropy from user space: run on the host, not in a restricted sandbox", errno: err)
        }
        let writeFD = open(Self.path, O_WRONLY | O_CLOEXEC)
        guard writeFD >= 0 else { throw Self.openError(Glibc.errno) }
        mode = .write
        fd = writeFD
    }

    private static func openError(_ code: Int32) -> TunnelError {
        let err = Errno(rawValue: code)
        return TunnelError(.configuration,
                           "cannot open \(path): \(err); the service needs it (DeviceAllow=\(path) rw in the unit)", errno: err)
    }

    /// Closes the device; further calls fail with EBADF. Also done by `deinit`.
    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }

    /// Mixes `bytes` into the input pool, in RNDADDENTROPY calls (`csystem_add_entropy`) of at
    /// most 512 bytes, and returns what the kernel credited. The credit asked for (never more
    /// than 8 bits per byte) is spread over the calls in proportion and passed to the kernel,
    /// which counts it only while its CRNG is not ready; so each call's share is reported as
    /// credited only when `getrandom(GRND_NONBLOCK)` says the CRNG is not ready just before it
    /// (`KernelCredit.decide`), else as mixed with 0 bits. In write mode the bytes are written
    /// and nothing is credited.
    @discardableResult
    public func addEntropy(_ bytes: UnsafeRawBufferPointer, creditBits: Int) throws(TunnelError) -> KernelCredit {
        guard creditBits >= 0 else {
            throw TunnelError(.invalidArgument, "a credit of \(creditBits) bits: give 0 or more")
        }
        switch mode {
        case .write:
            var offset = 0
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    let err = Errno(rawValue: Glibc.errno)
                    throw TunnelError(.system, "write to \(Self.path) failed: \(err)", errno: err)
                }
                offset += n
            }
            return .mixed(.writeMode)
        case .ioctl:
            var remaining = min(creditBits, 8 * bytes.count)
            var credited = 0
            var lastMixed = KernelCredit.MixedReason.noCreditAsked
            var offset = 0
            while offset < bytes.count {
                let length = min(Self.chunkSize, bytes.count - offset)
                let asked = min(remaining, 8 * length)
                let decision = KernelCredit.decide(requested: asked, count: length, mode: .ioctl,
                                                   crngReadyBefore: asked > 0 && Self.crngReady())
                let result = csystem_add_entropy(fd, bytes.baseAddress! + offset, Int32(length), Int32(asked))
                if result != 0 {
                    let err = Errno(rawValue: -result)
                    throw TunnelError(.system, "ioctl(RNDADDENTROPY) on \(Self.path) failed: \(err)", errno: err)
                }
                if case .mixed(let reason) = decision, asked > 0 { lastMixed = reason }
                credited += decision.bits
                remaining -= asked
                offset += length
            }
            return credited > 0 ? .credited(bits: credited) : .mixed(lastMixed)
        }
    }

    /// Asks the kernel to reseed its CRNG from the input pool now (`ioctl(RNDRESEEDCRNG)`,
    /// `csystem_reseed_crng`). Throws with the errno: ENODATA before the CRNG is ready, EPERM
    /// without CAP_SYS_ADMIN (always in write mode).
    public func reseed() throws(TunnelError) {
        guard mode == .ioctl else {
            throw TunnelError(.system, "ioctl(RNDRESEEDCRNG) needs CAP_SYS_ADMIN, which this process lacks", errno: .notPermitted)
        }
        let result = csystem_reseed_crng(fd)
        if result != 0 {
            let err = Errno(rawValue: -result)
            throw TunnelError(.system, "ioctl(RNDRESEEDCRNG) on \(Self.path) failed: \(err)", errno: err)
        }
    }

    /// Whether the kernel's CRNG is ready: `getrandom(1 byte, GRND_NONBLOCK)` succeeds
    /// (EAGAIN: not yet). The readiness test SeedRNG and systemd-random-seed use.
    public static func crngReady() -> Bool {
        var byte: UInt8 = 0
        return csystem_getrandom(&byte, 1, 1 /* GRND_NONBLOCK */) == 1
    }

    /// `count` bytes from `getrandom`: from the ready CRNG, or, while it is not ready yet, with
    /// GRND_INSECURE (as SeedRNG does: never blocks at boot; such bytes must not be credited).
    public static func randomBytes(_ count: Int) throws(TunnelError) -> [UInt8] {
        let flags: UInt32 = crngReady() ? 0 : 4 /* GRND_INSECURE */
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = bytes.withUnsafeMutableBytes { csystem_getrandom($0.baseAddress! + filled, UInt(count - filled), flags) }
            if n < 0 {
                let err = Errno(rawValue: Int32(-n))
                throw TunnelError(.system, "getrandom failed: \(err)", errno: err)
            }
            filled += n
        }
        return bytes
    }
}
