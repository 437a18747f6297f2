#if canImport(Glibc)
import Glibc
#endif

/// The record of what `entropy-tunnel install` wrote: every file with the SHA-256 of the content
/// install gave it and whether install created it, the directories and the system user it made.
///
/// A later `install` overwrites a file freely only while it still holds what install wrote (any
/// other content was edited by hand, or was never install's); `uninstall --purge` removes only
/// the files and directories listed here that install created, and only while unchanged.
///
/// The file is plain text, one entry a line, sorted, with no dates, so that a second identical
/// install leaves it byte for byte (and inode for inode) as it was:
///
///     file created 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b /etc/entropy-tunnel/config.toml
///     file existing 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 /etc/entropy-tunnel/known_hosts
///     directory /etc/entropy-tunnel
///     user entropy-tunnel
public struct InstallManifest: Sendable, Equatable {
    /// Where `install` keeps it: a root-owned directory the service user cannot write, because
    /// the manifest decides what `uninstall --purge` deletes as root. (It names the config by
    /// its full path, so a config written elsewhere with `--config` is found too.)
    public static let defaultPath = "/etc/entropy-tunnel/install-manifest"
    /// Where earlier versions kept it. `StateDirectory=entropy-tunnel` now gives that directory to
    /// the service user, who could replace the file there and so make `--purge` delete any file
    /// whose content it can read: it is read only when `defaultPath` is absent, and only while it
    /// is a regular file owned by root and writable by no one else (the service user cannot make
    /// such a file); install moves it to `defaultPath`.
    public static let legacyPath = "/var/lib/entropy-tunnel/install-manifest"

    /// One file install wrote.
    public struct File: Sendable, Equatable {
        /// SHA-256 of the content install wrote last, in lower-case hex.
        public var sha256: String
        /// True when install created the file; false when it existed before install wrote it
        /// (replaced with --force, a pin merged into it, or found already identical).
        public var created: Bool
    }

    /// Files by their path on the system (never below --root).
    public var files: [String: File] = [:]
    /// Directories install created (mkdir), by their path on the system.
    public var directories: Set<String> = []
    /// The system user install created, if any.
    public var user: String?

    public init() {}

    /// The lower-case hex SHA-256 of `bytes`.
    public static func digest(_ bytes: some Sequence<UInt8>) -> String {
        SHA256.hash(bytes).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Whether `path` is listed (or `entry` given) and `content` is exactly what install wrote there.
    public func holdsWhatInstallWrote(_ path: String, content: [UInt8], entry: File? = nil) -> Bool {
        (entry ?? files[path])?.sha256 == Self.digest(content)
    }

    /// Records that install wrote `content` to `path`; `existedBefore` says whether a file was
    /// there before this write. A file install created once stays "created".
    public mutating func recordWrite(_ path: String, content: [UInt8], existedBefore: Bool) {
        let created = !existedBefore || (files[path]?.created ?? false)
        files[path] = File(sha256: Self.digest(content), created: created)
    }

    /// The manifest as its file's text.
    public var text: String {
        var lines = [
            "# Written by `entropy-tunnel install`: what it created, so that `uninstall --purge` removes only that.",
            "# Do not edit: a file whose SHA-256 differs from its line here counts as edited by hand.",
        ]
        for path in files.keys.sorted() {
            let file = files[path]!
            lines.append("file \(file.created ? "created" : "existing") \(file.sha256) \(path)")
        }
        for directory in directories.sorted() { lines.append("directory \(directory)") }
        if let user { lines.append("user \(user)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses a manifest's text; `path` is only used in messages.
    public init(parsing text: String, path: String) throws(TunnelError) {
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true).map(String.init)
            switch fields.first {
            case "file" where fields.count == 4 && ["created", "existing"].contains(fields[1])
                && fields[2].count == 64 && fields[2].allSatisfy(\.isHexDigit) && fields[3].hasPrefix("/"):
                files[fields[3]] = File(sha256: fields[2].lowercased(), created: fields[1] == "created")
            case "directory" where fields.count >= 2 && line.dropFirst(10).hasPrefix("/"):
                directories.insert(String(line.dropFirst(10)))
            case "user" where fields.count == 2:
                user = fields[1]
            default:
                throw TunnelError(.configuration,
                                  "\(path):\(index + 1): not a line `entropy-tunnel install` writes; restore the file, or remove it " +
                                  "(then install treats every existing file as not its own, and uninstall --purge removes nothing)")
            }
        }
    }

    /// The manifest at `path`, or an empty one when there is none.
    public static func load(_ path: String) throws(TunnelError) -> (manifest: InstallManifest, found: Bool) {
        guard let text = try FileSystem.readIfExists(path) else { return (InstallManifest(), false) }
        return (try InstallManifest(parsing: text, path: path), true)
    }

    /// The manifest at `path`, else at `legacy` (see `legacyPath`: only a root-owned file that no
    /// one else can write counts); returns the path it was read from, nil when there was none.
    public static func load(_ path: String, legacy: String) throws(TunnelError) -> (manifest: InstallManifest, foundAt: String?) {
        let current = try load(path)
        if current.found { return (current.manifest, path) }
        var st = stat()
        guard lstat(legacy, &st) == 0 else { return (InstallManifest(), nil) }
        guard (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == 0, st.st_mode & 0o022 == 0 else {
            throw TunnelError(.configuration,
                              "\(legacy) (the install manifest of an earlier version) is not a root-owned file writable only by root: " +
                              "it may have been replaced by another user, so it is not trusted; remove it (`rm \(legacy)`) and rerun " +
                              "(then install treats every existing file as not its own, and uninstall --purge removes nothing)")
        }
        return (try load(legacy).manifest, legacy)
    }
}
