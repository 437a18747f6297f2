import CLibSSH2
import Logging

/// Moves the remote command's stdout into a sink, with end-to-end backpressure and, when
/// enabled, SP 800-90B health tests that no failing byte gets past.
///
/// Runs on its own thread and blocks only in `poll()`. The rule that makes backpressure work:
/// the channel is read only when the sink has room for what is read, because every libssh2 read
/// call re-opens the SSH window. While the sink is full the pump waits for the sink, and lets
/// libssh2 process incoming packets (keepalive replies) without re-opening the window; the host
/// fills the window, stops sending, and its reader blocks on a full pipe.
///
/// Health tests: bytes are collected into 512-byte windows; a window reaches the sink only
/// after both tests passed on all of it. A failing window is dropped whole.
final class ChannelPump {
    enum End {
        /// The remote command ended (EOF and channel close).
        case remoteExited(SSHChannel.Exit, stderr: String)
        /// `byteLimit` bytes were delivered.
        case limitReached
        /// The waker fired.
        case stopped
        /// `until` passed (time to try a more preferred host).
        case timeUp
    }

    struct Settings {
        /// Largest single read from the channel.
        var readChunk = 16 << 10
        /// Stop after this many bytes (fetch); nil for no limit (run).
        var byteLimit: Int?
        /// Declare the host dead after this long without hearing from it.
        var deadPeerTimeout: Duration
        /// Health tests, or nil for none.
        var health: HealthParameters?
        /// Failing windows in a row that make the host count as failed.
        var healthFailureLimit = 3
        /// Return `.timeUp` at this instant.
        var until: Instant = .distantFuture
    }

    private let channel: SSHChannel
    private let sink: any ByteSink
    private let settings: Settings
    private let waker: Waker
    private let stats: TunnelStats?
    private let logger: Logger
    private var stderr: RemoteStderr
    private var tester: HealthTester?
    private(set) var delivered = 0

    init(channel: SSHChannel, sink: any ByteSink, settings: Settings, waker: Waker,
         stats: TunnelStats?, logger: Logger) {
        self.channel = channel
        self.sink = sink
        self.settings = settings
        self.waker = waker
        self.stats = stats
        self.logger = logger
        self.stderr = RemoteStderr(logger: logger, host: channel.session.endpoint)
        self.tester = settings.health.map { HealthTester(parameters: $0) }
    }

    /// Pumps until the remote ends, the limit is reached, the time is up, or the waker fires;
    /// throws when the connection fails, the host goes silent, the stream keeps failing the
    /// health tests, or the sink fails.
    func run() throws(TunnelError) -> End {
        let session = channel.session
        let windowSize = HealthParameters.windowSize
        // `buffer[0..<verified]` holds bytes ready for the sink, `buffer[verified..<filled]` a
        // window being collected. Without health tests everything read is ready.
        let capacity = settings.readChunk + windowSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        let stderrBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
        defer { stderrBuffer.deallocate() }
        var written = 0, verified = 0, filled = 0
        var lastHeard = Instant.now  // last time anything arrived from the host
        var remoteEOF = false
        var rounds = 0

        while true {
            // While data flows the loop does not poll; look at the waker and the clock now and then.
            rounds += 1
            if rounds & 63 == 0 {
                if waker.isWoken { return .stopped }
                if Instant.now >= settings.until { return .timeUp }
            }

            if written < verified {
                // Never past the limit: health windows are 512 bytes, the limit is any number.
                let end = settings.byteLimit.map { min(verified, written + ($0 - delivered)) } ?? verified
                switch try sink.write(UnsafeRawBufferPointer(rebasing: buffer[written..<end])) {
                case .processed(let n):
                    written += n
                    delivered += n
                    stats?.delivered(n)
                    if let limit = settings.byteLimit, delivered >= limit { return .limitReached }
                case .wouldBlock:
                    break
                }
            }
            if written == verified && written > 0 {
                // Everything ready went out: move the partial window to the front.
                let partial = filled - verified
                if partial > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + verified, byteCount: partial) }
                written = 0; verified = 0; filled = partial
            }

