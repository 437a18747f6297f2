import CLibSSH2
import Logging

/// Moves the remote command's stdout into a sink, with end-to-end backpressure.
///
/// Runs on its own thread and blocks only in `poll()`. The rule that makes backpressure work:
/// the channel is read only when the sink has room for what is read, because every libssh2 read
/// call re-opens the SSH window. While the sink is full the pump waits for the sink, and lets
/// libssh2 process incoming packets (keepalive replies) without re-opening the window; the host
/// fills the window, stops sending, and its reader blocks on a full pipe.
final class ChannelPump {
    enum End {
        /// The remote command ended (EOF and channel close).
        case remoteExited(SSHChannel.Exit, stderr: String)
        /// `byteLimit` bytes were delivered.
        case limitReached
        /// The waker fired.
        case stopped
    }

    struct Settings {
        /// Largest single read from the channel.
        var readChunk = 16 << 10
        /// Stop after this many bytes (fetch); nil for no limit (run).
        var byteLimit: Int?
        /// Declare the host dead after this long without hearing from it.
        var deadPeerTimeout: Duration
    }

    private let channel: SSHChannel
    private let sink: any ByteSink
    private let settings: Settings
    private let waker: Waker
    private let stats: TunnelStats?
    private var stderr: RemoteStderr
    private(set) var delivered = 0

    init(channel: SSHChannel, sink: any ByteSink, settings: Settings, waker: Waker,
         stats: TunnelStats?, logger: Logger) {
        self.channel = channel
        self.sink = sink
        self.settings = settings
        self.waker = waker
        self.stats = stats
        self.stderr = RemoteStderr(logger: logger, host: channel.session.endpoint)
    }

    /// Pumps until the remote ends, the limit is reached, or the waker fires; throws when the
    /// connection fails, the host goes silent, or the sink fails.
    func run() throws(TunnelError) -> End {
        let session = channel.session
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: settings.readChunk, alignment: 16)
        defer { buffer.deallocate() }
        let stderrBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
        defer { stderrBuffer.deallocate() }
        var pending = 0..<0          // bytes in `buffer` not yet in the sink
        var lastHeard = Instant.now  // last time anything arrived from the host
        var remoteEOF = false
        var busyRounds = 0

        while true {
            // While data flows the loop does not poll; look at the waker now and then.
            busyRounds += 1
            if busyRounds & 63 == 0, waker.isWoken { return .stopped }

            if !pending.isEmpty {
                switch try sink.write(UnsafeRawBufferPointer(rebasing: buffer[pending])) {
                case .processed(let n):
                    pending = pending.lowerBound + n..<pending.upperBound
                    delivered += n
                    stats?.delivered(n)
                    if let limit = settings.byteLimit, delivered >= limit { return .limitReached }
                case .wouldBlock:
                    break
                }
            }

            var socketEvents: Poller.Events?
            var sinkFull = false
            if !pending.isEmpty {
                sinkFull = true
            } else {
                var room = min(settings.readChunk, try sink.writableBytes())
                if let limit = settings.byteLimit { room = min(room, limit - delivered) }
                if room == 0 {
                    sinkFull = true
                } else {
                    try drainStderr(stderrBuffer)
                    switch try channel.read(stream: 0, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<room])) {
                    case .bytes(let n):
                        pending = 0..<n
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
            let silentUntil = lastHeard + settings.deadPeerTimeout
            if socketEvents != nil && now >= silentUntil {
                throw TunnelError(.connectionLost,
                                  "\(session.endpoint) sent nothing for \((now - lastHeard).seconds.rounded()) s, " +
                                  "not even keepalive replies; the host or the network is down")
            }
            var deadline = now + .seconds(Int64(max(1, secondsToNext)))
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

    /// Reads whatever stderr the remote has sent (small, bounded reads) and logs it by line.
    private func drainStderr(_ buffer: UnsafeMutableRawBufferPointer) throws(TunnelError) {
        while case .bytes(let n) = try channel.read(stream: 1, into: buffer) {
            stderr.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}
