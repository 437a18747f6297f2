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
        /// The remote command ended (EOF and channel close); `received` bytes of an incomplete
        /// health window arrived last and were not passed on.
        case remoteExited(SSHChannel.Exit, stderr: String, received: Int)
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
        /// Declare the host failed after this long without stdout bytes while the sink had room
        /// (a reader that hangs while sshd still answers keepalives).
        var dataTimeout: Duration = .seconds(60)
        /// Health tests, or nil for none.
        var health: HealthParameters?
        /// Failing windows in a row that make the host count as failed.
        var healthFailureLimit = 3
        /// Return `.timeUp` at this instant.
        var until: Instant = .distantFuture
        /// Return `.timeUp` as soon as a new configuration is offered here (a reload).
        var interrupt: ConfigurationReloads?
    }

    private let channel: SSHChannel
    private let sink: any ByteSink
    private let settings: Settings
    private let waker: Waker
    private let stats: TunnelStats?
    private let logger: Logger
    private var stderr: RemoteStderr
    private var tester: HealthTester?
    private var buffer: PumpBuffer
    /// What the stream is (serve or plain) and, with serve, what was asked for: kept by the
    /// connection from one pump to the next.
    private(set) var stream: StreamState
    /// Bytes delivered to the sink by this pump.
    var delivered: Int { buffer.delivered }

    init(channel: SSHChannel, sink: any ByteSink, settings: Settings, stream: StreamState, waker: Waker,
         stats: TunnelStats?, logger: Logger) {
        self.stream = stream
        self.channel = channel
        self.sink = sink
        self.settings = settings
        self.waker = waker
        self.stats = stats
        self.logger = logger
        self.stderr = RemoteStderr(logger: logger, host: channel.session.endpoint)
        self.tester = settings.health.map { HealthTester(parameters: $0) }
        self.buffer = PumpBuffer(readChunk: settings.readChunk,
                                 window: settings.health == nil ? nil : HealthParameters.windowSize,
                                 byteLimit: settings.byteLimit)
    }

    /// Pumps until the remote ends, the limit is reached, the time is up, or the waker fires;
    /// throws when the connection fails, the host goes silent or stops delivering, floods
    /// stderr, the stream keeps failing the health tests, or the sink fails.
    func run() throws(TunnelError) -> End {
        let session = channel.session
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.capacity, alignment: 16)
        defer { memory.deallocate() }
        let stderrBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
        defer { stderrBuffer.deallocate() }
        var lastHeard = Instant.now  // last time anything arrived from the host
        var lastData = Instant.now   // last stdout byte, or last moment the sink was full
        var remoteEOF = false
        var rounds = 0

        while true {
            // While data flows the loop does not poll; look at the waker and the clock now and then.
            rounds += 1
            if rounds & 63 == 0 {
                stats?.beat()
                if waker.isWoken { return .stopped }
                if Instant.now >= settings.until || settings.interrupt?.isPending == true { return .timeUp }
            }

            if buffer.hasReady {
                let ready = buffer.ready
                switch try sink.write(UnsafeRawBufferPointer(rebasing: memory[ready])) {
                case .processed(let n):
                    if let partial = buffer.wrote(n) {
                        memory.baseAddress!.copyMemory(from: memory.baseAddress! + partial.lowerBound, byteCount: partial.count)
                    }
                    stats?.delivered(n)
                    if buffer.limitReached { return .limitReached }
                case .wouldBlock:
                    break
                }
            }

            var socketEvents: Poller.Events?
            var sinkFull = false
            if buffer.hasReady {
                sinkFull = true
            } else {
                let sinkRoom = try sink.writableBytes()
                let room = buffer.readAllowance(sinkRoom: sinkRoom)
                if room == 0 {
                    sinkFull = true
                } else if stream.greeting.kind == .undecided {
                    // The first bytes decide serve or plain; few, and read whatever the room.
                    try drainStderr(stderrBuffer)
                    let wants = stream.greeting.wants
                    switch try channel.read(stream: 0, into: UnsafeMutableRawBufferPointer(rebasing: stderrBuffer[0..<wants])) {
                    case .bytes(let n):
                        try greet(UnsafeRawBufferPointer(rebasing: stderrBuffer[0..<n]), memory)
                        lastHeard = .now
                        lastData = lastHeard
                        continue
                    case .wouldBlock:
                        socketEvents = session.blockedEvents
                    case .endOfStream:
                        // A plain reader that ended within its first bytes: those bytes were data.
                        if stream.greeting.kind == .undecided { try greet(UnsafeRawBufferPointer(start: nil, count: 0), memory, ended: true) }
                        try drainStderr(stderrBuffer)
                        stderr.finish()
                        let exit = channel.close(deadline: .now + .seconds(2))
                        return .remoteExited(exit, stderr: stderr.summary, received: buffer.filled - buffer.verified)
                    }
                } else {
                    try drainStderr(stderrBuffer)
                    if case .serve = stream.greeting.kind {
                        try request(sinkRoom: sinkRoom)
                        if !stream.outbox.isEmpty { socketEvents = session.blockedEvents }
                    }
                    let range = buffer.readRange(room)
                    switch try channel.read(stream: 0, into: UnsafeMutableRawBufferPointer(rebasing: memory[range])) {
                    case .bytes(let n):
                        buffer.read(n)
                        stream.demand.arrived(n)
                        try checkWindows(memory)
                        lastHeard = .now
                        lastData = lastHeard
                        continue
                    case .wouldBlock:
                        socketEvents = session.blockedEvents
                    case .endOfStream:
                        try drainStderr(stderrBuffer)
                        stderr.finish()
                        let exit = channel.close(deadline: .now + .seconds(2))
                        return .remoteExited(exit, stderr: stderr.summary, received: buffer.filled - buffer.verified)
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
            stats?.beat(at: now)
            if now >= settings.until { return .timeUp }
            let silentUntil = lastHeard + settings.deadPeerTimeout
            if socketEvents != nil && now >= silentUntil {
                throw TunnelError(.connectionLost,
                                  "connection to \(session.endpoint) lost: the host sent nothing for " +
                                  "\(Int((now - lastHeard).seconds.rounded())) s, not even keepalive replies")
            }
            // Time with a full sink is not the host's fault: its clock starts when there is room.
            if sinkFull { lastData = now }
            // A serve host sends only what was asked: while nothing is asked, silence is right.
            if case .serve = stream.greeting.kind, stream.demand.outstanding == 0, stream.outbox.isEmpty { lastData = now }
            let dataUntil = lastData + settings.dataTimeout
            if now >= dataUntil {
                stderr.finish()
                throw TunnelError(.stalled,
                                  "\(session.endpoint) delivered no data for \(Int(settings.dataTimeout.seconds.rounded())) s " +
                                  "although the connection is alive (keepalives answered); its RNG reader seems stuck " +
                                  "(check the device and the remote command, or raise --data-timeout)\(stderr.summary)")
            }
            try sink.revalidate()
            // Wake at least once a second: keepalives, the deadlines, the sink's check, the heartbeat.
            var deadline = min(now + .seconds(1), settings.until, dataUntil)
            if socketEvents != nil { deadline = min(deadline, silentUntil) }

            var poller = Poller()
            let wakerIndex = poller.add(waker.fd, .readable)
            let interruptIndex = settings.interrupt.map { poller.add($0.fd, .readable) }
            let socketIndex = socketEvents.map { poller.add(session.socket, $0) }
            if sinkFull { poller.add(sink.descriptor, sink.pollEvents) }
            _ = try poller.wait(until: deadline)
            if poller.events(at: wakerIndex).contains(.readable) { return .stopped }
            if let interruptIndex, poller.events(at: interruptIndex).contains(.readable) { return .timeUp }
            if let socketIndex, !poller.events(at: socketIndex).isEmpty { lastHeard = .now }
        }
    }

    /// Takes the stream's first bytes: decides serve or plain, and puts a plain reader's bytes
    /// (or bytes after the magic line) into the buffer as data. `ended`: the stream ended first.
    private func greet(_ bytes: UnsafeRawBufferPointer, _ memory: UnsafeMutableRawBufferPointer, ended: Bool = false) throws(TunnelError) {
        var greeting = stream.greeting
        greeting.take(bytes)
        if ended { greeting.endOfStream() }
        stream.greeting = greeting
        switch greeting.kind {
        case .undecided:
            return
        case .serve(let version) where version != ServeProtocol.version:
            throw TunnelError(.remoteCommandFailed,
                              "\(channel.session.endpoint) runs `entropy-tunnel serve` with protocol \(version); this " +
                              "client speaks protocol \(ServeProtocol.version): install the same entropy-tunnel version " +
                              "on both machines")
        case .serve:
            logger.debug("host speaks serve", metadata: ["host": "\(channel.session.endpoint)"])
        case .plain:
            break
        }
        let data = greeting.data
        stream.greeting.clearData()
        guard !data.isEmpty else { return }
        let range = buffer.readRange(data.count)
        data.withUnsafeBytes { memory.baseAddress!.advanced(by: range.lowerBound).copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        buffer.read(data.count)
        if case .serve = greeting.kind { stream.demand.arrived(data.count) }
        try checkWindows(memory)
    }

    /// With serve: queues request lines for what the sink will take, and sends what the channel
    /// accepts now.
    private func request(sinkRoom: Int) throws(TunnelError) {
        let sizes = stream.demand.requests(
            sinkRoom: sinkRoom, buffered: buffer.filled - buffer.written,
            limitLeft: settings.byteLimit.map { $0 - buffer.delivered }, threshold: sink.refillThreshold,
            unit: settings.health == nil ? 1 : HealthParameters.windowSize)
        for size in sizes { stream.outbox += ServeProtocol.requestLine(size) }
        while !stream.outbox.isEmpty {
            let lines = stream.outbox
            var result: Result<IOResult<Int>, TunnelError> = .success(.wouldBlock)
            lines.withUnsafeBytes { bytes in
                result = Result { () throws(TunnelError) in try channel.write(bytes) }
            }
            guard case .processed(let n) = try result.get(), n > 0 else { return }
            stream.outbox.removeFirst(n)
        }
    }

    /// Runs the health tests over the complete windows read; passing windows become ready,
    /// failing ones are cut out. Throws when the source counts as broken.
    private func checkWindows(_ memory: UnsafeMutableRawBufferPointer) throws(TunnelError) {
        guard var tester else { return }
        // Counted here and added once: one lock per read, not one per window.
        var passed: UInt64 = 0
        defer {
            self.tester = tester
            if passed > 0 { stats?.update { $0.windowsPassed += passed } }
        }
        while let window = buffer.nextWindow {
            let verdict = tester.check(UnsafeRawBufferPointer(rebasing: memory[window]))
            if verdict.passed {
                buffer.passWindow()
                passed += 1
                continue
            }
            let after = buffer.dropWindow()
            if !after.isEmpty {
                memory.baseAddress!.advanced(by: window.lowerBound)
                    .copyMemory(from: memory.baseAddress!.advanced(by: after.lowerBound), byteCount: after.count)
            }
            stats?.update { $0.windowsDropped += 1 }
            logger.warning("health test failed, 512 bytes dropped", metadata: [
                "host": "\(channel.session.endpoint)", "test": "\(verdict)",
                "failed_in_a_row": "\(tester.consecutiveFailures)",
                "failed_of_last_\(HealthParameters.recentWindows)": "\(tester.recentFailures)",
            ])
            if tester.sourceFailed(consecutiveLimit: settings.healthFailureLimit) {
                let how = tester.consecutiveFailures >= settings.healthFailureLimit
                    ? "\(tester.consecutiveFailures) windows in a row"
                    : "\(tester.recentFailures) of the last \(HealthParameters.recentWindows) windows"
                throw TunnelError(.healthTestFailed,
                                  "the stream from \(channel.session.endpoint) failed the SP 800-90B health tests in " +
                                  "\(how) (\(verdict)); its RNG looks broken (stuck, all zeros, repeating or " +
                                  "biased). Nothing of it was passed on. Check the host's RNG and the remote command")
            }
        }
    }

    /// Reads whatever stderr the remote has sent (small, bounded reads) and logs it by line;
    /// throws once the remote has sent more than a reader ever writes (a flood).
    private func drainStderr(_ buffer: UnsafeMutableRawBufferPointer) throws(TunnelError) {
        while case .bytes(let n) = try channel.read(stream: 1, into: buffer) {
            stderr.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            if stderr.isFlooding {
                stderr.finish()
                throw TunnelError(.remoteCommandFailed,
                                  "the remote command on \(channel.session.endpoint) flooded its stderr " +
                                  "(more than \(ByteSize.human(UInt64(RemoteStderr.floodLimit))) on this connection); " +
                                  "giving up on this connection\(stderr.summary)")
            }
        }
    }
}
