import CLibSSH2
import Logging

/// Reads one connection's stream into the reserve: decides serve or plain from the first bytes,
/// asks a `serve` host for what is needed, reads only what the consumer will take, judges whole
/// health windows, reads or drops stderr, sends keepalives, and keeps the data clock
/// (`Liveness`). One `step` at a time; the supply loop decides when to step and when to wait.
///
/// The rule that makes backpressure work: the channel is read only for bytes the consumer will
/// take (`Reserve.readAllowance`), because every libssh2 read call re-opens the SSH window. While
/// nothing is wanted, libssh2 processes incoming packets (keepalive replies, EOF) without
/// re-opening the window; the host fills the window, stops sending, and its reader blocks.
struct StreamReader {
    enum Step {
        /// Bytes arrived: step again at once.
        case progressed
        /// Nothing more now: wait on the socket for these events (nil: nothing to wait for there).
        case wait(Poller.Events?)
        /// The host ended the stream normally (exit status 0) while nothing was asked of it and
        /// nothing was left half-read: `serve` letting an idle session go (--idle-timeout). The
        /// channel is closed; not a failure of the host.
        case endedIdle
    }

    let endpoint: HostSpec
    /// Serve or plain, and what was asked of a serve host.
    private(set) var stream = StreamState()
    private var stderr: RemoteStderr
    private(set) var liveness: Liveness
    /// Bytes of this stream that passed the health tests.
    private(set) var passed = 0
    /// Bytes are wanted (and, from `serve`, asked for): the data clock runs.
    private(set) var outstanding = false
    private var remoteEOF = false
    private var scratch = [UInt8](repeating: 0, count: 1024)
    private let stats: TunnelStats?
    private let logger: Logger

    init(endpoint: HostSpec, liveness: Liveness, stats: TunnelStats?, logger: Logger) {
        self.endpoint = endpoint
        self.liveness = liveness
        self.stats = stats
        self.logger = logger
        stderr = RemoteStderr(logger: logger, host: endpoint)
    }

    /// The serve protocol version the host greeted with; nil for a plain reader (or before its first bytes).
    var serveVersion: Int? {
        if case .serve(let version) = stream.greeting.kind { version } else { nil }
    }

