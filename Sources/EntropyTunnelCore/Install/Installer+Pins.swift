import Logging

/// The host-key pins of `install`: every host's key is decided (fetched, compared, confirmed)
/// before the first file is written, so a host that cannot be confirmed leaves nothing behind.
extension Installer {
    /// One host's pin, as decided by `planPins`.
    struct PlannedPin: Sendable {
        var spec: HostSpec
        /// The key to pin; nil when the host is pinned already and nothing asks to change that.
        var key: PublicKey?
        /// For the report: `[host]:port ssh-ed25519 SHA256:...` or `... already pinned`.
        var detail: String
    }

    /// What the i-th `--host` was given: its `--fingerprint` and its `--host-key` (the i-th of each).
    package struct HostTrust: Sendable, Equatable {
        package var fingerprint: String?
        package var hostKey: String?

        package init(fingerprint: String? = nil, hostKey: String? = nil) {
            self.fingerprint = fingerprint
            self.hostKey = hostKey
        }
    }

    /// The i-th `--fingerprint` and `--host-key` for the i-th host, in order; more of either than
    /// hosts is an error (a fingerprint meant for a host that is not there would be silently lost).
    package static func trustPerHost(hosts: Int, fingerprints: [String], hostKeys: [String]) throws(TunnelError) -> [HostTrust] {
        for (count, option) in [(fingerprints.count, "--fingerprint"), (hostKeys.count, "--host-key")] where count > hosts {
            throw TunnelError(.invalidArgument,
                              "\(count) \(option) for \(hosts) --host: give at most one \(option) per --host, in the same order " +
                              "(the first for the first --host, and so on); nothing was written")
        }
        return (0..<hosts).map { i in
            HostTrust(fingerprint: i < fingerprints.count ? fingerprints[i] : nil, hostKey: i < hostKeys.count ? hostKeys[i] : nil)
        }
    }

    /// Decides the pin of every host, in order, and writes nothing:
    /// - its `--host-key` (which must have its `--fingerprint`, when both are given);
    /// - else, with `--fingerprint`, the key among those the host offers that has it;
    /// - else an existing pin in `existingKnownHosts` stays;
    /// - else the key the host shows, when `confirm` says yes (`--yes`, or the terminal).
    /// Throws at the first host that cannot be pinned, naming it.
    func planPins(
        _ specs: [HostSpec], existingKnownHosts: String?, logger: Logger,
        show: (PublicKey, HostSpec) -> Void, confirm: (PublicKey, HostSpec) async -> Bool
    ) async throws(TunnelError) -> [PlannedPin] {
        let trust = try Self.trustPerHost(hosts: specs.count, fingerprints: fingerprints, hostKeys: hostKeys)
        // Every --host-key is parsed and matched first: no connection is made for a mistake on the command line.
        var given: [PublicKey?] = []
        for (spec, t) in zip(specs, trust) {
            guard let text = t.hostKey else { given.append(nil); continue }
            let key = try PublicKey(parsing: text)
            if let fingerprint = t.fingerprint, HostKeyTrust.normalizeFingerprint(fingerprint) != key.fingerprint {
                throw TunnelError(.hostKeyMismatch,
                                  "--host-key for \(spec) has fingerprint \(key.fingerprint), not \(HostKeyTrust.normalizeFingerprint(fingerprint)) " +
                                  "as its --fingerprint says; nothing was written. Check both on the host with " +
                                  "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`")
            }
            given.append(key)
        }
        var pins: [PlannedPin] = []
        for (index, spec) in specs.enumerated() {
            if let key = given[index] {
                pins.append(PlannedPin(spec: spec, key: key, detail: "\(spec.knownHostsName) \(key.type.rawValue) \(key.fingerprint)"))
                continue
            }
            let fingerprint = trust[index].fingerprint
            if fingerprint == nil, let existingKnownHosts, KnownHostsFile.hasEntry(existingKnownHosts, for: spec) {
                pins.append(PlannedPin(spec: spec, key: nil, detail: "\(spec.knownHostsName) already pinned"))
                continue
            }
            let key: PublicKey
            do throws(TunnelError) {
                key = try await HostKeyTrust.resolve(host: spec, fingerprint: fingerprint, logger: logger,
                                                     show: { show($0, spec) }, confirm: { await confirm($0, spec) })
            } catch {
                let others = specs.count > 1 ? " (host \(index + 1) of \(specs.count); give one --fingerprint per --host, in order)" : ""
                throw TunnelError(error.code, error.message.replacing("nothing was pinned", with: "nothing was written") + others,
                                  errno: error.errno)
            }
            pins.append(PlannedPin(spec: spec, key: key, detail: "\(spec.knownHostsName) \(key.type.rawValue) \(key.fingerprint)"))
        }
        return pins
    }

    /// Writes the planned pins into the known_hosts file at `file` in one write (other lines
    /// stay); returns each pin with what it changed, and whether the file existed before.
    func writePins(_ pins: [PlannedPin], to file: String) throws(TunnelError) -> (changes: [(PlannedPin, FileSystem.Change)], existed: Bool, change: FileSystem.Change) {
        let existing = try FileSystem.readIfExists(file)
        var text = existing ?? ""
        var changes: [(PlannedPin, FileSystem.Change)] = []
        for pin in pins {
            guard let key = pin.key else {
                changes.append((pin, .unchanged))
                continue
            }
            let merged = KnownHostsFile.merged(text, host: pin.spec, key: key)
            changes.append((pin, merged == text ? .unchanged : (existing == nil && text.isEmpty ? .created : .updated)))
            text = merged
        }
        let change = pins.contains { $0.key != nil } ? try FileSystem.writeIfChanged(file, text, mode: 0o644) : .unchanged
        return (changes, existing != nil, change)
    }
}
