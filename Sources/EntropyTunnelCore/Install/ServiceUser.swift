#if canImport(Glibc)
import Glibc
#endif

/// The system user the units run as, declared in a sysusers.d file (`install/entropy-tunnel.sysusers`,
/// embedded; a test checks the two are identical) that the .deb ships as
/// `/usr/lib/sysusers.d/entropy-tunnel.conf` and `install` writes to `/etc/sysusers.d/` when the
/// package's copy is not there. systemd-sysusers creates the user from it: at install (with
/// `--root DIR` for a staged image) and, should it be missing, at every boot.
public enum ServiceUser {
    /// The user's name (`User=` of the units).
    public static let name = ServiceUnit.user
    /// The file's name in either sysusers.d directory.
    public static let fileName = "entropy-tunnel.conf"
    /// Where `install` writes it.
    public static let installPath = "/etc/sysusers.d/" + fileName
    /// Where the .deb puts it.
    public static let packagedPath = "/usr/lib/sysusers.d/" + fileName

    /// The sysusers.d file, byte for byte as in `install/entropy-tunnel.sysusers`.
    public static let sysusersText = #"""
# entropy-tunnel: the system user its services run as (see sysusers.d(5)). It owns the client key
# and the seed; no home, no login shell. The .deb ships this file as
# /usr/lib/sysusers.d/entropy-tunnel.conf; `entropy-tunnel install` writes it to /etc/sysusers.d/
# when the package's copy is not there, and both run systemd-sysusers on it (`--root DIR` for a
# staged image), so the user exists before the units start, also on a machine made from an image.
u entropy-tunnel - "entropy-tunnel service" /nonexistent /usr/sbin/nologin

"""#

    /// The user's uid and gid in the passwd file at `passwdPath` (a staged image's
    /// `DIR/etc/passwd`), nil when it is not there. Reads the file itself: NSS would answer for
    /// this machine, not for the image.
    public static func ids(inPasswd passwdPath: String, user: String = name) -> (uid: uid_t, gid: gid_t)? {
        guard let text = try? FileSystem.read(passwdPath, limit: 16 << 20) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4, fields[0] == user, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { continue }
            return (uid, gid)
        }
        return nil
    }
}
