import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The one way entropy-tunnel writes a file, made for root writing where other accounts have a
/// say (a user's home, a node_exporter directory, /tmp): **root never follows a link it did not
/// make**, and never writes through a name someone else could swap.
///
/// - The directory is reached component by component from `/` with `openat(O_PATH|O_NOFOLLOW)`.
///   A symbolic link on the way is followed only when root (or this process's own user) owns it
///   and only they can change the directory holding it (`/var/run -> /run`); any other link is
///   refused. Missing directories are made with `mkdirat` the same way (`mkdir -p` without links).
/// - The directory itself must belong to root, this process's user or one of
///   `Policy.directoryOwners` (the file's intended owner), and be writable by no one else; a
///   sticky world-writable directory (/tmp) only when `Policy.allowSticky`.
/// - The new content goes to a temporary with a random name (getrandom), created with
///   `O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC` relative to the directory's descriptor; owner and mode
///   are set on its descriptor (`fchown`, `fchmod`), the bytes written, `fsync`ed (unless the
///   policy says the file need not survive a crash: /run), then `renameat` puts it in place and
///   the directory is `fsync`ed. The temporary is removed on every failure.
/// - An existing file at the name is read (for `writeIfChanged`) only when it is a regular file
///   with one link, owned by root, this user or the intended owner, opened `O_NOFOLLOW`; a
///   symbolic link or anything that is not a regular file at the name is refused.
///
/// A refusal is a `.configuration` error (exit 78 in the commands) that names the path and the fix.
public enum SafeFile {
    /// The owner (and group) a file or directory is given on its descriptor.
    public struct Owner: Sendable, Equatable {
        public var uid: uid_t
        public var gid: gid_t

        public init(uid: uid_t, gid: gid_t) {
            self.uid = uid
            self.gid = gid
        }
    }

    /// Where a file may be written and how.
    public struct Policy: Sendable {
        /// Accounts besides root and this process's user that may own the file's directory: the
        /// file's intended owner (the account whose `~/.ssh/authorized_keys` it is).
        public var directoryOwners: [uid_t] = []
        /// Whether the directory may be sticky and world-writable (/tmp): for files that may
        /// live there, such as `fetch --output`. Others cannot rename or remove our entries there.
        public var allowSticky = false
        /// fsync the file before the rename and the directory after it (false for /run files,
        /// which a reboot removes anyway).
        public var durable = true
        /// Create missing directories with this mode (nil: the directory must exist).
        public var createDirectories: mode_t? = 0o755
        /// The owner of the file's directory when this write creates it (a home's `.ssh`).
        public var createdOwner: Owner?

        public init(directoryOwners: [uid_t] = [], allowSticky: Bool = false, durable: Bool = true,
                    createDirectories: mode_t? = 0o755, createdOwner: Owner? = nil) {
            self.directoryOwners = directoryOwners
            self.allowSticky = allowSticky
            self.durable = durable
            self.createDirectories = createDirectories
            self.createdOwner = createdOwner
        }

        /// Configuration, keys, units, known_hosts: durable, directories made 0755.
        public static let system = Policy()
        /// State and metrics files: replaced often, not worth an fsync.
        public static let runtime = Policy(durable: false, createDirectories: nil)
        /// Output a user asked for (`fetch --output`): /tmp allowed.
        public static let output = Policy(allowSticky: true, createDirectories: nil)

        /// A file in `account`'s home (authorized_keys): the account may own the directory,
        /// which is created mode 0700 and given to it when missing.
        public static func home(of account: Owner) -> Policy {
            Policy(directoryOwners: [account.uid], createDirectories: 0o700, createdOwner: account)
        }
    }

    /// What `writeIfChanged` did.
    public typealias Change = FileSystem.Change

    /// The largest existing file `writeIfChanged` compares or `read` returns (16 MiB): config,
    /// keys and authorized_keys are far smaller.
    public static let readLimit = 16 << 20

    // MARK: - Writing

