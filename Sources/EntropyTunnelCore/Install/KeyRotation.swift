import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// `keys rotate`: replaces the client key without a gap in service.
///
/// The current key moves to `IDENTITY.old` (and `IDENTITY.old.pub`), a new key is created at
/// `IDENTITY` with the same owner, and the daemon authenticates with the new key first and, while
/// the host refuses it, with `.old` in the same SSH session (`ConnectionOptions.allowPreviousIdentity`).
/// Once the host accepts the new key the daemon switches to it; `finish` then removes `.old`.
public enum KeyRotation {
    /// Where `rotate` keeps the key it replaced.
    public static func previousIdentity(of identity: String) -> String { identity + ".old" }

    /// The keys of one rotation.
    public struct Result: Sendable {
        public var old: PublicKey
        public var new: PublicKey
    }

    /// Moves the key at `identity` to `.old` and creates a new one in its place, owned by the
    /// old key's owner (the service user after `install`). Refuses while a rotation is under way.
    public static func rotate(identity: String, manifestPath: String = InstallManifest.defaultPath) async throws(TunnelError) -> Result {
        let previous = previousIdentity(of: identity)
        if FileSystem.exists(previous) || FileSystem.exists(previous + ".pub") {
            throw TunnelError(.configuration,
                              "\(previous) exists: a rotation is under way; once the service uses the new key " +
                              "(`entropy-tunnel keys list`), end it with `entropy-tunnel keys rotate --finish`, then rotate again")
        }
        guard let old = try await KeyGenerator.checkExistingPair(identity: identity) else {
            throw TunnelError(.privateKey,
                              "there is no key at \(identity) to rotate; create one with " +
                              "`\(ShellQuote.command(["entropy-tunnel", "keys", "generate", "--identity", identity]))`")
        }
        var st = stat()
        guard stat(identity, &st) == 0 else { throw TunnelError(.system, "cannot stat \(identity)", errno: Errno(rawValue: errno)) }
        // In the key's checked directory, by its descriptor (SafeFile.rename): the entries move,
        // no link is followed.
        let name = identity.split(separator: "/").last.map(String.init) ?? identity
        try SafeFile.rename(identity + ".pub", to: name + ".old.pub")
        do throws(TunnelError) {
            try SafeFile.rename(identity, to: name + ".old")
        } catch {
            try? SafeFile.rename(previous + ".pub", to: name + ".pub")
            throw error
        }
        let new: PublicKey
        do throws(TunnelError) {
            new = try await KeyGenerator.ensureKey(identity: identity, comment: old.comment.isEmpty ? KeyGenerator.defaultComment : old.comment,
                                                   owner: SafeFile.Owner(uid: st.st_uid, gid: st.st_gid)).key
        } catch {
            // Put the old key back: the service keeps working as before.
            try? SafeFile.rename(previous, to: name)
            try? SafeFile.rename(previous + ".pub", to: name + ".pub")
            throw error
        }
        try recordInManifest(identity: identity, manifestPath: manifestPath)
        return Result(old: old, new: new)
    }

    /// When `install` created the key (its manifest lists it), records the new pair there, so
    /// that `uninstall --purge` still knows it as install's and removes it.
    static func recordInManifest(identity: String, manifestPath: String) throws(TunnelError) {
        let (manifest, found) = try InstallManifest.load(manifestPath)
        guard found else { return }
        var updated = manifest
        for path in [identity, identity + ".pub"] where manifest.files[path] != nil {
            updated.recordWrite(path, content: try FileSystem.readBytes(path), existedBefore: true)
        }
        if updated != manifest { try FileSystem.writeIfChanged(manifestPath, updated.text, mode: 0o644) }
    }

    /// Removes `.old` and its `.pub`. `inUse` is the key the running service authenticates with
    /// (from its state file), nil when unknown: `.old` still in use is refused.
    public static func finish(identity: String, inUse: String?) throws(TunnelError) -> [String] {
        try finish(identity: identity, inUse: inUse.map { [$0] } ?? [])
    }

    /// Removes `.old` and its `.pub`, unless `.old` is among `inUse`: the keys the running service
    /// authenticates with now or that a host accepted at its last session (from the state file;
    /// on demand no connection is held between fills, so the hosts' last keys are what counts).
    public static func finish(identity: String, inUse: Set<String>) throws(TunnelError) -> [String] {
        let previous = previousIdentity(of: identity)
        if inUse.contains(previous) {
            throw TunnelError(.configuration,
                              "the service still authenticates with \(previous): the host does not accept the new key yet; " +
                              "run the `keys authorize --key` line `keys rotate` printed on the host and wait for the switch " +
                              "(`entropy-tunnel keys list`), then finish")
        }
        var removed: [String] = []
        for path in [previous, previous + ".pub"] where try FileSystem.remove(path) {
            removed.append(path)
        }
        return removed
    }
}
