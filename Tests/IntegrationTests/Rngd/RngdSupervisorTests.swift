import EntropyTunnelCore
import Logging
import Synchronization
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// The rngd supervisor against the real rngd of Debian's rng-tools5 (`apt-get install rng-tools5`)
/// on a real FIFO, and against stand-in scripts where a misbehaving rngd is needed. rngd feeds
/// the kernel with RNDADDENTROPY, so these tests run as root.
///
/// Serialized; the crash-loop test measures CPU time in a process of its own (an exit test).
@Suite(.serialized) struct RngdSupervisorTests {
    /// rngd 5 reads 4 + 4 bytes, then one 2500-byte block, then blocks in poll() on /dev/random.
    static let rngd5FirstRead = 2508

    // The async tests here run on a thread of their own (`onOwnThread`): in a full run the
    // blocking tests can hold every cooperative thread for minutes. The limits only catch a hang
    // (the return to the pool at the end can still wait for a thread).
    @Test(.timeLimit(.minutes(10)))
    func realRngdReadsTheFIFOAndIsRestartedWithin1sAfterKill9() async throws {
        try await onOwnThread("et-test-rngd-restart") { executor in
            let fifo = try RngdTestFIFO()
            let initial = try fifo.fill(60_000)
            let command = try RngdCommand.resolve(explicitPath: nil, fifo: fifo.path)
            #expect(command.flavor == .rngTools5)
            #expect(command.arguments == ["-f", "-r", fifo.path, "-d", "1", "-n", "1"])

            var configuration = RngdSupervisor.Configuration(command: command)
            // Shorter than the default 10 s so that each kill below follows a healthy run (each death
            // is a "first death") without making the test a minute long.
            configuration.backoff.healthyPeriod = .seconds(1)
            let log = RngdCapturedLog()
            let (events, continuation) = AsyncStream<RngdSupervisor.Event>.makeStream()
            let supervisor = RngdSupervisor(configuration: configuration, logger: log.logger) { continuation.yield($0) }
            let task = Task(executorPreference: executor) { try await supervisor.run() }
            var iterator = events.makeAsyncIterator()

            guard case .started(var pid, let restarts, var startedAt) = await iterator.next() else {
                Issue.record("rngd did not start")
                task.cancel()
                return
            }
            #expect(restarts == 0)
            #expect(supervisor.currentPID == pid)
            // rngd reads the FIFO: the bytes waiting in it drop by its first read.
            #expect(await fifo.waitUntilQueued(atMost: initial - Self.rngd5FirstRead, within: .seconds(5)))

            var latencies: [Duration] = []
            for round in 1...5 {
                let healthyAt = startedAt + .milliseconds(1200)
                if healthyAt > .now { try await Task.sleep(for: healthyAt - .now) } // let it run healthily
                let killedAt = Instant.now
                #expect(kill(pid, SIGKILL) == 0)
                guard case .exited(let exitedPID, let termination, _, let delay, _) = await iterator.next() else {
                    Issue.record("no exit event after kill -9")
                    break
                }
                #expect(exitedPID == pid)
                #expect(termination == .signalled(SIGKILL))
                #expect(delay != nil && delay! < .milliseconds(500))
                guard case .started(let newPID, let restarts, let at) = await iterator.next() else {
                    Issue.record("rngd was not restarted")
                    break
                }
                latencies.append(at - killedAt)
                #expect(at - killedAt < .seconds(figureBound(1)), "restart \(round) took \(at - killedAt)")
                #expect(newPID != pid)
                #expect(restarts == round)
                #expect(supervisor.currentPID == newPID)
                pid = newPID
                startedAt = at
            }
            // Every one of the six rngd processes read its first block from the FIFO.
            #expect(await fifo.waitUntilQueued(atMost: initial - 6 * Self.rngd5FirstRead, within: .seconds(5)))
            print("rngd restart latency after kill -9 (ms):",
                  latencies.map { Int(($0.seconds * 1000).rounded()) }, "bytes consumed:", initial - fifo.queued)

            task.cancel()
            try await task.value
            #expect(supervisor.currentPID == nil)
            #expect(supervisor.restartCount == 5)
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "rngd \(pid) left behind")
            guard case .exited(_, let termination, _, let delay, _) = await iterator.next() else {
                Issue.record("no exit event on stop")
                return
            }
            #expect(termination == .signalled(SIGTERM))
            #expect(delay == nil)
            #expect(log.contains("rngd started"))
        }
    }

    /// A crash loop under the default pacing (0.5 s, doubling, capped at 30 s) for the 30 s of
    /// the issue, and a harsher one (capped at 100 ms, so 10+ starts a second) for 10 s, to show
    /// the cost per restart is small too.
    struct CrashLoop: Sendable, Codable, CustomTestStringConvertible {
        let seconds: Int
        let initialMilliseconds: Int
        let capMilliseconds: Int
        let minimumStarts: Int
        var initial: Duration { .milliseconds(initialMilliseconds) }
        var cap: Duration { .milliseconds(capMilliseconds) }
        var testDescription: String { "\(seconds) s, cap \(cap)" }
    }

    /// Measured in a process of its own (an exit test): getrusage counts the whole process, and
    /// the tests that run in parallel in this one would count as the supervisor's CPU.
    @Test(.timeLimit(.minutes(10)), arguments: [
        CrashLoop(seconds: 30, initialMilliseconds: 500, capMilliseconds: 30_000, minimumStarts: 4),
        CrashLoop(seconds: 10, initialMilliseconds: 50, capMilliseconds: 100, minimumStarts: 50),
    ])
    func crashLoopUsesAtMost5PercentOfACore(_ loop: CrashLoop) async throws {
        let result = try await #require(processExitsWith: .success, observing: [\.standardOutputContent]) { [loop] in
            try await RngdSupervisorTests.measureCrashLoop(loop)
        }
        print(String(decoding: result.standardOutputContent, as: UTF8.self), terminator: "")
    }

    /// The body of the exit test above: runs the crash loop and prints the figures.
    static func measureCrashLoop(_ loop: CrashLoop) async throws {
        let fifo = try RngdTestFIFO()
        let script = try fifo.script("crash", "echo 'stand-in rngd: giving up' >&2\nexit 3\n")
        var command = RngdCommand(executable: script, flavor: .rngTools5, fifo: fifo.path)
        command.arguments = []
        var configuration = RngdSupervisor.Configuration(command: command)
        #expect(configuration.backoff.initial == .milliseconds(500) && configuration.backoff.cap == .seconds(30))
        configuration.backoff.initial = loop.initial
        configuration.backoff.cap = loop.cap
        let log = RngdCapturedLog()
        let starts = Mutex<[Instant]>([])
        let exits = Mutex<[(ProcessTermination, Duration)]>([])
        let supervisor = RngdSupervisor(configuration: configuration, logger: log.logger) { event in
            switch event {
            case .started(_, _, let at): starts.withLock { $0.append(at) }
            case .exited(_, let termination, _, let delay?, _): exits.withLock { $0.append((termination, delay)) }
            default: break
            }
        }
        let cpuBefore = RngdCPUTime.ofThisProcess()
        let wallBefore = Instant.now
        let task = Task { try await supervisor.run() }
        try await Task.sleep(for: .seconds(loop.seconds))
        task.cancel()
        try await task.value
        let wall = Instant.now - wallBefore
        let cpu = RngdCPUTime.ofThisProcess() - cpuBefore
        let share = cpu.seconds / wall.seconds

        let startCount = starts.withLock { $0.count }
        let exitList = exits.withLock { $0 }
        print("crash loop (\(loop.testDescription)): \(startCount) starts in \(wall.seconds) s,",
              "CPU \(cpu.seconds) s = \(share * 100) % of one core; first restart delays (s):",
              exitList.prefix(10).map { ($0.1.seconds * 1000).rounded() / 1000 })
        // Issues recorded here reach the parent test.
        // The release binary's figure; the instrumented one under install/sanitize.sh gets twice that.
        #expect(share <= (underSanitizer ? 0.10 : 0.05))
        #expect(startCount >= loop.minimumStarts, "the stand-in was restarted over and over")
        #expect(exitList.allSatisfy { $0.0 == .exited(3) })
        // Backoff: the n-th delay is below min(cap, initial * 2^n).
        for (n, exit) in exitList.enumerated() {
            #expect(exit.1 < min(loop.cap, loop.initial * (1 << min(n, 20))))
        }
        #expect(log.contains("rngd: stand-in rngd: giving up"))
        #expect(log.contains("rngd exited; restarting"))
        fflush(nil)
    }

    @Test(.timeLimit(.minutes(10)))
    func stopEscalatesToSIGKILLAfterTheGracePeriod() async throws {
        try await onOwnThread("et-test-rngd-stop") { executor in
            let fifo = try RngdTestFIFO()
            // Ignores SIGTERM; `exec` keeps the disposition, so sleep ignores it too.
            let script = try fifo.script("stubborn", "trap '' TERM\necho ready\nexec sleep 1000\n")
            var command = RngdCommand(executable: script, flavor: .rngTools5, fifo: fifo.path)
            command.arguments = []
            var configuration = RngdSupervisor.Configuration(command: command)
            configuration.stopGracePeriod = .milliseconds(500)
            let log = RngdCapturedLog()
            let (events, continuation) = AsyncStream<RngdSupervisor.Event>.makeStream()
            let supervisor = RngdSupervisor(configuration: configuration, logger: log.logger) { continuation.yield($0) }
            let task = Task(executorPreference: executor) { try await supervisor.run() }
            var iterator = events.makeAsyncIterator()
            guard case .started(let pid, _, _) = await iterator.next() else {
                Issue.record("stand-in did not start")
                task.cancel()
                return
            }
            // The trap must be in place before the stop, or SIGTERM would simply work.
            #expect(await log.waitFor("rngd: ready", within: .seconds(5)))
            let stopAt = Instant.now
            task.cancel()
            try await task.value
            let took = Instant.now - stopAt
            guard case .exited(let exitedPID, let termination, _, nil, _) = await iterator.next() else {
                Issue.record("no exit event on stop")
                return
            }
            #expect(exitedPID == pid)
            #expect(termination == .signalled(SIGKILL))
            // Not before the grace period, and soon after it (this task resumes on its own thread,
            // so `took` does not include a wait for the pool); SIGKILL above shows the escalation.
            #expect(took >= .milliseconds(500) && took < .seconds(5), "stop took \(took)")
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "stand-in \(pid) left behind")
            #expect(supervisor.currentPID == nil)
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func missingExecutableIsRetriedNotFatal() async throws {
        try await onOwnThread("et-test-rngd-missing") { executor in
            let fifo = try RngdTestFIFO()
            let command = RngdCommand(executable: fifo.directory + "/no-such-rngd", flavor: .rngTools5, fifo: fifo.path)
            let log = RngdCapturedLog()
            let (events, continuation) = AsyncStream<RngdSupervisor.Event>.makeStream()
            let supervisor = RngdSupervisor(configuration: .init(command: command), logger: log.logger) { continuation.yield($0) }
            let task = Task(executorPreference: executor) { try await supervisor.run() }
            var iterator = events.makeAsyncIterator()
            guard case .startFailed(let error, let delay, _) = await iterator.next() else {
                Issue.record("expected a start failure")
                task.cancel()
                return
            }
            #expect(error.code == .rngd)
            #expect(error.message.contains("no-such-rngd"))
            #expect(delay < .milliseconds(500))
            task.cancel()
            try await task.value
            #expect(supervisor.currentPID == nil)
        }
    }
}

