import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `serve` under a hostile client, through the real sshd: one key gets its rate however it
/// reconnects or however many sessions it opens, idle sessions end, and a key's sessions are
/// capped. The client here is OpenSSH's `ssh`, speaking the protocol by hand as an attacker would.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ServeFairnessTests {
    /// One `ssh` session to the harness host: its stdin to write requests, its stdout counted.
    /// Started with posix_spawn and reaped with waitpid here: Foundation's Process reaps on a
    /// dispatch queue, and its waitUntilExit spins while a loaded test process starves that queue.
    final class Session {
        let pid: pid_t
        /// Our ends of its stdin, stdout and stderr.
        private var stdinFD: Int32
        let stdout: Int32
        private let stderrFD: Int32
        /// Bytes read from stdout so far (the magic line included).
        private(set) var received = 0
        /// Whether its stdout reached its end.
        private(set) var ended = false
        private(set) var exitStatus: Int32?

        init(_ host: LoopbackHost) throws {
            var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1]
            guard pipe(&input) == 0, pipe(&output) == 0, pipe(&errors) == 0 else { throw HarnessError("pipe: errno \(errno)") }
            for fd in [input[1], output[0], errors[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            posix_spawn_file_actions_adddup2(&actions, input[0], 0)
            posix_spawn_file_actions_adddup2(&actions, output[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
            let args = ["/usr/bin/ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(host.knownHosts)",
                        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-i", host.identity,
                        "-p", "\(host.port)", "\(host.user)@127.0.0.1", "ignored"]
            var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, args[0], &actions, nil, &argv, environ)
            posix_spawn_file_actions_destroy(&actions)
            argv.forEach { free($0) }
            for fd in [input[0], output[1], errors[1]] { close(fd) }
            guard rc == 0 else { throw HarnessError("posix_spawn ssh: \(rc)") }
            self.pid = pid
            stdinFD = input[1]
            stdout = output[0]
            stderrFD = errors[0]
            _ = fcntl(stdout, F_SETFL, fcntl(stdout, F_GETFL) | O_NONBLOCK)
        }

        /// Writes `text` to its stdin; quietly stops once the session has gone.
        func send(_ text: String) {
            signal(SIGPIPE, SIG_IGN)
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
        }

        /// Reads what is there (non-blocking); false at end of stream.
        @discardableResult
        func drain() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(stdout, &buffer, buffer.count)
                if n > 0 { received += n; continue }
                if n == 0 { ended = true }
                return !ended
            }
        }

        /// Payload bytes: what came after the 23-byte magic line.
        var payload: Int { max(0, received - 23) }

        /// Whether it still runs (reaps it when it has ended).
        var isRunning: Bool {
            if exitStatus != nil { return false }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return true }
            exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return false
        }

        /// Closes stdin (serve sees EOF and ends), waits for the exit (bounded; then SIGKILL),
        /// and returns the exit status and stderr.
        func finish(within seconds: Double = 10) -> (status: Int32?, stderr: String) {
            if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
            if !waitUntil(seconds, { !self.isRunning }) {
                kill(pid, SIGKILL)
                waitUntil(5) { !self.isRunning }
                return (nil, "")
            }
            var text: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = fcntl(stderrFD, F_SETFL, fcntl(stderrFD, F_GETFL) | O_NONBLOCK)
            while true {
                let n = read(stderrFD, &buffer, buffer.count)
                if n <= 0 { break }
                text += buffer[0..<n]
            }
            return (exitStatus, String(decoding: text, as: UTF8.self))
        }

        deinit {
            if isRunning {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            for fd in [stdinFD, stdout, stderrFD] where fd >= 0 { close(fd) }
        }
    }

    /// Reads every session's stdout until `deadline` (poll, 100 ms at a time).
    static func pump(_ sessions: [Session], until deadline: Date) {
        while Date() < deadline {
            // Ended streams are left out: their hang-up would make poll return at once, for ever.
            let open = sessions.filter { !$0.ended }
            var fds = open.map { pollfd(fd: $0.stdout, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), Int32(max(1, min(100, deadline.timeIntervalSinceNow * 1000))))
            for (i, session) in open.enumerated() where fds[i].revents != 0 { session.drain() }
        }
    }

    static let rate = 2048
    static let burst = 4096
    static let window = 10.0
    /// The issue's bound over the window: 1.25 x the per-key rate, plus one burst.
    static var bound: Int { Int(1.25 * Double(rate) * window) + burst }

    static func serveCommand(_ extra: String) -> String {
        "\(tunnelBinary) serve --device /dev/urandom --rate \(rate) --max-request \(burst) \(extra)"
    }

    @Test("one key reconnecting for each 4 KiB for 10 s gets at most 1.25 x its rate + one burst")
    func reconnectLoop() throws {
        let host = try LoopbackHost(forcedCommand: Self.serveCommand("--max-sessions 4"))
        defer { host.shutdown() }
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first ?? "?"
        let started = Date()
        let end = started.addingTimeInterval(Self.window)
        var total = 0
        var connections = 0
        while Date() < end {
            let session = try Session(host)
            connections += 1
            session.send("\(Self.burst)\n")
            // Until its 4 KiB arrived (or the window ends), then hang up and come again.
            while Date() < end && session.payload < Self.burst {
                Self.pump([session], until: min(end, Date().addingTimeInterval(0.2)))
                if !session.isRunning { session.drain(); break }
            }
            total += session.payload
            _ = session.finish()
        }
        let perSecond = Double(total) / Self.window
        print("serve fairness, reconnecting: \(total) bytes in \(Self.window) s over \(connections) connections = " +
              "\(Int(perSecond)) B/s (rate \(Self.rate) B/s, burst \(Self.burst); bound \(Self.bound) bytes); load \(load)")
        #expect(total <= Self.bound, "\(total) bytes in 10 s")
        // It works at all: more than the burst came through.
        #expect(total > Self.burst)
    }

    @Test("20 parallel sessions of one key for 10 s get at most 1.25 x its rate + one burst together")
    func parallelSessions() throws {
        let host = try LoopbackHost(forcedCommand: Self.serveCommand("--max-sessions 40"))
        defer { host.shutdown() }
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first ?? "?"
        let started = Date()
        let sessions = try (0..<20).map { _ in try Session(host) }
        // Each asks far ahead: 64 requests of 4 KiB, more than 10 s can give.
        for session in sessions { session.send(String(repeating: "\(Self.burst)\n", count: 64)) }
        Self.pump(sessions, until: started.addingTimeInterval(Self.window))
        let total = sessions.reduce(0) { $0 + $1.payload }
        let served = sessions.filter { $0.payload > 0 }.count
        print("serve fairness, 20 parallel sessions: \(total) bytes in \(Self.window) s = \(Int(Double(total) / Self.window)) B/s, " +
              "\(served) sessions got bytes (rate \(Self.rate) B/s, burst \(Self.burst); bound \(Self.bound) bytes); load \(load)")
        #expect(total <= Self.bound, "\(total) bytes in 10 s")
        #expect(total > Self.burst)
        #expect(sessions.filter { $0.received >= 23 }.count == 20, "every session started serve")
        // The client dies: sshd goes, and serve, waiting on the budget, sees its pipe break and ends.
        for session in sessions { kill(session.pid, SIGKILL) }
        #expect(waitUntil(30) { host.sessionPIDs.isEmpty }, "\(host.sessionPIDs.count) sessions left after the clients died")
    }

    @Test("idle sessions end after --idle-timeout with exit 0: none left 10 s later")
    func idleSessions() throws {
        let idle = 3.0
        let host = try LoopbackHost(forcedCommand: Self.serveCommand("--max-sessions 40 --idle-timeout \(Int(idle))"))
        defer { host.shutdown() }
        let sessions = try (0..<10).map { _ in try Session(host) }
        // Each is up (serve sent its magic line), then asks for nothing.
        #expect(waitUntil(30) {
            Self.pump(sessions, until: Date().addingTimeInterval(0.05))
            return sessions.allSatisfy { $0.received >= 23 }
        })
        let opened = Date()
        let live = { host.sessionPIDs.count }
        #expect(live() == 10)
        waitUntil(idle + 10) { live() == 0 && sessions.allSatisfy { !$0.isRunning } }
        let left = live()
        let endedAfter = Date().timeIntervalSince(opened)
        print("serve idle sessions: 10 opened, \(left) left after --idle-timeout \(Int(idle)) s + 10 s (all gone \(String(format: "%.1f", endedAfter)) s after they were up)")
        #expect(left == 0)
        for session in sessions {
            let (status, stderr) = session.finish()
            #expect(status == 0, "an idle session ends with exit 0: \(stderr)")
            #expect(stderr.contains("no request for \(Int(idle)) s"), "\(stderr)")
        }
    }

    @Test("a key's sessions are capped (--max-sessions): one stderr line and exit 75; a crashed session frees its slot")
    func sessionCap() throws {
        let host = try LoopbackHost(forcedCommand: Self.serveCommand("--max-sessions 2"))
        defer { host.shutdown() }
        let held = try (0..<2).map { _ in try Session(host) }
        #expect(waitUntil(30) {
            Self.pump(held, until: Date().addingTimeInterval(0.05))
            return held.allSatisfy { $0.received >= 23 }
        })
        let third = try Session(host)
        let refused = third.finish(within: 30)
        #expect(refused.status == 75, "\(refused.stderr)")
        #expect(refused.stderr.contains("already has 2 sessions open (--max-sessions 2)"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").filter { $0.contains("entropy-tunnel serve") }.count == 1, "\(refused.stderr)")
        // kill -9 the serve of one held session: the kernel drops its lock, the slot is free.
        let serves = host.sessionPIDs.flatMap(Self.descendants).filter {
            ((try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)) ?? "").contains("serve")
        }
        #expect(!serves.isEmpty)
        if let victim = serves.first { kill(victim, SIGKILL) }
        #expect(waitUntil(10) { held.contains { !$0.isRunning } })
        let fourth = try Session(host)
        fourth.send("512\n")
        #expect(waitUntil(30) { fourth.drain(); return fourth.payload >= 512 }, "a freed slot takes a new session")
        #expect(fourth.finish().status == 0)
        for session in held { _ = session.finish() }
    }

    /// Every descendant of `pid` (/proc/*/stat's parent field).
    static func descendants(_ pid: Int32) -> [Int32] {
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        var parents: [Int32: Int32] = [:]
        for p in all {
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { parents[p] = parent }
        }
        var result: [Int32] = []
        var frontier = [pid]
        while let next = frontier.popLast() {
            let children = parents.filter { $0.value == next }.map(\.key)
            result += children
            frontier += children
        }
        return result
    }

    @Test("a --rate that cannot deliver one 512-byte window within 60 s is refused with exit 64; 9/s is accepted")
    func rateFloor() throws {
        let low = try Shell.capture(tunnelBinary, ["serve", "--device", "/dev/urandom", "--rate", "8/s"], input: Data())
        #expect(low.status == 64)
        #expect(low.stderr.contains("cannot deliver one 512-byte health window within 60 s") && low.stderr.contains("at least 9/s"),
                "\(low.stderr)")
        let lowest = try Shell.capture(tunnelBinary, ["serve", "--device", "/dev/urandom", "--rate", "9/s"], input: Data(),
                                       environment: ["SSH_CLIENT": "", "SSH_USER_AUTH": ""])
        #expect(lowest.status == 0, "\(lowest.stderr)")
        for bad in [["--max-sessions", "0"], ["--idle-timeout", "0"], ["--idle-timeout", "nan"], ["--client", "a b"]] {
            let result = try Shell.capture(tunnelBinary, ["serve", "--device", "/dev/urandom"] + bad, input: Data())
            #expect(result.status == 64, "\(bad): \(result.stderr)")
        }
    }
}