    /// Replaces `path` with `content` (mode `mode`, owner `owner` when given) by the rules above.
    public static func write(_ path: String, _ content: some Collection<UInt8>, mode: mode_t, owner: Owner? = nil,
                             policy: Policy = .system) throws(TunnelError) {
        let (directory, name) = try openParent(of: path, policy: policy)
        _ = try existing(name, in: directory, path: path, policy: policy, owner: owner, read: false)
        try replace(name, in: directory, path: path, Array(content), mode: mode, owner: owner, durable: policy.durable)
    }

    /// Writes `content` unless the file already holds exactly that with that mode (and owner):
    /// an identical file is left alone (same inode, same mtime), a differing mode or owner alone
    /// is fixed on the open descriptor.
    @discardableResult
    public static func writeIfChanged(_ path: String, _ content: some Collection<UInt8>, mode: mode_t, owner: Owner? = nil,
                                      policy: Policy = .system) throws(TunnelError) -> Change {
        let bytes = Array(content)
        let (directory, name) = try openParent(of: path, policy: policy)
        guard let old = try existing(name, in: directory, path: path, policy: policy, owner: owner, read: true) else {
            try replace(name, in: directory, path: path, bytes, mode: mode, owner: owner, durable: policy.durable)
            return .created
        }
        defer { if old.fd >= 0 { close(old.fd) } }
        guard old.fd >= 0, old.bytes == bytes else {
            try replace(name, in: directory, path: path, bytes, mode: mode, owner: owner, durable: policy.durable)
            return .updated
        }
        var changed = false
        if let owner, old.stat.st_uid != owner.uid || old.stat.st_gid != owner.gid {
            try wrap(path) { () throws(TunnelError) in _ = try syscallValue("fchown") { fchown(old.fd, owner.uid, owner.gid) } }
            changed = true
        }
        if old.stat.st_mode & 0o7777 != mode {
            try wrap(path) { () throws(TunnelError) in _ = try syscallValue("fchmod") { fchmod(old.fd, mode) } }
            changed = true
        }
        return changed ? .updated : .unchanged
    }

    /// The file at `path` as bytes, nil when it does not exist: a file another account controls,
    /// read only when it is a regular file with one link owned by root or one of `owners`,
    /// opened without following a link, in a directory reached as for a write.
    public static func read(_ path: String, owners: [uid_t], policy: Policy, limit: Int = readLimit) throws(TunnelError) -> [UInt8]? {
        var readPolicy = policy
        readPolicy.createDirectories = nil
        let directory: Directory
        let name: String
        do throws(TunnelError) {
            (directory, name) = try openParent(of: path, policy: readPolicy, verb: "read")
        } catch where error.errno == .noSuchFileOrDirectory {
            return nil
        }
        var readOwners = policy
        readOwners.directoryOwners = owners
        guard let old = try existing(name, in: directory, path: path, policy: readOwners, owner: nil, read: true, limit: limit,
                                     refuseForeign: true, verb: "read") else { return nil }
        close(old.fd)
        return old.bytes
    }

    /// `mkdir -p path` without following a link it did not make; the last directory it creates
    /// gets `owner` (on its descriptor). Returns the directories created, outermost first.
    @discardableResult
    public static func makeDirectories(_ path: String, mode: mode_t, owner: Owner? = nil) throws(TunnelError) -> [String] {
        if path.isEmpty { return [] }
        let walked = try walk(path, create: mode, lastOwner: owner, for: "create \(path)")
        close(walked.fd)
        return walked.created
    }

    /// Removes the file at `path` (a link itself, never where it points); false when it was not there.
    @discardableResult
    public static func remove(_ path: String) throws(TunnelError) -> Bool {
        var policy = Policy.system
        policy.createDirectories = nil
        let directory: Directory
        let name: String
        do throws(TunnelError) {
            (directory, name) = try openParent(of: path, policy: policy, checkDirectory: false)
        } catch where error.errno == .noSuchFileOrDirectory {
            return false
        }
        if unlinkat(directory.fd, name, 0) == 0 { return true }
        if errno == ENOENT { return false }
        let err = Errno(rawValue: errno)
        throw TunnelError(.system, "cannot remove \(path): \(err)", errno: err)
    }

