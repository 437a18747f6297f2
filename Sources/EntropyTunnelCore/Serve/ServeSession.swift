import CSystemShims
#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// One run of `entropy-tunnel serve`: the magic line, then request after request from `input`
/// answered on `output` with bytes read from the device, under the client key's shared budget
/// (`ClientBudgetFiles`; a bucket of its own when no client is known), until the client closes
/// its side or asks for nothing for `idleTimeout`.
///
/// Blocking by design (it is a forced command with one client): every wait is a `poll()`; the
/// device is read only for bytes a request asked for, at most 512 bytes a read, and only once the
/// previous bytes were written, so a client that stops reading stops the device reads too (the
/// write blocks on the full SSH channel; nothing is read ahead).
public final class ServeSession {
    /// What `serve` was told.
    public struct Options: Sendable {
        public var device = "/dev/hwrng"
        public var maxRequest = ServeProtocol.defaultMaxRequest
        /// Bytes per second per client key (per connection when the client is not known).
        public var rate = ServeSession.defaultRate
        /// A session that asks for nothing this long ends (exit 0).
        public var idleTimeout: Duration = ServeSession.defaultIdleTimeout

        public init() {}
    }

    /// How a session ended.
    public struct Summary: Sendable {
        public var bytes = 0
        public var requests = 0
        public var duration: Duration = .zero
        /// `eof` (the client closed its side), `client-gone` (writing to it failed), `idle` (no
        /// request for `idleTimeout`), or the error's message.
        public var result = "eof"
        public var error: ServeError?

        public init() {}

        /// The syslog line: one event, key=value.
        public func line(device: String, client: ServeClient?) -> String {
            var text = "session ended bytes=\(bytes) requests=\(requests) duration_ms=\(duration.nanoseconds / 1_000_000) device=\(device)"
            if let client { text += " client=\(client.id) client_from=\(client.source.rawValue)" }
            text += " result=\(error == nil ? result : "error")"
            if let error { text += " status=\(error.code.exitStatus) error=\"\(error.message)\"" }
            return text
        }
    }

    /// The default per-key rate: 2 KiB/s. See `serve --help`: a TPM-class RNG gives a few
    /// KB/s, and a client's steady need is tens of bytes a minute, so 2K/s lets any one client
    /// boot quickly (one 4K burst, then 2K/s) while no single client can take more than about
    /// half of a slow RNG from the rest of the fleet.
    public static let defaultRate = 2048

    /// The default idle timeout: 5 minutes. On-demand clients (the kernel sink's default) close
    /// their session after each fill; a session that asks for nothing that long is parked and
    /// costs the host an sshd and a serve process.
    public static let defaultIdleTimeout: Duration = .seconds(300)

    /// The lowest `--rate`: one 512-byte health window within 60 s, a client's default data
    /// timeout (512 / 60 rounded up). Less, and every client would report a stuck RNG.
    public static let lowestRate = (ServeProtocol.deviceReadSize + 59) / 60

    private let options: Options
    private let input: Int32
    private let output: Int32
    private var device: Int32 = -1
    /// The client key's shared budget; nil: a bucket for this session only.
    private let budget: ClientBudgetFiles?

    public init(options: Options, input: Int32 = 0, output: Int32 = 1, budget: ClientBudgetFiles? = nil) {
        self.options = options
        self.input = input
        self.output = output
        self.budget = budget
    }

    deinit { if device >= 0 { Glibc.close(device) } }

    /// Runs the session to its end and returns what happened (never throws: the caller logs the
    /// summary and exits with the error's status).
    public func run() -> Summary {
        let started = Instant.now
        var summary = Summary()
        do throws(ServeError) {
            try openDevice()
            if try !writeAll(ServeProtocol.magicLine) {
                summary.result = "client-gone"
            } else {
                summary.result = try serveRequests(&summary)
            }
        } catch {
            summary.error = error
        }
        summary.duration = Instant.now - started
        return summary
    }

