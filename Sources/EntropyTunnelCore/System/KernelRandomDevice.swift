import CSystemShims
import Glibc
import SystemPackage

/// The kernel's RNG input, /dev/urandom, as the kernel sink and the seed use it.
///
/// Opened read-only: `RNDADDENTROPY` and `RNDRESEEDCRNG` work on any descriptor of the device
/// and need CAP_SYS_ADMIN. Without it the device is opened for writing too: `write()` mixes the
/// bytes in without credit and without a reseed (write mode). The mode is probed once, with a
/// 0-byte `RNDADDENTROPY` crediting 0 bits, which changes nothing.
public final class KernelRandomDevice {
    public enum Mode: String, Sendable {
        /// `ioctl(RNDADDENTROPY)` (credit possible) and `ioctl(RNDRESEEDCRNG)`.
        case ioctl
        /// `write()`: mixes only; no credit, no reseed (no CAP_SYS_ADMIN).
        case write
    }

    public let path: String
    public let mode: Mode
    private var readFD: Int32
    private var writeFD: Int32 = -1

    /// Largest `RNDADDENTROPY` this type makes in one call.
    public static let maximumCall = 4096

    public init(path: String = "/dev/urandom") throws(TunnelError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let e = Errno(rawValue: errno)
            throw TunnelError(.configuration, "cannot open \(path): \(e) (the kernel sink needs the kernel's random device)", errno: e)
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFCHR else {
            Glibc.close(fd)
            throw TunnelError(.configuration, "\(path) is not a character device; the kernel sink needs the kernel's random device")
        }
        readFD = fd
        let probe = csystem_add_entropy(fd, nil, 0, 0)
        switch probe {
        case 0:
            mode = .ioctl
        case -EPERM:
            let w = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
            guard w >= 0 else {
                let e = Errno(rawValue: errno)
                Glibc.close(fd)
                throw TunnelError(.configuration,
                                  "cannot add to the kernel's RNG: RNDADDENTROPY needs CAP_SYS_ADMIN and \(path) " +
                                  "cannot be opened for writing (\(e)); run as root or with CAP_SYS_ADMIN", errno: e)
            }
            writeFD = w
            mode = .write
        default:
            Glibc.close(fd)
            let e = Errno(rawValue: -probe)
            throw TunnelError(.configuration, "\(path) does not accept RNDADDENTROPY (\(e)); is it the kernel's random device?", errno: e)
        }
    }

    deinit { close() }

    /// Closes the descriptors; idempotent.
    public func close() {
        if readFD >= 0 { Glibc.close(readFD); readFD = -1 }
        if writeFD >= 0 { Glibc.close(writeFD); writeFD = -1 }
    }

    /// Mixes `bytes` (at most `maximumCall`) into the input pool, crediting `bits` in ioctl mode
    /// (write mode never credits). Returns 0 or the errno of the failed call.
    public func add(_ bytes: UnsafeRawBufferPointer, creditBits bits: Int) -> Int32 {
        precondition(bytes.count <= Self.maximumCall)
        switch mode {
        case .ioctl:
            return -csystem_add_entropy(readFD, bytes.baseAddress, Int32(bytes.count), Int32(clamping: max(0, bits)))
        case .write:
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(writeFD, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return 0
        }
    }

    /// `RNDRESEEDCRNG`: the CRNG takes a new key from the pool now. Returns 0 or the errno
    /// (EPERM in write mode, ENODATA before the CRNG is ready).
    public func reseed() -> Int32 {
        guard mode == .ioctl else { return EPERM }
        return -csystem_reseed_crng(readFD)
    }

    /// Whether the kernel's CRNG is ready: `getrandom(1 byte, GRND_NONBLOCK)` does not fail with
    /// EAGAIN. Never `entropy_avail`, never poll for POLLOUT (FIELD-NOTES).
    public static func crngReady() -> Bool { csystem_crng_ready() == 1 }
}
