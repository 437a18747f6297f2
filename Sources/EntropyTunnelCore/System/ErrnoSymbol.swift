#if canImport(Glibc)
import Glibc
#endif

/// The C name of an errno (`EPERM`), for metric labels and JSON keys, where `strerror`'s
/// sentence would be unstable.
public enum ErrnoSymbol {
    private static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", EBADF: "EBADF", EAGAIN: "EAGAIN",
        ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EINVAL: "EINVAL",
        ENOSPC: "ENOSPC", EPIPE: "EPIPE", ENOSYS: "ENOSYS", ENODATA: "ENODATA", ENOTTY: "ENOTTY",
        EOPNOTSUPP: "EOPNOTSUPP", ETIMEDOUT: "ETIMEDOUT", ECONNREFUSED: "ECONNREFUSED",
    ]

    /// `EPERM` for 1; `E123` for a number without a name here.
    public static func name(_ code: Int32) -> String { names[code] ?? "E\(code)" }
}