    /// Opens the device (non-blocking, so a FIFO without a writer cannot hang the open), refuses
    /// anything but a character device or a FIFO, and makes reads blocking again.
    private func openDevice() throws(ServeError) {
        let path = options.device
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 {
            let err = Errno(rawValue: errno)
            let fix = err == .permissionDenied
                ? "give this user read access (e.g. a udev rule with GROUP= for the device, and add the user to that group)"
                : "check the path, or give the RNG with --device PATH"
            throw ServeError(.deviceUnusable, "entropy-tunnel serve: cannot open \(path): \(err); \(fix)")
        }
        device = fd
        var st = stat()
        if fstat(fd, &st) != 0 {
            throw ServeError(.deviceUnusable, "entropy-tunnel serve: cannot stat \(path): \(Errno(rawValue: errno))")
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFCHR || type == S_IFIFO else {
            throw ServeError(.deviceUnusable,
                             "entropy-tunnel serve: \(path) is not a character device or FIFO (a regular file or " +
                             "directory is not an RNG); give the RNG with --device PATH, e.g. /dev/hwrng")
        }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
    }

    /// Answers requests until the client's stream ends. Returns the result word.
    private func serveRequests(_ summary: inout Summary) throws(ServeError) -> String {
        var parser = ServeRequestParser(maxRequest: options.maxRequest)
        var bucket = TokenBucket(rate: options.rate, capacity: options.maxRequest, now: .now)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        var block = [UInt8](repeating: 0, count: ServeProtocol.deviceReadSize)
        defer { block.withUnsafeMutableBytes { if let base = $0.baseAddress { memset(base, 0, $0.count) } } }
        var index = 0
        var idleSince = Instant.now
        while true {
            // The next request from what was read, reading more when none is complete; a client
            // that asks for nothing for the idle timeout is let go.
            var request: Int?
            while request == nil {
                if index == pending.count {
                    var poller = Poller()
                    poller.add(input, .readable)
                    let ready = (try? poller.wait(until: idleSince + options.idleTimeout)) ?? true
                    if !ready { return "idle" }
                    let n = chunk.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
                    if n < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        return "eof"  // stdin gone: the client is gone
                    }
                    if n == 0 { return "eof" }
                    pending = Array(chunk[0..<n])
                    index = 0
                }
                let byte = pending[index]
                index += 1
                switch parser.consume(byte) {
                case .needMore: continue
                case .request(let count): request = count
                case .malformed(let message):
                    throw ServeError(.malformedRequest, "entropy-tunnel serve: malformed request: \(message)")
                }
            }
            guard let count = request else { continue }
            let due = try budget?.take(count, rate: options.rate, capacity: options.maxRequest) ?? bucket.take(count, at: .now)
            if due > .now {
                // The rate cap: a timed wait, cut short by the client going away (its pipe's
                // error or hang-up: no events asked for).
                var poller = Poller()
                let outputIndex = poller.add(output, [])
                _ = try? poller.wait(until: due)
                if !poller.events(at: outputIndex).isEmpty { return "client-gone" }
            }
            var left = count
            while left > 0 {
                let n = try readDevice(into: &block, max: min(left, ServeProtocol.deviceReadSize))
                if n < 0 { return "client-gone" }
                if try !writeAll(block[0..<n]) { return "client-gone" }
                left -= n
                summary.bytes += n
            }
            summary.requests += 1
            idleSince = .now
        }
    }

    /// One read of at most `max` bytes from the device, after waiting for it to be readable or the
    /// client to go away (-1).
    private func readDevice(into block: inout [UInt8], max: Int) throws(ServeError) -> Int {
        while true {
            var poller = Poller()
            let deviceIndex = poller.add(device, .readable)
            // No events asked: reports only an error or hang-up, i.e. the client went away.
            let outputIndex = poller.add(output, [])
            do { _ = try poller.wait(until: .distantFuture) } catch {
                throw ServeError(.deviceFailed, "entropy-tunnel serve: poll failed: \(error)")
            }
            if !poller.events(at: outputIndex).isEmpty { return -1 }
            if poller.events(at: deviceIndex).isEmpty { continue }
            let n = block.withUnsafeMutableBytes { Glibc.read(device, $0.baseAddress, max) }
            if n > 0 { return n }
            if n == 0 {
                throw ServeError(.deviceFailed,
                                 "entropy-tunnel serve: \(options.device) ended (end of file); an RNG device never ends: " +
                                 "check the device (a FIFO needs a writer)")
            }
            if errno == EINTR || errno == EAGAIN { continue }
            throw ServeError(.deviceFailed, "entropy-tunnel serve: reading \(options.device) failed: \(Errno(rawValue: errno)); check the RNG (dmesg)")
        }
    }

    /// Writes all `bytes` to the client (blocking); false when the client has gone away.
    private func writeAll(_ bytes: some Collection<UInt8>) throws(ServeError) -> Bool {
        let data = Array(bytes)
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + offset, data.count - offset) }
            if n >= 0 { offset += n; continue }
            switch errno {
            case EINTR: continue
            case EAGAIN: waitFor(output, .writable)
            case EPIPE, ECONNRESET: return false
            default: throw ServeError(.output, "entropy-tunnel serve: writing to the client failed: \(Errno(rawValue: errno))")
            }
        }
        return true
    }

    /// Waits (without end: the other side going away wakes it too) for `fd` to be ready.
    private func waitFor(_ fd: Int32, _ events: Poller.Events) {
        var poller = Poller()
        poller.add(fd, events)
        _ = try? poller.wait(until: .distantFuture)
    }
}

/// syslog for `serve`'s one summary line per session.
public enum ServeLog {
    /// Logs `line` at info under the daemon facility as `entropy-tunnel-serve[PID]`.
    public static func summary(_ line: String) {
        csystem_openlog("entropy-tunnel-serve", LOG_DAEMON)
        csystem_syslog(LOG_INFO | LOG_DAEMON, line)
    }
}
