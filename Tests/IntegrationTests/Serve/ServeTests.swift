import EntropyTunnelCore
import Foundation
import Logging
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// fcntl's F_SETPIPE_SZ (Linux; not in Swift's Glibc module).
private let setPipeSize: Int32 = 1031

/// `entropy-tunnel serve`, the host side, run for real: directly on pipes we control (to count
/// what it takes from the device), and as the forced command of the harness sshd with the client
/// speaking the protocol.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ServeTests {
    /// A FIFO standing in for the RNG, opened by the test for reading and writing (so it never
    /// blocks and never sees EOF), with `prefill` random bytes in it: what serve reads from it is
    /// `prefill` minus what is left (FIONREAD).
    final class CountingDevice {
        let path: String
        let fd: Int32
        let prefill: Int

        init(directory: String, prefill: Int = 65536) throws {
            path = directory + "/device.fifo"
            unlink(path)
            guard mkfifo(path, 0o644) == 0 else { throw HarnessError("mkfifo \(path): errno \(errno)") }
            fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw HarnessError("open \(path): errno \(errno)") }
            _ = fcntl(fd, setPipeSize, Int32(prefill))
            self.prefill = prefill
            var bytes = [UInt8](repeating: 0, count: prefill)
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0 ... 255) }
            guard write(fd, bytes, prefill) == prefill else { throw HarnessError("prefilling \(path) failed") }
        }

        /// Bytes still in the FIFO.
        var left: Int {
            var queued: Int32 = 0
            _ = ioctl(fd, UInt(FIONREAD), &queued)
            return Int(queued)
        }

        /// Bytes serve has taken from the device.
        var taken: Int { prefill - left }

        deinit { close(fd); unlink(path) }
    }

    /// `serve` started directly, its stdin, stdout and stderr on pipes of the test.
    final class DirectServe {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()

        /// `wrapper`: a command that execs the rest (`unshare ... exec "$@"`), or empty.
        init(_ arguments: [String], outputPipeSize: Int32? = nil, wrapper: [String] = []) throws {
            let command = wrapper + [tunnelBinary, "serve"] + arguments
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            process.standardInput = input
            process.standardOutput = output
            process.standardError = errors
            // Not under sshd: no client is known, so serve keeps a bucket of its own (no budget files).
            process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SSH_") }
            if let outputPipeSize { _ = fcntl(output.fileHandleForWriting.fileDescriptor, setPipeSize, outputPipeSize) }
            try process.run()
        }

        /// Writes `text` to its stdin; stops quietly once serve has gone (EPIPE, SIGPIPE ignored).
        func send(_ text: String) {
            signal(SIGPIPE, SIG_IGN)
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(input.fileHandleForWriting.fileDescriptor, $0.baseAddress! + offset, bytes.count - offset) }
                if n <= 0 { return }
                offset += n
            }
        }

        /// Reads exactly `count` bytes of its stdout (bounded by `seconds`).
        func read(_ count: Int, within seconds: Double = 20) -> [UInt8] {
            let fd = output.fileHandleForReading.fileDescriptor
            var bytes: [UInt8] = []
            let deadline = Date().addingTimeInterval(seconds)
            var chunk = [UInt8](repeating: 0, count: 65536)
            while bytes.count < count && Date() < deadline {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) > 0 else { continue }
                let n = Glibc.read(fd, &chunk, min(chunk.count, count - bytes.count))
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            return bytes
        }

        /// Closes its stdin and waits for the exit status (bounded).
        func finish(within seconds: Double = 10) -> (status: Int32?, stderr: String) {
            try? input.fileHandleForWriting.close()
            let ended = waitUntil(seconds) { !self.process.isRunning }
            if !ended { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return (nil, "") }
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return (process.terminationStatus, text)
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
    }

    static func scratch() throws -> String {
        try Scratch.directory("et-serve")
    }

    @Test("serve answers each request with exactly its bytes, and takes no more than that from the device")
    func exactCountsAndNothingAhead() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = try CountingDevice(directory: dir)
        let serve = try DirectServe(["--device", device.path, "--rate", "1M/s"])
        #expect(serve.read(23) == Array("entropy-tunnel-serve 1\n".utf8))
        #expect(device.taken == 0, "nothing is read before a request")
        serve.send("1\n")
        #expect(serve.read(1).count == 1)
        serve.send("512\n1000\n")
        #expect(serve.read(1512).count == 1512)
        // Everything asked was answered; nothing more may have left the device.
        #expect(device.taken == 1513)
        let end = serve.finish()
        #expect(end.status == 0, "stdin EOF ends serve with 0: \(end.stderr)")
        #expect(end.stderr.isEmpty)
        #expect(device.taken == 1513)
    }

    @Test("a client that stops reading stops the device reads (nothing read ahead)")
    func stalledClientStopsDeviceReads() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = try CountingDevice(directory: dir)
        // Its stdout holds one page: serve blocks on the write once that is full.
        let serve = try DirectServe(["--device", device.path, "--rate", "1G/s", "--max-request", "64K"], outputPipeSize: 4096)
        serve.send("65536\n")
        // Wait until serve has stopped taking from the device (unchanged for half a second).
        var last = -1
        var since = Date()
        let settled = waitUntil(10) {
            let now = device.taken
            if now != last { last = now; since = Date() }
            return Date().timeIntervalSince(since) > 0.5
        }
        #expect(settled)
        // At most the stdout pipe (4096, minus the magic line) plus the one 512-byte read
        // blocked in its write.
        #expect(device.taken <= 4096 + 512, "serve read \(device.taken) bytes ahead of a client that reads nothing")
        #expect(device.taken > 0)
        // The client reads again: the rest arrives, exactly.
        #expect(serve.read(23 + 65536, within: 30).count == 23 + 65536)
        #expect(device.taken == 65536)
        #expect(serve.finish().status == 0)
    }

    struct MalformedCase: CustomTestStringConvertible, Sendable {
        let input: String
        let mentions: String
        var testDescription: String { input.count > 20 ? "\(input.count) digits without a newline" : input.debugDescription }
    }

    @Test("malformed requests: one stderr line, status 65, nothing read from the device", arguments: [
        MalformedCase(input: "0\n", mentions: "leading zeros"),
        MalformedCase(input: "\n", mentions: "empty request line"),
        MalformedCase(input: "-1\n", mentions: "'-'"),
        MalformedCase(input: "4097\n", mentions: "more than --max-request 4096"),
        MalformedCase(input: "12 34\n", mentions: "0x20"),
        MalformedCase(input: String(repeating: "9", count: 100_000), mentions: "longer than"),
        MalformedCase(input: "1\0\n", mentions: "0x00"),
    ])
    func malformed(_ c: MalformedCase) throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = try CountingDevice(directory: dir)
        let serve = try DirectServe(["--device", device.path])
        serve.send(c.input)
        let end = serve.finish()
        #expect(end.status == 65)
        #expect(end.stderr.contains(c.mentions), "\(end.stderr)")
        #expect(end.stderr.split(separator: "\n").count == 1, "one line: \(end.stderr)")
        #expect(device.taken == 0)
    }

    @Test("SIGTERM ends serve at once, even while it waits for a request or on the rate cap")
    func sigtermEnds() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = try CountingDevice(directory: dir)
        for input in ["", "4096\n4096\n"] {
            let serve = try DirectServe(["--device", device.path, "--rate", "9/s"])
            serve.send(input)
            #expect(serve.read(23).count == 23)
            kill(serve.process.processIdentifier, SIGTERM)
            #expect(waitUntil(3) { !serve.process.isRunning }, "serve ignored SIGTERM")
            #expect(serve.process.terminationReason == .uncaughtSignal)
        }
    }

    /// Where syslog(3) sends: /dev/log, or the socket it links to.
    static var syslogSocket: String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/dev/log") else {
            var st = stat()
            return stat("/dev/log", &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK ? "/dev/log" : nil
        }
        return target.hasPrefix("/run/") ? target : nil
    }

    @Test("one syslog line per session: bytes, requests, duration, result (serve in a mount namespace with a test socket as /dev/log)",
          .enabled(if: getuid() == 0 && ServeTests.syslogSocket != nil, "needs root and /dev/log (or a link into /run)"))
    func syslogSummary() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = try CountingDevice(directory: dir)
        let target = try #require(Self.syslogSocket)
        let socketDir = dir + "/syslog"
        try FileManager.default.createDirectory(atPath: socketDir, withIntermediateDirectories: true)
        let socketPath = socketDir + "/" + (target as NSString).lastPathComponent
        let received = dir + "/syslog.txt"
        // The receiving end: a datagram socket that appends each message to a file.
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        receiver.arguments = ["-MIO::Socket::UNIX", "-MSocket", "-e",
                              "my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $ARGV[0]) or die \"bind: $!\"; " +
                              "open(my $f, '>>', $ARGV[1]) or die; $f->autoflush(1); " +
                              "while (defined $s->recv(my $m, 65536)) { print $f $m, \"\\n\" }",
                              socketPath, received]
        receiver.standardInput = FileHandle.nullDevice
        try receiver.run()
        // SIGKILL: the test process blocks most signals, and its children inherit that mask.
        defer { kill(receiver.processIdentifier, SIGKILL); receiver.waitUntilExit() }
        #expect(waitUntil(5) { FileManager.default.fileExists(atPath: socketPath) })
        // In a mount namespace of its own, serve's /dev/log reaches that socket; nothing changes
        // for the rest of the machine.
        let mount = target == "/dev/log"
            ? "mount --bind \"$1\" /dev/log"
            : "mount -t tmpfs tmpfs /run && mkdir -p \"$(dirname \"$2\")\" && mount --bind \"$(dirname \"$1\")\" \"$(dirname \"$2\")\""
        let wrapper = ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                       mount + " && shift 2 && exec \"$@\"", "sh", socketPath, target]
        let serve = try DirectServe(["--device", device.path], wrapper: wrapper)
        #expect(serve.read(23).count == 23)
        serve.send("512\n100\n")
        #expect(serve.read(612).count == 612)
        let end = serve.finish()
        #expect(end.status == 0, "\(end.stderr)")
        #expect(waitUntil(5) { ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").contains("session ended") })
        let lines = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(lines.count == 1, "one line per session: \(lines)")
        let line = String(lines.first ?? "")
        print("serve syslog line: \(line)")
        for part in ["entropy-tunnel-serve[", "session ended bytes=612 requests=2 duration_ms=", "device=\(device.path)", "result=eof"] {
            #expect(line.contains(part), "\(line) lacks \(part)")
        }
    }

    @Test("unusable devices: distinct statuses and messages that name the fix")
    func unusableDevices() throws {
        let regular = try Shell.capture(tunnelBinary, ["serve", "--device", "/etc/hostname"], input: Data())
        #expect(regular.status == 66)
        #expect(regular.stderr.contains("not a character device or FIFO"), "\(regular.stderr)")
        let missing = try Shell.capture(tunnelBinary, ["serve", "--device", "/nonexistent/hwrng"], input: Data())
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("--device"), "\(missing.stderr)")
        // /dev/null is a character device that ends at once: a device EOF, 74.
        let ended = try Shell.capture(tunnelBinary, ["serve", "--device", "/dev/null"], input: Data("16\n".utf8))
        #expect(ended.status == 74)
        #expect(ended.stderr.contains("end of file"), "\(ended.stderr)")
    }

    // MARK: through the harness sshd, with the client speaking the protocol

    static func serveCommand(_ extra: String = "--rate 1M/s") -> String {
        "\(tunnelBinary) serve --device /dev/urandom \(extra)"
    }

    @Test("fetch over serve returns exactly N bytes, with and without health tests", arguments: [1, 1000, 4096, 100_000])
    func fetchOverServe(_ count: Int) throws {
        let host = try LoopbackHost(forcedCommand: Self.serveCommand())
        defer { host.shutdown() }
        for health in [true, false] {
            let output = host.directory + "/fetched-\(count)-\(health).bin"
            let result = try runTunnel(["fetch"] + connectionArguments(host) +
                                       ["--bytes", "\(count)", "--output", output] + (health ? [] : ["--no-health-tests"]))
            #expect(result.status == 0, "\(result.stderr)")
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? -1
            #expect(size == count)
        }
    }

    @Test("a plain reader still works, including one whose first bytes look like the magic line")
    func plainReaders() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let output = host.directory + "/dd.bin"
        let viaDD = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "4096", "--output", output])
        #expect(viaDD.status == 0, "\(viaDD.stderr)")
        // A reader whose stream starts with a prefix of the magic line, sent in pieces: those
        // bytes are data and must arrive byte-exact.
        let data = try makeRandomFile(in: host.directory, size: 1 << 20)
        let prefix = "entropy-tunnel-se"
        try host.setForcedCommand("printf 'entropy-tun'; sleep 0.3; printf 'nel-se'; cat \(data.path); cat")
        let fetched = host.directory + "/prefixed.bin"
        let total = prefix.utf8.count + (1 << 20)
        let result = try runTunnel(["fetch"] + connectionArguments(host) +
                                   ["--bytes", "\(total)", "--output", fetched, "--no-health-tests"])
        #expect(result.status == 0, "\(result.stderr)")
        let got = try Data(contentsOf: URL(fileURLWithPath: fetched))
        let expected = Data(prefix.utf8) + (try Data(contentsOf: URL(fileURLWithPath: data.path)))
        #expect(got == expected)
    }

    @Test("a serve of another protocol version is refused with the fix; a short plain stream is data")
    func otherVersionAndShortStreams() throws {
        let host = try LoopbackHost(forcedCommand: "echo 'entropy-tunnel-serve 2'; cat")
        defer { host.shutdown() }
        let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "32", "--output", host.directory + "/v2.bin"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("protocol 2") && result.stderr.contains("same entropy-tunnel version"), "\(result.stderr)")
        // A plain reader that sends 11 bytes looking like the magic line and ends: the error
        // counts them as data (11 bytes, less than one window), it does not hang.
        try host.setForcedCommand("printf 'entropy-tu'; printf 'n'")
        let short = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "32", "--output", host.directory + "/short.bin"])
        #expect(short.status != 0)
        #expect(short.stderr.contains("after 0 bytes") && short.stderr.contains("the last 11 bytes"), "\(short.stderr)")
    }

    @Test("serve's stderr line is in the client's error")
    func serveErrorsReachTheClient() throws {
        let host = try LoopbackHost(forcedCommand: "\(tunnelBinary) serve --device /dev/null")
        defer { host.shutdown() }
        let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "32", "--output", host.directory + "/x.bin"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/dev/null ended (end of file)"), "\(result.stderr)")
        try host.setForcedCommand("\(tunnelBinary) serve --device /etc/hostname")
        let refused = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "32", "--output", host.directory + "/y.bin"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("not a character device or FIFO"), "\(refused.stderr)")
    }

    @Test("the rate cap: after the one-request burst, bytes come at --rate")
    func rateCap() throws {
        let host = try LoopbackHost(forcedCommand: Self.serveCommand("--rate 8K/s"))
        defer { host.shutdown() }
        // Warm-up connection first, so the timing below is the stream, not the SSH handshake.
        let started = Date()
        let result = try runTunnel(["fetch"] + connectionArguments(host) +
                                   ["--bytes", "36K", "--output", host.directory + "/rate.bin"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == 0, "\(result.stderr)")
        // 4K burst, then 32K at 8K/s: 4 s; the handshake adds a little.
        let rate = Double(32 << 10) / elapsed
        print("serve rate cap: 36K at --rate 8K/s took \(String(format: "%.2f", elapsed)) s (measured rate after the burst <= \(Int(rate)) B/s)")
        #expect(elapsed >= 3.9, "36K took only \(elapsed) s at 8K/s")
        #expect(elapsed <= 8, "36K took \(elapsed) s at 8K/s")
    }

    @Test("run --sink kernel over serve: the host gives out only what the kernel takes (over-drain under one window)")
    func kernelSinkOverServe() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let device = try CountingDevice(directory: dir)
        let host = try LoopbackHost(forcedCommand: "\(tunnelBinary) serve --device \(device.path)")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--sink", "kernel", "--connection", "persistent", "--kernel-interval", "1",
                                        "--state-dir", host.directory + "/state", "--log-level", "debug"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        let feeds = { tunnel.log.split(separator: "\n").filter { $0.contains("kernel feed") }.count }
        #expect(waitUntil(20) { feeds() >= 12 }, "\(tunnel.log)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        let given = feeds() * 64
        let taken = device.taken
        print("kernel sink over serve: host device gave \(taken) bytes, the kernel got \(given) (over-drain \(taken - given))")
        #expect(taken >= given)
        // One 512-byte health window in flight at most (the seed refresh takes its own 64 bytes
        // from the same stream, hence the second window's worth of slack).
        #expect(taken - given <= 1024, "over-drain \(taken - given) bytes")
    }

    @Test("run --sink fifo over serve: refills the FIFO, and a stopped consumer stops the host's device")
    func fifoSinkOverServe() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let device = try CountingDevice(directory: dir, prefill: 1 << 20)
        let host = try LoopbackHost(forcedCommand: "\(tunnelBinary) serve --device \(device.path) --rate 1M/s")
        defer { host.shutdown() }
        let fifo = host.directory + "/entropy.fifo"
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", fifo],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        let fd = openFIFOForReading(fifo)
        defer { close(fd) }
        #expect(readExactly(fd, 256 << 10, into: nil) == 256 << 10, "\(tunnel.log)")
        // The consumer stops; the host's device must stop too: wait until it is still for 1 s.
        var last = -1
        var since = Date()
        #expect(waitUntil(20) {
            let now = device.taken
            if now != last { last = now; since = Date() }
            return Date().timeIntervalSince(since) > 1
        })
        let ahead = device.taken - (256 << 10)
        print("fifo sink over serve: host device gave \(device.taken) bytes for 256K read: \(ahead) ahead (FIFO 64K)")
        // The FIFO's 64K plus at most one health window beyond it.
        #expect(ahead <= (64 << 10) + 512, "\(ahead) bytes ahead of the consumer")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }

    @Test("the supply loop over serve asks for exactly the windows its consumer needs, session after session (on-demand fills)")
    func exactRequestsPerSession() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let device = try CountingDevice(directory: dir)
        let host = try LoopbackHost(forcedCommand: "\(tunnelBinary) serve --device \(device.path) --rate 1M/s")
        defer { host.shutdown() }
        var options = ConnectionOptions(host: HostSpec(host: "127.0.0.1", port: host.port))
        options.user = host.user
        options.identity = host.identity
        options.knownHosts = host.knownHosts
        let waker = try Waker()
        for (fill, expectedTaken) in [(1000, 1024), (1000, 2048), (4096, 6144)] {
            let consumer = CountingConsumer(total: fill, output: nil)
            let loop = SupplyLoop(settings: .init(hosts: [options.host], connection: options, policy: .once),
                                  consumer: consumer, waker: waker, stats: nil, logger: Logger(label: "test"))
            #expect(try loop.run() == .satisfied)
            #expect(consumer.taken == fill)
            #expect(loop.lastSession?.serveVersion == ServeProtocol.version)
            // Give the host a moment: nothing more may leave the device than the windows asked for.
            usleep(200_000)
            #expect(device.taken == expectedTaken, "after a fill of \(fill): \(device.taken) bytes taken, \(expectedTaken) expected")
        }
    }
}
