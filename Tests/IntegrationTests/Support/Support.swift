import Foundation
import TestHost
#if canImport(Glibc)
import Glibc
#endif

// Time limits: every suite has `.timeLimit(.minutes(10))`, which only catches a hang. A
// tighter one measures the machine, not the test: swift-testing starts a test's time-limit
// timer and its body as two tasks on the cooperative pool (two threads on two cores), and in a
// full run the blocking tests can hold both for minutes. Measured: a sync test that runs for
// 30 s reported 117.8 s against a limit of 120 s. Async tests that time something run on a
// thread of their own (`onOwnThread`).

/// Whether this run is install/sanitize.sh's (it sets ASAN_OPTIONS): the instrumented test
/// process and binary run several times slower, and a fork of the test process is slow.
let underSanitizer = ProcessInfo.processInfo.environment["ASAN_OPTIONS"] != nil

/// A time bound that is a figure of the release build, in seconds: as is in the release suite,
/// three times that under AddressSanitizer, whose run looks for memory errors, not figures
/// (measured there: rngd restarts of 1.02-1.34 s, 100 seed kills in 63 s).
func figureBound(_ seconds: Double) -> Double {
    underSanitizer ? 3 * seconds : seconds
}

/// The `entropy-tunnel` binary built next to the test bundle.
let tunnelBinary: String = {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var candidate = bundle
    // The test binary is either .build/debug/X.xctest (a file) or inside a bundle directory.
    for _ in 0..<4 {
        let path = candidate.appendingPathComponent("entropy-tunnel").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        candidate = candidate.deletingLastPathComponent()
    }
    return "entropy-tunnel"
}()

/// A running `entropy-tunnel` process started by a test; ended by the test, by PID.
final class TunnelProcess: @unchecked Sendable {
    // Safe: used from one test at a time.
    let process = Process()
    let logPath: String

    /// Starts `executable` (entropy-tunnel, or a wrapper such as setpriv that execs it).
    /// `environment`: variables added to the test's own (e.g. `NOTIFY_SOCKET`).
    init(_ arguments: [String], logPath: String, executable: String = tunnelBinary,
         environment: [String: String] = [:]) throws {
        self.logPath = logPath
        createFile(atPath: logPath)
        process.executableURL = URL(fileURLWithPath: executable)
        // `run` keeps a state file (default /run/entropy-tunnel/state.json): each test's goes
        // next to its log, not into this machine's /run.
        var arguments = arguments
        if let run = arguments.firstIndex(of: "run"), !arguments.contains("--state-file") {
            arguments.insert(contentsOf: ["--state-file", logPath + ".state.json"], at: run + 1)
        }
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let log = FileHandle(forWritingAtPath: logPath)!
        process.standardError = log
        process.standardOutput = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    /// Whether the process ended by a signal (a crash, or a kill the test sent) rather than exiting.
    var diedBySignal: Bool { !process.isRunning && process.terminationReason == .uncaughtSignal }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (bounded) for the exit; returns the exit status, or nil on timeout.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, within seconds: Double = 5) -> Int32? {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return waitForExit(within: seconds)
    }

    /// When the process was last seen to have ended (a zombie or gone), by `waitForExit`.
    private(set) var exitSeenAt: Date?