    /// Reads what is wanted now: enough for `need` ready bytes in the reserve. `threshold`: the
    /// smallest shortfall worth a request to `serve`. Throws when the stream ends, floods stderr,
    /// or fails the health tests as a source.
    mutating func step(_ channel: SSHChannel, into reserve: Reserve, need: Int, chunk: Int, threshold: Int,
                       health: HostHealth, failureLimit: Int, now: Instant) throws(TunnelError) -> Step {
        let allowance = reserve.readAllowance(need: need, chunk: chunk)
        guard allowance > 0 else {
            outstanding = false
            liveness.idle(at: now)
            // Process keepalive replies and control messages without opening the window.
            if !remoteEOF { remoteEOF = try channel.serviceTransport() }
            if remoteEOF && nothingAsked(reserve) { return try endedWhileIdle(channel, reserve) }
            return .wait(remoteEOF ? nil : channel.session.blockedEvents)
        }
        // What a serve host that owes nothing says is news (its idle notice), not a problem: a
        // session that then fails carries the lines in its error anyway.
        stderr.level = nothingAsked(reserve) ? .info : .warning
        try drainStderr(channel)
        if stream.greeting.kind == .undecided {
            outstanding = true
            // The first bytes decide serve or plain; few, and read whatever the room.
            let wants = min(stream.greeting.wants, reserve.free)
            let read = scratch.withUnsafeMutableBytes { buffer in
                Result { () throws(TunnelError) in try channel.read(stream: 0, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wants])) }
            }
            switch try read.get() {
            case .bytes(let n):
                liveness.heard(at: now)
                try greet(Array(scratch[0..<n]), reserve, health: health, failureLimit: failureLimit, now: now)
                return .progressed
            case .wouldBlock:
                return .wait(channel.session.blockedEvents)
            case .endOfStream:
                // A plain reader that ended within its first bytes: those bytes were data.
                try greet([], reserve, health: health, failureLimit: failureLimit, now: now, ended: true)
                throw ended(channel, reserve)
            }
        }
        if case .serve = stream.greeting.kind {
            try request(channel, wanted: max(0, need - reserve.ready), arrived: reserve.unjudged, threshold: threshold,
                        unit: health.tester == nil ? 1 : HealthParameters.windowSize)
            outstanding = stream.demand.outstanding > 0 || !stream.outbox.isEmpty
        } else {
            outstanding = true
        }
        if !outstanding { liveness.idle(at: now) }
        switch try channel.read(stream: 0, into: reserve.readSpace(allowance)) {
        case .bytes(let n):
            reserve.appended(n)
            if case .serve = stream.greeting.kind { stream.demand.arrived(n) }
            liveness.received(n, at: now)
            try judge(reserve, arrived: n, health: health, failureLimit: failureLimit)
            return .progressed
        case .wouldBlock:
            return .wait(channel.session.blockedEvents)
        case .endOfStream:
            if nothingAsked(reserve) { return try endedWhileIdle(channel, reserve) }
            throw ended(channel, reserve)
        }
    }

    /// Whether a `serve` host owes nothing: every request answered and read, no request waiting
    /// to be sent, no partial window. A stream that ends then may be an idle session let go.
    private func nothingAsked(_ reserve: Reserve) -> Bool {
        guard case .serve = stream.greeting.kind else { return false }
        return stream.demand.outstanding == 0 && stream.outbox.isEmpty && reserve.unjudged == 0
    }

    /// The stream ended while nothing was asked: with exit status 0 (and no signal) the host let
    /// an idle session go, said at info level (its stderr line too); anything else is the
    /// failure `ended` describes.
    private mutating func endedWhileIdle(_ channel: SSHChannel, _ reserve: Reserve) throws(TunnelError) -> Step {
        stderr.level = .info
        try drainStderr(channel)
        stderr.finish()
        let exit = channel.close(deadline: .now + .seconds(2))
        guard exit.succeeded else {
            throw failure(exit, reserve)
        }
        logger.info("the host ended the idle session", metadata: ["host": "\(endpoint)", "result": "\(exit)", "bytes": "\(passed)"])
        return .endedIdle
    }

    /// Something arrived on the socket while the loop waited.
    mutating func heard(at now: Instant) { liveness.heard(at: now) }

    /// Sends a keepalive when one is due (libssh2 keeps the interval) and asks `Liveness`;
    /// returns when to look again (nil: no clock running). Throws for a dead peer or a stream
    /// that delivered less than a window within the data timeout.
    mutating func keepAlive(_ session: SSHSession, now: Instant, watchingSocket: Bool) throws(TunnelError) -> Instant? {
        var secondsToNext: Int32 = 0
        let rc = libssh2_keepalive_send(session.raw, &secondsToNext)
        if rc < 0 && rc != LIBSSH2_ERROR_EAGAIN { throw session.error(for: rc, "sending a keepalive") }
        switch liveness.verdict(at: now, watchingSocket: watchingSocket, outstanding: outstanding) {
        case .ok:
            return nil
        case .wakeAt(let instant):
            return instant
        case .dead(let silence):
            throw TunnelError(.connectionLost,
                              "connection to \(endpoint) lost: the host sent nothing for " +
                              "\(Int(silence.seconds.rounded())) s, not even keepalive replies")
        case .stalled(let received):
            stderr.finish()
            let seconds = Int(liveness.dataTimeout.seconds.rounded())
            let what = received == 0 ? "delivered no data for \(seconds) s"
                : "delivered only \(received) bytes in \(seconds) s, less than one \(liveness.window)-byte health window"
            throw TunnelError(.stalled,
                              "\(endpoint) \(what) although the connection is alive (keepalives answered); its RNG " +
                              "reader seems stuck or trickling (check the device and the remote command, or raise " +
                              "--data-timeout)\(stderr.summary)")
        }
    }

    /// Takes the stream's first bytes: decides serve or plain, and puts a plain reader's bytes
    /// (or bytes after the magic line) into the reserve as data. `ended`: the stream ended first.
    private mutating func greet(_ bytes: [UInt8], _ reserve: Reserve, health: HostHealth, failureLimit: Int,
                                now: Instant, ended: Bool = false) throws(TunnelError) {
        var greeting = stream.greeting
        greeting.take(bytes)
        if ended { greeting.endOfStream() }
        stream.greeting = greeting
        switch greeting.kind {
        case .undecided:
            return
        case .serve(let version) where version != ServeProtocol.version:
            throw TunnelError(.remoteCommandFailed,
                              "\(endpoint) runs `entropy-tunnel serve` with protocol \(version); this " +
                              "client speaks protocol \(ServeProtocol.version): install the same entropy-tunnel version " +
                              "on both machines")
        case .serve:
            logger.debug("host speaks serve", metadata: ["host": "\(endpoint)"])
        case .plain:
            break
        }
        let data = greeting.data
        stream.greeting.clearData()
        guard !data.isEmpty else { return }
        // At most the free room was read, so all of it fits.
        let kept = Array(data.prefix(reserve.free))
        reserve.append(kept)
        if case .serve = greeting.kind { stream.demand.arrived(data.count) }
        liveness.received(kept.count, at: now)
        try judge(reserve, arrived: kept.count, health: health, failureLimit: failureLimit)
    }

    /// With serve: queues request lines for what is wanted, and sends what the channel accepts now.
    private mutating func request(_ channel: SSHChannel, wanted: Int, arrived: Int, threshold: Int, unit: Int) throws(TunnelError) {
        let sizes = stream.demand.requests(sinkRoom: wanted, buffered: arrived, limitLeft: nil, threshold: threshold, unit: unit)
        for size in sizes { stream.outbox += ServeProtocol.requestLine(size) }
        while !stream.outbox.isEmpty {
            let written = stream.outbox.withUnsafeBytes { bytes in Result { () throws(TunnelError) in try channel.write(bytes) } }
            guard case .processed(let n) = try written.get(), n > 0 else { return }
            stream.outbox.removeFirst(n)
        }
    }

    /// Runs the health tests over the complete windows read: passing windows become ready,
    /// failing ones are dropped. Throws when the host's source counts as broken.
    private mutating func judge(_ reserve: Reserve, arrived: Int, health: HostHealth, failureLimit: Int) throws(TunnelError) {
        guard var tester = health.tester else {
            // No tests: every byte is ready as it arrives.
            passed += arrived
            stats?.update { $0.bytesDelivered &+= UInt64(arrived) }
            return
        }
        // Counted here and added once: one lock per read, not one per window.
        var passedWindows: UInt64 = 0
        defer {
            health.tester = tester
            if passedWindows > 0 {
                let bytes = passedWindows * UInt64(HealthParameters.windowSize)
                stats?.update { $0.windowsPassed += passedWindows; $0.bytesDelivered &+= bytes }
            }
        }
        while let window = reserve.nextWindow {
            let verdict = tester.check(window)
            if verdict.passed {
                reserve.passWindow()
                passedWindows += 1
                passed += HealthParameters.windowSize
                continue
            }
            reserve.dropWindow()
            stats?.update { $0.windowsDropped += 1 }
            logger.warning("health test failed, 512 bytes dropped", metadata: [
                "host": "\(endpoint)", "test": "\(verdict)",
                "failed_in_a_row": "\(tester.consecutiveFailures)",
                "failed_of_last_\(HealthParameters.recentWindows)": "\(tester.recentFailures)",
            ])
            if tester.sourceFailed(consecutiveLimit: failureLimit) {
                let how = tester.consecutiveFailures >= failureLimit
                    ? "\(tester.consecutiveFailures) windows in a row"
                    : "\(tester.recentFailures) of the last \(HealthParameters.recentWindows) windows"
                // The verdict is given and acted on (the host fails over); its next try starts a new count.
                tester.reset()
                throw TunnelError(.healthTestFailed,
                                  "the stream from \(endpoint) failed the SP 800-90B health tests in " +
                                  "\(how) (\(verdict)); its RNG looks broken (stuck, all zeros, repeating or " +
                                  "biased). Nothing of it was passed on. Check the host's RNG and the remote command")
            }
        }
    }

    /// Reads whatever stderr the remote has sent (small, bounded reads) and logs it by line;
    /// throws once the remote has sent more than a reader ever writes (a flood).
    private mutating func drainStderr(_ channel: SSHChannel) throws(TunnelError) {
        while true {
            let read = scratch.withUnsafeMutableBytes { buffer in Result { () throws(TunnelError) in try channel.read(stream: 1, into: buffer) } }
            guard case .bytes(let n) = try read.get() else { return }
            scratch.withUnsafeBytes { stderr.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if stderr.isFlooding {
                stderr.finish()
                throw TunnelError(.remoteCommandFailed,
                                  "the remote command on \(endpoint) flooded its stderr " +
                                  "(more than \(ByteSize.human(UInt64(RemoteStderr.floodLimit))) on this connection); " +
                                  "giving up on this connection\(stderr.summary)")
            }
        }
    }

    /// The remote command ended: its exit status and stderr make the error (the stream is gone).
    private mutating func ended(_ channel: SSHChannel, _ reserve: Reserve) -> TunnelError {
        do throws(TunnelError) {
            try drainStderr(channel)
        } catch {
            return error
        }
        stderr.finish()
        return failure(channel.close(deadline: .now + .seconds(2)), reserve)
    }

    /// The error for a stream that ended with `exit`.
    private func failure(_ exit: SSHChannel.Exit, _ reserve: Reserve) -> TunnelError {
        let received = reserve.unjudged
        let partial = received > 0
            ? "; the last \(received) bytes it sent were less than one \(HealthParameters.windowSize)-byte " +
              "health-test window and were not passed on"
            : ""
        logger.notice("remote command ended", metadata: ["host": "\(endpoint)", "result": "\(exit)", "bytes": "\(passed)"])
        if exit.succeeded && stderr.summary.isEmpty {
            return TunnelError(.remoteCommandFailed,
                               "the remote command on \(endpoint) ended (\(exit)) after \(passed) bytes\(partial); " +
                               "it must stream without end, like `\(ConnectionOptions.defaultRemoteCommand)`")
        }
        return TunnelError(.remoteCommandFailed,
                           "the remote command on \(endpoint) failed (\(exit)) after \(passed) bytes\(partial)\(stderr.summary)")
    }
}
