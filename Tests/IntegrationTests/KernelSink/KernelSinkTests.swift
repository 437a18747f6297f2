import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// strace attached to every thread of a running process: what the kernel sink really asks of
/// the kernel. Installs strace when it is missing (install/prerequisites.sh normally has).
final class Tracer: @unchecked Sendable {
    // Safe: used from one test at a time.
    let process = Process()
    let logPath: String

    static func ensureInstalled() throws -> String {
        let path = "/usr/bin/strace"
        if !FileManager.default.isExecutableFile(atPath: path) {
            _ = try? Shell.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "strace")
        }
        return path
    }

    /// Attaches to `pid` (all threads, and threads started later) tracing `calls`; returns once
    /// every thread has a tracer.
    init(pid: Int32, calls: String, logPath: String) throws {
        self.logPath = logPath
        let strace = try Self.ensureInstalled()
        // The test process blocks most signals and children inherit the mask: unblock them
        // before exec, so that strace can be told to detach with SIGTERM.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        // -ttt: timestamps; -y: descriptors with their paths; -qq: no attach/exit chatter.
        process.arguments = ["-MPOSIX", "-e", "sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; exec @ARGV or die", "--",
                             strace, "-f", "-qq", "-ttt", "-y", "-e", "trace=\(calls)", "-e", "signal=none", "-o", logPath, "-p", "\(pid)"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let attached = waitUntil(10) { Tracer.allThreadsTraced(pid) }
        if !attached { stop() }
        try #require(attached, "strace did not attach to \(pid)")
    }

    static func allThreadsTraced(_ pid: Int32) -> Bool {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task"), !tasks.isEmpty else { return false }
        return tasks.allSatisfy { task in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { return true }
            return status.split(separator: "\n").contains { $0.hasPrefix("TracerPid:") && !$0.hasSuffix("\t0") }
        }
    }

    var lines: [Substring] {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n")
    }

    /// Detaches (SIGTERM makes strace detach and exit) and waits for it, bounded.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        if !waitUntil(5, { !self.process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// One traced kernel-RNG call.
struct KernelCall: CustomStringConvertible {
    enum Kind { case addEntropy(credit: Int, size: Int), reseed, write(size: Int) }
    let time: Double
    let kind: Kind
    let result: Int

    var description: String { "\(time) \(kind) = \(result)" }

    /// The RNDADDENTROPY / RNDRESEEDCRNG calls and writes to /dev/urandom in a trace.
    static func parse(_ lines: [Substring]) -> [KernelCall] {
        lines.compactMap { line in
            // "PID 1732550000.123456 ioctl(11</dev/urandom>, RNDRESEEDCRNG) = 0"
            let fields = line.split(separator: " ", maxSplits: 2)
            guard fields.count == 3, let time = Double(fields[1]),
                  let equals = line.range(of: ") = ", options: .backwards),
                  let result = Int(line[equals.upperBound...].prefix { $0 == "-" || $0.isNumber }) else { return nil }
            let call = fields[2]
            func number(after key: String) -> Int? {
                guard let r = call.range(of: key) else { return nil }
                return Int(call[r.upperBound...].prefix { $0.isNumber })
            }
            if call.contains("RNDADDENTROPY"), let credit = number(after: "entropy_count="), let size = number(after: "buf_size=") {
                return KernelCall(time: time, kind: .addEntropy(credit: credit, size: size), result: result)
            }
            if call.contains("RNDRESEEDCRNG") { return KernelCall(time: time, kind: .reseed, result: result) }
            if call.hasPrefix("write("), call.contains("</dev/urandom>") {
                return KernelCall(time: time, kind: .write(size: result), result: result)
            }
            return nil
        }
    }
}

/// `--sink kernel` against the harness sshd, watched with strace: what reaches the kernel, when.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct KernelSinkTests {
    func adds(_ calls: [KernelCall]) -> [(credit: Int, size: Int, result: Int)] {
        calls.compactMap { if case .addEntropy(let c, let s) = $0.kind, s > 0 { return (c, s, $0.result) } else { return nil } }
    }

    func reseeds(_ calls: [KernelCall]) -> [KernelCall] {
        calls.filter { if case .reseed = $0.kind { return true } else { return false } }
    }

    @Test("--kernel-interval 2: one 64-byte RNDADDENTROPY with credit 0 and one RNDRESEEDCRNG per interval, nothing in between")
    func feedsOnTheInterval() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--sink", "kernel", "--kernel-interval", "2", "--state-dir", host.directory + "/state"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(10) { tunnel.log.contains("kernel sink ready") }, "\(tunnel.log)")
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl", logPath: host.directory + "/strace.log")
        let fed = waitUntil(20) { reseeds(KernelCall.parse(tracer.lines)).count >= 4 }
        tracer.stop()
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        #expect(fed, "fewer than 4 reseeds in 20 s: \(tracer.lines.suffix(10)) \(tunnel.log)")

        let calls = KernelCall.parse(tracer.lines)
        let added = adds(calls)
        let reseeded = reseeds(calls)
        print("kernel sink, interval 2 s: \(added.count) RNDADDENTROPY, \(reseeded.count) RNDRESEEDCRNG; reseed times \(reseeded.map(\.time))")
        #expect(!added.isEmpty)
        for add in added {
            #expect(add.size == 64 && add.credit == 0 && add.result == 0, "\(add)")
        }
        #expect(reseeded.allSatisfy { $0.result == 0 }, "\(reseeded)")
        // One add before each reseed (the last add may have been traced just before the stop).
        #expect(added.count == reseeded.count || added.count == reseeded.count + 1, "\(calls)")
        // Driven by the schedule: successive feeds are an interval apart, never closer.
        for (a, b) in zip(reseeded, reseeded.dropFirst()) {
            #expect(b.time - a.time >= 1.95 && b.time - a.time <= 3.0, "feeds \(a.time) and \(b.time)")
        }
        #expect(tunnel.log.contains("first kernel feed"), "\(tunnel.log)")
        #expect(!tunnel.log.contains("write mode"))
    }

    @Test("SIGUSR1 feeds and reseeds at once, between scheduled feeds")
    func sigusr1FeedsNow() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--sink", "kernel", "--kernel-interval", "600", "--state-dir", host.directory + "/state"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(10) { tunnel.log.contains("first kernel feed") }, "\(tunnel.log)")
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl", logPath: host.directory + "/strace.log")
        let sent = Date()
        kill(tunnel.pid, SIGUSR1)
        let fed = waitUntil(5) { reseeds(KernelCall.parse(tracer.lines)).count >= 1 }
        let took = Date().timeIntervalSince(sent)
        tracer.stop()
        #expect(fed, "no feed after SIGUSR1: \(tunnel.log)")
        print("kernel sink: SIGUSR1 to RNDRESEEDCRNG in \(String(format: "%.3f", took)) s")
        #expect(took < 1.5)
        let calls = KernelCall.parse(tracer.lines)
        #expect(adds(calls).map(\.size) == [64], "\(calls)")
        #expect(reseeds(calls).count == 1, "\(calls)")
        #expect(tunnel.log.contains("feed requested (SIGUSR1)"), "\(tunnel.log)")
        #expect(tunnel.stop() == 0, "SIGUSR1 must not end the daemon; SIGTERM exits 0: \(tunnel.log)")
    }

    @Test("as an unprivileged user (setpriv) the kernel sink falls back to write(): mixed, no credit, no reseed")
    func unprivilegedFallsBackToWrite() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let home = try unprivilegedHome(for: host)
        let tunnel = try TunnelProcess(
            setprivNobody + [tunnelBinary, "run",
             "--host", host.endpoint, "--user", host.user, "--identity", home + "/id", "--known-hosts", home + "/known_hosts",
             "--sink", "kernel", "--kernel-interval", "600", "--state-dir", home + "/state"],
            logPath: host.directory + "/run.log", executable: "/usr/bin/setpriv")
        defer { tunnel.stop() }
        #expect(waitUntil(10) { tunnel.log.contains("first kernel feed") }, "\(tunnel.log)")
        #expect(tunnel.log.contains("write mode"), "\(tunnel.log)")
        #expect(tunnel.log.contains("method=write"), "\(tunnel.log)")
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl,write", logPath: host.directory + "/strace.log")
        kill(tunnel.pid, SIGUSR1)
        let fed = waitUntil(5) {
            KernelCall.parse(tracer.lines).contains { if case .write = $0.kind { return true } else { return false } }
        }
        tracer.stop()
        #expect(fed, "no write to /dev/urandom after SIGUSR1: \(tracer.lines.suffix(10))")
        let calls = KernelCall.parse(tracer.lines)
        #expect(calls.allSatisfy { if case .write(let n) = $0.kind { return n == 64 } else { return false } }, "\(calls)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }
}
