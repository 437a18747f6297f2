#if canImport(Glibc)
import Glibc
#endif

/// What `keys authorize` changed on the host, as values, so that a failed run can take it back.
extension HostAuthorizer {
    /// One change `run` made.
    enum Change: Sendable {
        /// A user (and its group) that `run` created; `removeHome` when useradd made its home too.
        case createdUser(String, removeHome: Bool)
        /// The login shell of an existing user, and what it was.
        case changedShell(String, from: String)
        /// The /etc/shadow password field of an existing user, and what it was.
        case changedPasswordField(String, from: String)
        /// The home directory (in /etc/passwd) of an existing user, and what it was.
        case changedHome(String, from: String)
        /// A directory `run` created.
        case createdDirectory(String)
        /// A file `run` wrote, with its previous content and mode (nil: it did not exist).
        case wroteFile(String, previous: [UInt8]?, mode: mode_t)
        /// The device whose group and mode `run` changed, and what they were.
        case changedDevice(String, gid: gid_t, mode: mode_t)
    }

    /// Undoes `changes`, newest first, and returns one line per change for the administrator;
    /// a step that fails is reported with what to do by hand, and the rest still run.
    static func undo(_ changes: [Change]) async -> [String] {
        var lines: [String] = []
        var reloadUdev = false
        for change in changes.reversed() {
            switch change {
            case .createdUser(let user, let removeHome):
                let result = try? await ExternalCommand.run("userdel", removeHome ? ["--remove", user] : [user])
                lines.append(result?.succeeded == true ? "removed user \(user), which this run created"
                                                       : "could not remove user \(user); run `userdel \(ShellQuote.quote(user))`")
            case .changedShell(let user, let shell):
                let result = try? await ExternalCommand.run("usermod", ["--shell", shell, user])
                lines.append(result?.succeeded == true ? "restored the shell of \(user) to \(shell)"
                                                       : "could not restore the shell of \(user); run " +
                                                         "`usermod --shell \(ShellQuote.quote(shell)) \(ShellQuote.quote(user))`")
            case .changedHome(let user, let home):
                let result = try? await ExternalCommand.run("usermod", ["--home", home, user])
                lines.append(result?.succeeded == true ? "restored the home of \(user) to \(home)"
                                                       : "could not restore the home of \(user); run " +
                                                         "`usermod --home \(ShellQuote.quote(home)) \(ShellQuote.quote(user))`")
            case .changedPasswordField(let user, let field):
                let result = try? await ExternalCommand.run("usermod", ["-p", field, user])
                // The field may hold a password hash: it is never printed.
                lines.append(result?.succeeded == true ? "restored the password field of \(user)"
                                                       : "could not restore the password field of \(user); check /etc/shadow")
            case .createdDirectory(let path):
                if (try? FileSystem.removeDirectoryIfEmpty(path)) == .removed { lines.append("removed \(path)") }
            case .wroteFile(let path, let previous, let mode):
                reloadUdev = true
                if let previous {
                    let restored = (try? FileSystem.writeIfChanged(path, bytes: previous, mode: mode)) != nil
                    lines.append(restored ? "restored \(path)" : "could not restore \(path)")
                } else {
                    let removed = (try? FileSystem.remove(path)) != nil
                    lines.append(removed ? "removed \(path)" : "could not remove \(path); run `rm \(ShellQuote.quote(path))`")
                }
            case .changedDevice(let path, let gid, let mode):
                let restored = chown(path, uid_t.max, gid) == 0 && chmod(path, mode) == 0
                lines.append(restored ? "restored the group and mode (\(String(mode, radix: 8))) of \(path)"
                                      : "could not restore the group and mode of \(path)")
            }
        }
        if reloadUdev, ExternalCommand.locate("udevadm") != nil {
            _ = try? await ExternalCommand.run("udevadm", ["control", "--reload-rules"])
        }
        return lines
    }
}