    /// Renames the file `path` to `newName` in the same directory (`renameat` on the checked
    /// directory's descriptor: the entry itself moves, never where a link points), replacing
    /// an entry of that name. Used for a key rotation's `IDENTITY` -> `IDENTITY.old`.
    public static func rename(_ path: String, to newName: String, policy: Policy = .system) throws(TunnelError) {
        precondition(!newName.contains("/") && !newName.isEmpty && newName != "." && newName != "..")
        var policy = policy
        policy.createDirectories = nil
        let (directory, name) = try openParent(of: path, policy: policy, verb: "rename")
        if renameat(directory.fd, name, directory.fd, newName) != 0 {
            let err = Errno(rawValue: errno)
            throw TunnelError(.system, "cannot rename \(path) to \(newName): \(err)", errno: err)
        }
        if policy.durable { fsync(directory.fd) }
    }

    /// Gives the regular file at `path` to `owner` on its descriptor; false when it is already theirs.
    @discardableResult
    public static func changeOwner(_ path: String, to owner: Owner, policy: Policy = .system) throws(TunnelError) -> Bool {
        var policy = policy
        policy.createDirectories = nil
        let (directory, name) = try openParent(of: path, policy: policy)
        let fd = openat(directory.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw openError(path, Errno(rawValue: errno)) }
        defer { close(fd) }
        var st = stat()
        _ = try wrap(path) { () throws(TunnelError) in try syscallValue("fstat") { fstat(fd, &st) } }
        guard st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 1 else {
            throw TunnelError(.configuration, "refusing to change the owner of \(path): not a regular file with one link; remove it")
        }
        if st.st_uid == owner.uid && st.st_gid == owner.gid { return false }
        try wrap(path) { () throws(TunnelError) in _ = try syscallValue("fchown") { fchown(fd, owner.uid, owner.gid) } }
        // chown clears set-id bits; the permission bits stay.
        return true
    }

    /// A new private directory (mode 0700, random name, `mkdtemp`) under $TMPDIR or /tmp, for a
    /// tool that writes files by name (ssh-keygen); `body` gets its path, and it is removed
    /// with everything in it afterwards.
    public static func withPrivateDirectory<T>(_ body: (String) async throws(TunnelError) -> T) async throws(TunnelError) -> T {
        let path = try makePrivateDirectory()
        defer { removePrivateDirectory(path) }
        return try await body(path)
    }

