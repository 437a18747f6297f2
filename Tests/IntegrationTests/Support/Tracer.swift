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
