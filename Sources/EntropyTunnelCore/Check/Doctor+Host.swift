import Logging
#if canImport(Glibc)
import Glibc
#endif

extension Doctor {
    /// The stages of reaching one host, in order; each is one line of `check`.
    package enum HostStage: Int, CaseIterable, Sendable {
        case pin, tcp, hostKey, authentication, stream

        func name(_ options: ConnectionOptions) -> String {
            let host = "host \(options.host)"
            switch self {
            case .pin: return "\(host): key pinned in \(options.knownHosts)"
            case .tcp: return "\(host): TCP connect"
            case .hostKey: return "\(host): host key matches the pin"
            case .authentication: return "\(host): authentication as '\(options.user)'"
            case .stream: return "\(host): remote command sends \(Doctor.sampleBytes) bytes that pass the health tests"
            }
        }
    }

    /// The five stages for one host: pinned, reachable, the right host key, our key accepted,
    /// and 4 KiB of the remote command's output through the health tests (into nothing, by the
    /// same supply loop `run` and `fetch` use). At most twice the connect timeout (TCP, then
    /// SSH) plus the data timeout.
    func checkHost(_ options: ConnectionOptions, health: HealthParameters, publicKey: PublicKey?) async -> [CheckResult] {
        var results: [CheckResult] = []
        func skipRest(after stage: HostStage, _ why: String) {
            for later in HostStage.allCases where later.rawValue > stage.rawValue {
                results.append(CheckResult(later.name(options), .skipped, why))
            }
        }

        // 1. The pin.
        let trust = ShellQuote.command(["entropy-tunnel", "keys", "trust", options.host.description, "--known-hosts", options.knownHosts])
        do throws(TunnelError) {
            let knownHosts = try KnownHosts(path: options.knownHosts)
            let pins = knownHosts.entries.filter { !$0.revoked && $0.applies(to: options.host) }
            guard !pins.isEmpty else {
                let why = knownHosts.fileExists ? "no key for \(options.host.knownHostsName) in \(options.knownHosts)"
                                                : "\(options.knownHosts) does not exist"
                results.append(CheckResult(HostStage.pin.name(options), .fail, why,
                                           fix: "\(trust) (compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host)"))
                skipRest(after: .pin, "not checked: no pinned key")
                return results
            }
            let types = Set(pins.map(\.type.rawValue)).sorted().joined(separator: ", ")
            results.append(CheckResult(HostStage.pin.name(options), .pass, "\(types) (line \(pins.map { String($0.line) }.joined(separator: ", ")))"))
        } catch {
            results.append(CheckResult(HostStage.pin.name(options), .fail, error.message,
                                       fix: "make \(options.knownHosts) readable by this user, or point --known-hosts at another file"))
            skipRest(after: .pin, "not checked: known_hosts is not readable")
            return results
        }

        // 2. TCP, on its own, so that "unreachable" and "SSH refused" are told apart.
        let started = Instant.now
        do throws(TunnelError) {
            let connectTimeout = options.connectTimeout
            let host = options.host
            let fd = try await BlockingThread.run(name: "et-check-tcp") { () throws(TunnelError) -> Int32 in
                try TCPConnection.connect(to: host, deadline: .now + connectTimeout, waker: nil,
                                          keepaliveIdle: .seconds(60), keepaliveCount: 3)
            }
            close(fd)
            results.append(CheckResult(HostStage.tcp.name(options), .pass, "connected in \(Self.milliseconds(since: started)) ms"))
        } catch {
            results.append(CheckResult(HostStage.tcp.name(options), .fail, error.message,
                                       fix: "check that sshd runs on \(options.host) and that a firewall lets this machine reach " +
                                           "port \(options.host.port) (try `nc -vz \(options.host.host) \(options.host.port)`)"))
            skipRest(after: .tcp, "not checked: the host is not reachable")
            return results
        }

        guard let publicKey else {
            skipRest(after: .tcp, "not checked: the private key is not usable")
            return results
        }

        // 3-5. SSH: the host key, authentication, the stream, by the supply loop `run` and `fetch`
        // use (this host once, 4 KiB into nothing); the error says which failed. At most the
        // connect timeout for the SSH set-up and the data timeout for the stream.
        let logger = self.logger
        let outcome: Result<SupplyLoop.Session, TunnelError>
        do throws(TunnelError) {
            outcome = .success(try await BlockingThread.run(name: "et-check-ssh") { () throws(TunnelError) -> SupplyLoop.Session in
                var settings = SupplyLoop.Settings(hosts: [options.host], connection: options, policy: .once)
                settings.health = health
                settings.readChunk = Doctor.sampleBytes
                settings.deadline = .now + options.attemptBound
                let loop = SupplyLoop(settings: settings, consumer: CountingConsumer(total: Doctor.sampleBytes, output: nil),
                                      waker: try Waker(), stats: nil, logger: logger)
                switch try loop.run() {
                case .satisfied:
                    guard let session = loop.lastSession else { throw TunnelError(.system, "no session was recorded") }
                    return session
                case .stopped:
                    throw TunnelError(.stopped, "stopped")
                case .deadlinePassed:
                    let got = loop.lastSession.map { "\($0.passed) bytes" } ?? "nothing"
                    throw TunnelError(loop.lastSession == nil ? .timeout : .stalled,
                                      "\(options.host) did not deliver \(Doctor.sampleBytes) bytes within " +
                                      "\(Int(options.attemptBound.seconds.rounded())) s " +
                                      "(--connect-timeout + --data-timeout) but \(got); its RNG reader is stuck or too slow")
                }
            })
        } catch {
            outcome = .failure(error)
        }
        switch outcome {
        case .success(let session):
            let (fingerprint, delivered, identity, serveVersion) = (session.hostKey, session.passed, session.identity, session.serveVersion)
            results.append(CheckResult(HostStage.hostKey.name(options), .pass, fingerprint))
            if identity == options.identity {
                results.append(CheckResult(HostStage.authentication.name(options), .pass, "key \(publicKey.fingerprint) accepted"))
            } else {
                // A key rotation under way: the service works, with the key it is about to leave.
                results.append(CheckResult(HostStage.authentication.name(options), .warning,
                                           "the host refuses the new key \(publicKey.fingerprint) and accepted the previous one, \(identity) " +
                                           "(a `keys rotate` under way)",
                                           fix: "on \(options.host.host), as root: " +
                                            HostAuthorizer.commandLine(key: publicKey, user: options.user, remoteCommand: options.remoteCommand, from: nil)))
            }
            // serve gives out only what is asked; a plain reader (dd, cat) reads ahead of the client.
            let reader = serveVersion.map { "from `entropy-tunnel serve` (protocol \($0))" }
                ?? "from a plain reader (not `entropy-tunnel serve`: the host reads ahead of what this client uses)"
            results.append(CheckResult(HostStage.stream.name(options), .pass,
                                       "\(delivered) bytes in \(Self.milliseconds(since: started)) ms \(reader)"))
        case .failure(let error):
            let stage = Self.stage(of: error)
            for earlier in HostStage.allCases where earlier.rawValue > HostStage.tcp.rawValue && earlier.rawValue < stage.rawValue {
                results.append(CheckResult(earlier.name(options), .pass, ""))
            }
            results.append(CheckResult(stage.name(options), .fail, error.message,
                                       fix: fix(for: error, at: stage, options: options, publicKey: publicKey, trust: trust)))
            skipRest(after: stage, "not checked: an earlier step failed")
        }
        return results
    }