    /// Makes a private directory as `withPrivateDirectory` does; `removePrivateDirectory` removes it.
    public static func makePrivateDirectory() throws(TunnelError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        var template = Array((base + "/entropy-tunnel.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            let err = Errno(rawValue: errno)
            throw TunnelError(.system, "cannot create a private directory in \(base): \(err)", errno: err)
        }
        return String(cString: made)
    }

    /// Removes a directory `makePrivateDirectory` made, and the plain files in it.
    public static func removePrivateDirectory(_ path: String) {
        removeTree(path)
    }

    /// Removes a directory this process made and the plain files in it.
    private static func removeTree(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0, let dir = fdopendir(fd) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { unlinkat(fd, name, 0) }
            }
            closedir(dir)
        } else if fd >= 0 {
            close(fd)
        }
        rmdir(path)
    }

    // MARK: - The directory

    /// A directory reached and checked as above; its descriptor is `O_PATH`.
    public final class Directory {
        public let path: String
        public let fd: Int32
        private let owned: Bool

        init(path: String, fd: Int32) {
            self.path = path
            self.fd = fd
            owned = true
        }

        /// A directory another part already opened and checked (its own rules, e.g. the seed's
        /// state directory); not closed here.
        init(borrowing fd: Int32, path: String) {
            self.path = path
            self.fd = fd
            owned = false
        }

        deinit { if owned { close(fd) } }
    }

    /// The parent of `path`, reached and checked, and the file's name in it.
    static func openParent(of path: String, policy: Policy, checkDirectory: Bool = true,
                           verb: String = "write") throws(TunnelError) -> (Directory, String) {
        guard let name = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init),
              name != ".", name != "..", !path.hasSuffix("/") else {
            throw TunnelError(.invalidArgument, "\(path) does not name a file")
        }
        let parent = FileSystem.parent(of: path)
        let walked = try walk(parent.isEmpty ? "." : parent, create: policy.createDirectories, lastOwner: policy.createdOwner,
                              for: "\(verb) \(path)")
        let directory = Directory(path: parent.isEmpty ? "." : parent, fd: walked.fd)
        if checkDirectory { try check(directory, policy: policy, for: path, verb: verb) }
        return (directory, name)
    }

    /// Refuses a directory that anyone but root, this user and the policy's owners could change.
    /// One exception, for a process that is not root: a directory its own group may write (and
    /// others may not), as node_exporter's textfile directory is after the README's grant to the
    /// service's group. Whoever could swap the file there is in the writer's group and gains
    /// nothing a write by this unprivileged process could give; the file itself is still made
    /// with O_EXCL|O_NOFOLLOW and renamed into place. Root is never given this exception.
    private static func check(_ directory: Directory, policy: Policy, for path: String, verb: String) throws(TunnelError) {
        var st = stat()
        _ = try wrap(path) { () throws(TunnelError) in try syscallValue("fstat") { fstat(directory.fd, &st) } }
        let owners = Set([0, geteuid()] + policy.directoryOwners)
        let mode = st.st_mode & 0o7777
        let modeText = "0" + String(mode, radix: 8)
        if !owners.contains(st.st_uid) {
            throw TunnelError(.configuration,
                              "refusing to \(verb) \(path): its directory \(directory.path) belongs to uid \(st.st_uid) (mode \(modeText)), " +
                              "who could swap the file for a link to a file of root's; use a directory owned by root" +
                              (geteuid() == 0 ? "" : " or uid \(geteuid())") + " and writable by no one else, or another path")
        }
        let ownGroupOnly = mode & 0o002 == 0 && geteuid() != 0 && st.st_gid == getegid()
        if mode & 0o022 != 0 && !(policy.allowSticky && mode & 0o1000 != 0) && !ownGroupOnly {
            throw TunnelError(.configuration,
                              "refusing to \(verb) \(path): its directory \(directory.path) is writable by " +
                              (mode & 0o002 != 0 ? "every user" : "its group") + " (mode \(modeText)), so another user could swap the " +
                              "file for a link; fix with `chmod go-w \(ShellQuote.quote(directory.path))`, or use another directory")
        }
    }

    /// The descriptor of `path` reached without following any link root did not make, creating
    /// missing directories with `create` when given; `lastOwner` for the last one created.
    private static func walk(_ path: String, create: mode_t?, lastOwner: Owner?,
                             for target: String) throws(TunnelError) -> (fd: Int32, created: [String]) {
        var pending = Array(path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
        let absolute = path.hasPrefix("/")
        var fd = open(absolute ? "/" : ".", openPath | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw openError(absolute ? "/" : ".", Errno(rawValue: errno)) }
        var shown = absolute ? "" : "."
        var created: [String] = []
        var links = 0
        var ok = false
        defer { if !ok { close(fd) } }
        while let name = pending.popLast() {
            if name == "." { continue }
            let here = shown + "/" + name
            var st = stat()
            if fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
                let err = Errno(rawValue: errno)
                guard err == .noSuchFileOrDirectory, let create else { throw openError(here, err) }
                if mkdirat(fd, name, create) == 0 {
                    created.append(here)
                } else if errno != EEXIST {
                    let failure = Errno(rawValue: errno)
                    throw TunnelError(.system, "cannot create directory \(here): \(failure)", errno: failure)
                }
                pending.append(name)  // open it like any other
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                try trustLink(st, in: fd, shown: here, for: target)
                links += 1
                guard links <= 40 else { throw openError(here, .tooManySymbolicLinkLevels) }
                let destination = try readLink(fd, name, shown: here)
                if destination.hasPrefix("/") {
                    let root = open("/", openPath | O_DIRECTORY | O_CLOEXEC)
                    guard root >= 0 else { throw openError("/", Errno(rawValue: errno)) }
                    close(fd)
                    fd = root
                    shown = ""
                }
                pending.append(contentsOf: destination.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
            case S_IFDIR:
                let next = openat(fd, name, openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard next >= 0 else {
                    let err = Errno(rawValue: errno)
                    throw err == .tooManySymbolicLinkLevels || err == .notDirectory
                        ? TunnelError(.configuration, "refusing to \(target): \(here) changed while it was opened", errno: err)
                        : openError(here, err)
                }
                var opened = stat()
                fstat(next, &opened)
                guard opened.st_dev == st.st_dev, opened.st_ino == st.st_ino else {
                    close(next)
                    throw TunnelError(.configuration, "refusing to \(target): \(here) changed while it was opened")
                }
                if let lastOwner, pending.isEmpty, created.last == here {
                    try giveNewDirectory(name, in: fd, to: lastOwner, shown: here)
                }
                close(fd)
                fd = next
                shown = here
            default:
                throw TunnelError(.configuration, "cannot use \(here) (for \(target)): it is not a directory", errno: .notDirectory)
            }
        }
        ok = true
        return (fd, created)
    }

    /// A link on the way is followed only when root or this user made it and only they can
    /// replace it: the directory holding it is theirs and not writable by others, or sticky.
    private static func trustLink(_ link: stat, in directory: Int32, shown: String, for target: String) throws(TunnelError) {
        let trusted: Set<uid_t> = [0, geteuid()]
        var dir = stat()
        fstat(directory, &dir)
        let othersWrite = dir.st_mode & 0o022 != 0
        let sticky = dir.st_mode & 0o1000 != 0
        guard trusted.contains(link.st_uid) else {
            throw TunnelError(.configuration,
                              "refusing to \(target): \(shown) is a symbolic link made by uid \(link.st_uid); root follows only " +
                              "links root made. Remove the link, or give the path it points to")
        }
        guard trusted.contains(dir.st_uid), !othersWrite || sticky else {
            throw TunnelError(.configuration,
                              "refusing to \(target): \(shown) is a symbolic link in a directory other users can change; " +
                              "give the path it points to")
        }
    }

    private static func readLink(_ fd: Int32, _ name: String, shown: String) throws(TunnelError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(fd, name, &buffer, buffer.count - 1)
        guard n > 0 else { throw openError(shown, Errno(rawValue: errno)) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Gives a directory this walk just made to `owner`, only if it is still the empty root-owned
    /// directory it made (whoever can write its parent cannot have swapped in another).
    private static func giveNewDirectory(_ name: String, in parent: Int32, to owner: Owner, shown: String) throws(TunnelError) {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw openError(shown, Errno(rawValue: errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_nlink == 2 else {
            throw TunnelError(.configuration, "refusing to give \(shown) to uid \(owner.uid): it changed after it was created")
        }
        try wrap(shown) { () throws(TunnelError) in _ = try syscallValue("fchown") { fchown(fd, owner.uid, owner.gid) } }
    }

    // MARK: - The file

    /// An existing file at the name, opened read-only without following a link.
    struct Existing {
        var fd: Int32
        var stat: stat
        var bytes: [UInt8]
    }

    /// Looks at what is at `name`: nil when nothing; refuses a link, a directory, a FIFO or a
    /// device. With `read`, a regular file of one link owned by root, this user, a directory
    /// owner of the policy or `owner` is opened and read (`fd` -1 and nothing read otherwise,
    /// or a refusal with `refuseForeign`).
    static func existing(_ name: String, in directory: Directory, path: String, policy: Policy, owner: Owner?,
                         read: Bool, limit: Int = readLimit, refuseForeign: Bool = false,
                         verb: String = "write") throws(TunnelError) -> Existing? {
        var st = stat()
        if fstatat(directory.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            let err = Errno(rawValue: errno)
            if err == .noSuchFileOrDirectory { return nil }
            throw openError(path, err)
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            break
        case S_IFLNK:
            throw TunnelError(.configuration,
                              "refusing to \(verb) \(path): it is a symbolic link, and root follows no link it did not make; " +
                              "remove it (`rm \(ShellQuote.quote(path))`) or give the path it points to")
        case S_IFDIR:
            throw TunnelError(.configuration, "cannot write \(path): it is a directory", errno: .isDirectory)
        default:
            throw TunnelError(.configuration, "refusing to \(verb) \(path): it is not a regular file (a FIFO, socket or device); remove it")
        }
        guard read else { return Existing(fd: -1, stat: st, bytes: []) }
        let trusted = Set([0, geteuid()] + policy.directoryOwners + (owner.map { [$0.uid] } ?? []))
        guard trusted.contains(st.st_uid), st.st_nlink == 1 else {
            if refuseForeign {
                throw TunnelError(.configuration,
                                  "refusing to read \(path): it belongs to uid \(st.st_uid) with \(st.st_nlink) links, not to " +
                                  "root or the account it is for with one link (a hard link to another file?); remove it")
            }
            return Existing(fd: -1, stat: st, bytes: [])
        }
        let fd = openat(directory.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = Errno(rawValue: errno)
            if err == .tooManySymbolicLinkLevels {
                throw TunnelError(.configuration, "refusing to \(verb) \(path): it became a symbolic link while it was opened")
            }
            throw openError(path, err)
        }
        var opened = stat()
        fstat(fd, &opened)
        guard opened.st_dev == st.st_dev, opened.st_ino == st.st_ino, opened.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw TunnelError(.configuration, "refusing to \(verb) \(path): it changed while it was opened")
        }
        guard opened.st_size <= limit else {
            close(fd)
            throw TunnelError(.configuration, "\(path) is larger than \(limit >> 20) MiB; not read")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while bytes.count <= limit {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                let err = Errno(rawValue: errno)
                close(fd)
                throw TunnelError(.system, "cannot read \(path): \(err)", errno: err)
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return Existing(fd: fd, stat: opened, bytes: Array(bytes.prefix(limit)))
    }

    /// Writes `content` to a new random temporary in `directory`, then renames it to `name`.
    static func replace(_ name: String, in directory: Directory, path: String, _ content: [UInt8], mode: mode_t,
                        owner: Owner?, durable: Bool) throws(TunnelError) {
        let temporary = try Temporary(name, in: directory, path: path, mode: mode, owner: owner)
        try temporary.write(content)
        try temporary.commit(durable: durable)
    }

    /// A new file being written beside `name`: a random name created `O_EXCL|O_NOFOLLOW` in the
    /// checked directory, owner and mode already set on its descriptor. `commit` renames it into
    /// place; until then, and after `abandon` or a failure, the old file keeps its content.
    public final class Temporary {
        public let fd: Int32
        public let path: String
        private let directory: Directory
        private let name: String
        private let temporaryName: String
        private var pending = true

        /// A temporary for `path` (by `SafeFile`'s rules for the directory and an existing file
        /// there): mode `mode`, or the existing file's mode and owner with `keepExisting`.
        public convenience init(for path: String, mode: mode_t, owner: Owner? = nil, keepExisting: Bool = false,
                                policy: Policy) throws(TunnelError) {
            let (directory, name) = try SafeFile.openParent(of: path, policy: policy)
            var mode = mode
            var owner = owner
            if keepExisting, let old = try SafeFile.existing(name, in: directory, path: path, policy: policy, owner: nil, read: false) {
                mode = old.stat.st_mode & 0o777
                owner = Owner(uid: old.stat.st_uid, gid: old.stat.st_gid)
            }
            try self.init(name, in: directory, path: path, mode: mode, owner: owner)
        }

        init(_ name: String, in directory: Directory, path: String, mode: mode_t, owner: Owner?) throws(TunnelError) {
            self.directory = directory
            self.name = name
            self.path = path
            var temporary = ""
            var fd: Int32 = -1
            for _ in 0..<8 {
                temporary = "." + String(name.prefix(64)) + ".tmp-" + SafeFile.randomSuffix()
                fd = openat(directory.fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if fd >= 0 || errno != EEXIST { break }
            }
            guard fd >= 0 else {
                let err = Errno(rawValue: errno)
                throw TunnelError(.system, "cannot write \(path): cannot create a temporary file in \(directory.path): \(err)", errno: err)
            }
            self.fd = fd
            temporaryName = temporary
            // A failure here releases the object: deinit removes the temporary and closes it.
            try SafeFile.wrap(path) { () throws(TunnelError) in
                if let owner { _ = try syscallValue("fchown") { fchown(fd, owner.uid, owner.gid) } }
                // fchmod after fchown (which clears set-id bits), and exactly: the umask must not narrow it.
                _ = try syscallValue("fchmod") { fchmod(fd, mode) }
            }
        }

        deinit {
            abandon()
            close(fd)
        }

        /// Writes all of `content`.
        public func write(_ content: [UInt8]) throws(TunnelError) {
            do throws(TunnelError) {
                try SafeFile.wrap(path) { () throws(TunnelError) in
                    var written = 0
                    while written < content.count {
                        written += try syscallValue("write") {
                            content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
                        }
                    }
                }
            } catch {
                abandon()
                throw error
            }
        }

        /// fsync (when `durable`), `renameat` onto the name, fsync of the directory (when `durable`).
        public func commit(durable: Bool = true) throws(TunnelError) {
            guard pending else { return }
            do throws(TunnelError) {
                try SafeFile.wrap(path) { () throws(TunnelError) in
                    if durable { _ = try syscallValue("fsync") { fsync(fd) } }
                    _ = try syscallValue("rename") { renameat(directory.fd, temporaryName, directory.fd, name) }
                }
            } catch {
                abandon()
                throw error
            }
            pending = false
            if durable {
                let dir = openat(directory.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if dir >= 0 {
                    _ = fsync(dir)
                    close(dir)
                }
            }
        }

        /// Removes the temporary: the old file keeps what it had.
        public func abandon() {
            guard pending else { return }
            pending = false
            unlinkat(directory.fd, temporaryName, 0)
        }
    }

    /// Refuses the symbolic link at `path` unless root (or this user) made it and only they can
    /// replace it (and any untrusted link on the way to it); true when `path` is such a link,
    /// false when it is not a link.
    public static func isTrustedLink(_ path: String, verb: String = "write") throws(TunnelError) -> Bool {
        var policy = Policy.system
        policy.createDirectories = nil
        let (directory, name) = try openParent(of: path, policy: policy, checkDirectory: false, verb: verb)
        var st = stat()
        guard fstatat(directory.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFLNK else { return false }
        try trustLink(st, in: directory.fd, shown: path, for: "\(verb) \(path)")
        return true
    }

    /// What opening `path` for reading would reach (links followed only when trusted, as for a
    /// write), or nil when nothing is there: for a reader to compare with what it opened.
    public static func inspectForReading(_ path: String) throws(TunnelError) -> stat? {
        do throws(TunnelError) {
            _ = try isTrustedLink(path, verb: "read")
        } catch where error.errno == .noSuchFileOrDirectory {
            return nil
        }
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st
    }

    /// 16 hex digits from getrandom (GRND_INSECURE before the CRNG is ready: a name, not a key).
    static func randomSuffix() -> String {
        let bytes = (try? KernelRandomDevice.randomBytes(8)) ?? (0..<8).map { _ in UInt8.random(in: 0...255) }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    private static func openError(_ path: String, _ err: Errno) -> TunnelError {
        TunnelError(.system, "cannot open \(path): \(err)", errno: err)
    }

    /// Runs `body`, adding `path` to the message of a system error.
    static func wrap<T>(_ path: String, _ body: () throws(TunnelError) -> T) throws(TunnelError) -> T {
        do throws(TunnelError) {
            return try body()
        } catch {
            throw TunnelError(error.code, "cannot write \(path): \(error.message)", errno: error.errno)
        }
    }
}

/// open(2)'s O_PATH (Linux; Glibc exports it only with _GNU_SOURCE): a descriptor that names a
/// directory for the *at calls without opening it for reading.
private let openPath: Int32 = 0o10_000_000