    func waitForExit(within seconds: Double) -> Int32? {
        // The process has ended once it is a zombie: Foundation reaps it from a dispatch queue,
        // which a loaded test process can get to seconds later (seen in CI under lintian).
        let ok = waitUntil(seconds) { !self.process.isRunning || self.hasEnded }
        guard ok else { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return nil }
        if exitSeenAt == nil { exitSeenAt = Date() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Whether the process is a zombie or gone (/proc/PID/stat's state), before Foundation reaps it.
    var hasEnded: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held.
@discardableResult
func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// The connection options for a harness host, as command-line arguments.
func connectionArguments(_ host: LoopbackHost, identity: String? = nil, knownHosts: String? = nil) -> [String] {
    ["--host", host.endpoint, "--user", host.user,
     "--identity", identity ?? host.identity, "--known-hosts", knownHosts ?? host.knownHosts]
}

/// `setpriv` arguments that run a command as uid/gid 65534 with no capabilities at all.
let setprivNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]

/// A directory owned by uid 65534 (mode 0700) holding that user's copies of `host`'s key (`id`,
/// mode 0600, and `id.pub`) and pin (`known_hosts`): OpenSSH's rules for a user's own key.
func unprivilegedHome(for host: LoopbackHost) throws -> String {
    let home = host.directory + "/nobody"
    mkdir(home, 0o700)
    for (source, name) in [(host.identity, "id"), (host.identity + ".pub", "id.pub"), (host.knownHosts, "known_hosts")] {
        try FileManager.default.copyItem(atPath: source, toPath: home + "/" + name)
        chown(home + "/" + name, 65534, 65534)
    }
    chmod(home + "/id", 0o600)
    chown(home, 65534, 65534)
    return home
}

/// Where `runTunnel` puts a `run`'s state file: a directory of this test process, root's (or
/// this user's) and not world-writable.
let runStateDirectory: String? = try? Scratch.directory("et-run-state")

/// Runs `entropy-tunnel ARGS` to completion.
func runTunnel(_ arguments: [String]) throws -> Shell.Result {
    var arguments = arguments
    // A `run` that gets as far as starting keeps a state file: not in this machine's /run.
    var stateFile: String?
    if arguments.first == "run", !arguments.contains("--state-file") {
        // In a directory of the tests' own: run refuses a state file in a world-writable one (/tmp).
        let path = (runStateDirectory ?? NSTemporaryDirectory()) + "/et-run-\(getpid())-\(UInt32.random(in: 0 ... .max)).state.json"
        arguments.insert(contentsOf: ["--state-file", path], at: 1)
        stateFile = path
    }
    defer { if let stateFile { try? FileManager.default.removeItem(atPath: stateFile) } }
    return try Shell.capture(tunnelBinary, arguments)
}

/// A file of `size` random bytes in `directory`, readable by the test user, and its SHA-256.
func makeRandomFile(in directory: String, size: Int, name: String = "data.bin") throws -> (path: String, sha256: String) {
    let path = directory + "/" + name
    _ = try Shell.capture("sh", ["-c", "head -c \(size) /dev/urandom > '\(path)' && chmod 644 '\(path)'"])
    return (path, try sha256(ofFile: path))
}

func sha256(ofFile path: String) throws -> String {
    let out = try Shell.run("sha256sum", path).stdout
    return String(out.prefix(64))
}

/// Opens the FIFO for reading once it exists (the tunnel creates it).
func openFIFOForReading(_ path: String, within seconds: Double = 10) -> Int32 {
    var fd: Int32 = -1
    waitUntil(seconds) {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFIFO else { return false }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        return fd >= 0
    }
    return fd
}

/// Reads exactly `count` bytes from `fd` (blocking), appending them to `output`; returns how many arrived
/// before EOF or the deadline.
@discardableResult
func readExactly(_ fd: Int32, _ count: Int, into output: FileHandle?, within seconds: Double = 60) -> Int {
    var total = 0
    var buffer = [UInt8](repeating: 0, count: 65536)
    let deadline = Date().addingTimeInterval(seconds)
    while total < count && Date() < deadline {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 1000) >= 0 else { break }
        if p.revents == 0 { continue }
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, min($0.count, count - total)) }
        if n <= 0 { break }
        output?.write(Data(buffer[0..<n]))
        total += n
    }
    return total
}

/// Reads an integer the remote command keeps in a file (its byte counter).
func readCounter(_ path: String) -> Int {
    Int(((try? String(contentsOfFile: path, encoding: .utf8)) ?? "0").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
}
