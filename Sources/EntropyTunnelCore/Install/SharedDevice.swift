#if canImport(Glibc)
import Glibc
#endif

/// The devices whose permissions `keys authorize` must never change: the kernel's CSPRNG and
/// the other character devices every process shares. Compared by device number after
/// resolving symlinks, so another name or a copy made with `mknod` is refused too.
public enum SharedDevice {
    /// Named devices refused by their number as this machine has them (also in another major).
    public static let named = ["/dev/random", "/dev/urandom", "/dev/zero", "/dev/null", "/dev/full", "/dev/mem",
                               "/dev/kmem", "/dev/port", "/dev/kmsg", "/dev/tty", "/dev/console", "/dev/ptmx"]

    /// Whole majors refused: 1 (mem: null, zero, random, urandom, kmsg...), 4 and 5 (terminals,
    /// console, ptmx), 7 (virtual console memory), 136-143 (pseudo-terminals).
    public static let majors: Set<UInt32> = Set([1, 4, 5, 7]).union(136...143)

    /// Why `path` must not be given to `keys authorize --device`, or nil when it may.
    public static func refusal(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR else { return nil }
        // glibc's gnu_dev_major/minor are macros Swift cannot call.
        let dev = UInt64(st.st_rdev)
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
        var resolved = path
        if let real = realpath(path, nil) { resolved = String(cString: real); free(real) }
        let same = named.first { name in
            var other = stat()
            return stat(name, &other) == 0 && (other.st_mode & S_IFMT) == S_IFCHR && other.st_rdev == st.st_rdev
        }
        guard same != nil || majors.contains(major) else { return nil }
        let what = same.map { $0 == resolved ? $0 : "\(resolved), the same device as \($0)," } ?? "\(resolved) (device \(major):\(minor))"
        return "\(what) is shared by every process on this host (the kernel's CSPRNG, a null or memory device, " +
            "or a terminal): keys authorize never changes its group or mode. Give the hardware RNG, usually /dev/hwrng " +
            "(`cat /sys/class/misc/hw_random/rng_current`); a host without one is described in docs/setup.md"
    }
}