            var socketEvents: Poller.Events?
            var sinkFull = false
            if written < verified {
                sinkFull = true
            } else {
                // Room in the sink for more than what is already waiting here (a partial window).
                var room = min(settings.readChunk, max(0, try sink.writableBytes() - (filled - written)))
                if let limit = settings.byteLimit, tester == nil { room = min(room, limit - delivered) }
                room = min(room, capacity - filled)
                if room == 0 {
                    sinkFull = true
                } else {
                    try drainStderr(stderrBuffer)
                    switch try channel.read(stream: 0, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<filled + room])) {
                    case .bytes(let n):
                        filled += n
                        verified = try checkWindows(buffer, from: verified, to: filled, dropping: &filled)
                        lastHeard = .now
                        continue
                    case .wouldBlock:
                        socketEvents = session.blockedEvents
                    case .endOfStream:
                        try drainStderr(stderrBuffer)
                        stderr.finish()
                        let exit = channel.close(deadline: .now + .seconds(2))
                        return .remoteExited(exit, stderr: stderr.summary)
                    }
                }
            }
            if sinkFull && !remoteEOF {
                // Process keepalive replies and control messages without opening the window.
                remoteEOF = try channel.serviceTransport()
                if !remoteEOF { socketEvents = session.blockedEvents }
            }

            // SSH keepalive (libssh2 sends one when the interval has passed) and dead-peer check.
            var secondsToNext: Int32 = 0
            let rc = libssh2_keepalive_send(session.raw, &secondsToNext)
            if rc < 0 && rc != LIBSSH2_ERROR_EAGAIN { throw session.error(for: rc, "sending a keepalive") }
            let now = Instant.now
            if now >= settings.until { return .timeUp }
            let silentUntil = lastHeard + settings.deadPeerTimeout
            if socketEvents != nil && now >= silentUntil {
                throw TunnelError(.connectionLost,
                                  "connection to \(session.endpoint) lost: the host sent nothing for " +
                                  "\(Int((now - lastHeard).seconds.rounded())) s, not even keepalive replies")
            }
            try sink.revalidate()
            // Wake at least once a second: keepalives, the dead-peer deadline, the sink's check.
            var deadline = min(now + .seconds(1), settings.until)
            if socketEvents != nil { deadline = min(deadline, silentUntil) }

            var poller = Poller()
            let wakerIndex = poller.add(waker.fd, .readable)
            let socketIndex = socketEvents.map { poller.add(session.socket, $0) }
            if sinkFull { poller.add(sink.descriptor, .writable) }
            _ = try poller.wait(until: deadline)
            if poller.events(at: wakerIndex).contains(.readable) { return .stopped }
            if let socketIndex, !poller.events(at: socketIndex).isEmpty { lastHeard = .now }
        }
    }

    /// Runs the health tests over the complete windows in `buffer[from..<to]`; passing windows
    /// stay in place, failing ones are cut out. Returns the end of the verified bytes; `filled`
    /// shrinks by what was dropped.
    private func checkWindows(_ buffer: UnsafeMutableRawBufferPointer, from: Int, to: Int,
                              dropping filled: inout Int) throws(TunnelError) -> Int {
        guard var tester else { return to }
        defer { self.tester = tester }
        let windowSize = HealthParameters.windowSize
        var verified = from
        while filled - verified >= windowSize {
            let window = UnsafeRawBufferPointer(rebasing: buffer[verified..<verified + windowSize])
            let verdict = tester.check(window)
            if verdict.passed {
                verified += windowSize
                continue
            }
            // Drop the window: move what follows it down over it.
            let after = filled - (verified + windowSize)
            if after > 0 {
                buffer.baseAddress!.advanced(by: verified)
                    .copyMemory(from: buffer.baseAddress!.advanced(by: verified + windowSize), byteCount: after)
            }
            filled -= windowSize
            stats?.update { $0.windowsDropped += 1 }
            logger.warning("health test failed, 512 bytes dropped", metadata: [
                "host": "\(channel.session.endpoint)", "test": "\(verdict)",
                "failed_in_a_row": "\(tester.consecutiveFailures)",
            ])
            if tester.consecutiveFailures >= settings.healthFailureLimit {
                throw TunnelError(.healthTestFailed,
                                  "the stream from \(channel.session.endpoint) failed the SP 800-90B health tests in " +
                                  "\(tester.consecutiveFailures) windows in a row (\(verdict)); its RNG looks broken " +
                                  "(stuck, all zeros or repeating). Nothing of it was passed on. Check the host's RNG " +
                                  "and the remote command")
            }
        }
        return verified
    }

    /// Reads whatever stderr the remote has sent (small, bounded reads) and logs it by line.
    private func drainStderr(_ buffer: UnsafeMutableRawBufferPointer) throws(TunnelError) {
        while case .bytes(let n) = try channel.read(stream: 1, into: buffer) {
            stderr.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}