/// A FIFO in a fresh temporary directory, held open read-write like the tunnel holds it.
final class RngdTestFIFO {
    let directory: String
    let path: String
    let fd: Int32

    init() throws {
        directory = try Scratch.directory("et-rngd-test", mode: 0o700)
        path = directory + "/entropy.fifo"
        try #require(mkfifo(path, 0o600) == 0)
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        try #require(fd >= 0)
    }

    deinit {
        close(fd)
        unlink(path)
        for name in ["crash", "stubborn"] { unlink(directory + "/" + name) }
        rmdir(directory)
    }

    /// Writes `count` bytes from /dev/urandom into the FIFO; returns the bytes now queued.
    func fill(_ count: Int) throws -> Int {
        let random = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        defer { close(random) }
        var bytes = [UInt8](repeating: 0, count: count)
        try #require(bytes.withUnsafeMutableBytes { read(random, $0.baseAddress, count) } == count)
        try #require(bytes.withUnsafeBytes { write(fd, $0.baseAddress, count) } == count)
        return queued
    }

    /// Bytes waiting in the FIFO (`FIONREAD`).
    var queued: Int {
        var n: Int32 = 0
        _ = ioctl(fd, UInt(FIONREAD), &n)
        return Int(n)
    }

    /// Waits (checking every 20 ms: a reader draining a pipe sends no event to the writer) until
    /// at most `limit` bytes are queued.
    func waitUntilQueued(atMost limit: Int, within timeout: Duration) async -> Bool {
        let deadline = Instant.now + timeout
        while queued > limit {
            if Instant.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Writes an executable /bin/sh script into the directory and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let scriptPath = directory + "/" + name
        let text = Array(("#!/bin/sh\n" + body).utf8)
        let out = open(scriptPath, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o755)
        try #require(out >= 0)
        defer { close(out) }
        try #require(text.withUnsafeBytes { write(out, $0.baseAddress, $0.count) } == text.count)
        return scriptPath
    }
}

/// User plus system CPU time of this process (`getrusage(RUSAGE_SELF)`).
enum RngdCPUTime {
    static func ofThisProcess() -> Duration {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func duration(_ t: timeval) -> Duration { .seconds(Int64(t.tv_sec)) + .microseconds(Int64(t.tv_usec)) }
        return duration(usage.ru_utime) + duration(usage.ru_stime)
    }
}

/// Collects log messages so tests can assert what the supervisor logged.
final class RngdCapturedLog: Sendable {
    private let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }

    /// Waits (checking every 20 ms) until a line containing `text` was logged.
    func waitFor(_ text: String, within timeout: Duration) async -> Bool {
        let deadline = Instant.now + timeout
        while !contains(text) {
            if Instant.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    struct Handler: LogHandler {
        let log: RngdCapturedLog
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.append("\(event.level) \(event.message)")
        }
    }
}
