import CSystemShims
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Something bytes can be mixed into with a credit: the kernel's input pool, or a fake in tests.
public protocol KernelInput {
    /// Mixes `bytes` in and credits `creditBits` bits (0: mix only).
    func addEntropy(_ bytes: UnsafeRawBufferPointer, creditBits: Int) throws(TunnelError)
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
    /// most 512 bytes, crediting `creditBits` in total, spread over the chunks in proportion
    /// and never more than 8 bits per byte. In write mode the bytes are written and the credit
    /// is ignored (the kernel gives none).
    public func addEntropy(_ bytes: UnsafeRawBufferPointer, creditBits: Int) throws(TunnelError) {
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
        case .ioctl:
            var remainingCredit = min(creditBits, 8 * bytes.count)
            var offset = 0
            while offset < bytes.count {
                let length = min(Self.chunkSize, bytes.count - offset)
                let credit = min(remainingCredit, 8 * length)
                let result = csystem_add_entropy(fd, bytes.baseAddress! + offset, Int32(length), Int32(credit))
                if result != 0 {
                    let err = Errno(rawValue: -result)
                    throw TunnelError(.system, "ioctl(RNDADDENTROPY) on \(Self.path) failed: \(err)", errno: err)
                }
                remainingCredit -= credit
                offset += length
            }
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