    /// Which stage an error of the SSH part belongs to.
    package static func stage(of error: TunnelError) -> HostStage {
        switch error.code {
        case .authenticationFailed, .privateKey:
            return .authentication
        case .remoteCommandFailed, .healthTestFailed, .stalled, .connectionLost, .sink:
            return .stream
        default:
            // Connection refused, timeouts, protocol errors and the host key: the handshake.
            return .hostKey
        }
    }

    /// The fix line for a failure of the SSH part.
    func fix(for error: TunnelError, at stage: HostStage, options: ConnectionOptions, publicKey: PublicKey, trust: String) -> String {
        switch error.code {
        case .hostKeyUnknown:
            return CheckResult.quotedCommand(in: error.message) ?? trust
        case .hostKeyMismatch:
            let remove = ShellQuote.command(["ssh-keygen", "-R", options.host.knownHostsName, "-f", options.knownHosts])
            return "investigate first: someone may be intercepting the connection. Only if the host was reinstalled " +
                "(compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` there): \(remove); \(trust)"
        case .authenticationFailed:
            if let authorizeFix { return authorizeFix }
            return "on \(options.host.host), as root: " +
                HostAuthorizer.commandLine(key: publicKey, user: options.user, remoteCommand: options.remoteCommand == ConnectionOptions.defaultRemoteCommand ? nil : options.remoteCommand, from: nil)
        case .healthTestFailed:
            return "check the host's RNG device: its output fails the SP 800-90B health tests (stuck or repeating bytes); " +
                "look at `head -c 64 /dev/hwrng | od -An -tx1` and `dmesg | grep -i rng` on \(options.host.host)"
        case .remoteCommandFailed, .stalled:
            return "run the RNG command by hand on \(options.host.host) as \(options.user) (the command= of this key's line in " +
                "~\(options.user)/.ssh/authorized_keys, else `\(options.remoteCommand)`) and fix what it reports; " +
                "it must stream random bytes without end"
        case .privateKey:
            return CheckResult.quotedCommand(in: error.message) ?? "fix the private key as the message says"
        default:
            return CheckResult.quotedCommand(in: error.message)
                ?? "check that \(options.host) runs OpenSSH's sshd on port \(options.host.port) and that nothing in between drops the connection"
        }
    }

    static func milliseconds(since start: Instant) -> Int64 { (Instant.now - start).nanoseconds / 1_000_000 }
}
