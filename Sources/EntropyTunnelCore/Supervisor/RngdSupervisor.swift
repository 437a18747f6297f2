#if canImport(Glibc)
import Glibc
#endif
import CSystemShims
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps rngd running on the FIFO: starts it as a child, restarts it whenever it exits or is
/// killed (whatever the exit status) after a backoff delay, logs its output, and stops it on
/// shutdown.
///
/// It is a swift-service-lifecycle `Service`: `run()` supervises until the task is cancelled or a
/// graceful shutdown (SIGTERM, SIGINT) begins, then stops rngd (SIGTERM, SIGKILL after
/// `stopGracePeriod`), reaps it, and returns. It never leaves a child behind when `run()` returns.
/// One supervisor runs `run()` once.
///
/// Supervision is by PID and event-driven: a dedicated thread (off the cooperative pool) blocks
/// in `poll()` on rngd's output pipe, its exit notification, and the stop waker; the backoff wait
/// is a `poll()` with a deadline on the waker. Nothing spins, even in a crash loop.
///
/// Why rngd exits at all: rngd 5 and 2.x exit 0 on EOF of their source, and rngd 2.x exits when
/// the source is silent for `--rng-timeout`; the FIFO is held open for writing by the tunnel, so
/// normally only a crash or a kill ends it.
public final class RngdSupervisor: Service, Sendable {
    /// What the supervisor runs and how it paces restarts.
    public struct Configuration: Sendable {
        /// The binary and its full argument list (`RngdCommand.resolve`).
        public var command: RngdCommand
        /// Restart pacing. The default restarts within 0.5 s after a healthy run (so within 1 s
        /// of a death, spawn time included), doubles up to 30 s in a crash loop, and counts a run
        /// of 10 s as healthy.
        public var backoff = Backoff.Configuration(initial: .milliseconds(500), cap: .seconds(30),
                                                   healthyPeriod: .seconds(10))
        /// Time between SIGTERM and SIGKILL on stop.
        public var stopGracePeriod: Duration = .milliseconds(1500)

        public init(command: RngdCommand) { self.command = command }
    }

    /// Something that happened to rngd, for status reporting and tests.
    public enum Event: Sendable {
        /// rngd was started; `restarts` counts the starts before this one that followed an exit.
        case started(pid: Int32, restarts: Int, at: Instant)
        /// rngd ended on its own or was killed; `restartDelay` is nil when stopping.
        case exited(pid: Int32, termination: ProcessTermination, uptime: Duration, restartDelay: Duration?, at: Instant)
        /// rngd could not be started at all (binary gone, say); it is retried after `restartDelay`.
        case startFailed(error: TunnelError, restartDelay: Duration, at: Instant)
    }

    /// The current rngd and counters, shared between the supervising thread and readers.
    private struct State {
        var pid: Int32?
        var restarts = 0
        var starts = 0
        /// rngd's write_wakeup_threshold complaint was explained once already.
        var explainedWakeupThreshold = false
    }

    public let configuration: Configuration
    private let logger: Logger
    private let onEvent: (@Sendable (Event) -> Void)?
    private let state = Mutex(State())

    /// - Parameter onEvent: called on the supervising thread for every event; keep it short.
    public init(configuration: Configuration, logger: Logger, onEvent: (@Sendable (Event) -> Void)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.onEvent = onEvent
    }

    /// PID of the running rngd, nil while none runs (before start, between restarts, stopped).
    public var currentPID: Int32? { state.withLock { $0.pid } }

    /// How many times rngd has been started again after it ended.
    public var restartCount: Int { state.withLock { $0.restarts } }

    /// Supervises rngd until cancellation or graceful shutdown; stops it before returning.
    public func run() async throws {
        let waker = try Waker()
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await BlockingThread.run(name: "et-rngd") { () throws(TunnelError) in
                try self.supervise(until: waker)
            }
        } onCancelOrGracefulShutdown: {
            waker.wake()
        }
    }

    // MARK: - The supervising thread

    private func supervise(until waker: Waker) throws(TunnelError) {
        let command = configuration.command
        var backoff = Backoff(configuration.backoff)
        var generator = SystemRandomNumberGenerator()
        logger.info("rngd supervisor started", metadata: [
            "rngd": "\(command.executable)", "flavor": "\(command.flavor.rawValue)",
            "args": "\(command.arguments.joined(separator: " "))",
        ])
        while !waker.isWoken {
            let child: ChildProcess
            do {
                child = try ChildProcess.spawn(executable: command.executable, arguments: command.arguments)
            } catch {
                let delay = backoff.nextDelay(afterRunningFor: .zero, using: &generator)
                logger.error("cannot start rngd; retrying", metadata: [
                    "error": "\(error.message)", "retry_in_s": "\(rounded(delay))",
                ])
                onEvent?(.startFailed(error: error, restartDelay: delay, at: .now))
                if try wait(for: delay, or: waker) { break }
                continue
            }
            let started = Instant.now
            let restarts = state.withLock { state -> Int in
                state.pid = child.pid
                if state.starts > 0 { state.restarts += 1 }
                state.starts += 1
                return state.restarts
            }
            logger.info("rngd started", metadata: ["pid": "\(child.pid)", "restarts": "\(restarts)"])
            onEvent?(.started(pid: child.pid, restarts: restarts, at: started))

            // rngd ending while the daemon stops (its FIFO closed, or the stop signal reached it
            // too) is part of the stop, not a failure to restart from.
            // (The process-wide stop flag alone is not proof: rngd killed with SIGKILL is a crash.)
            let stopRequested = try watch(child, until: waker)
            let termination = stopRequested
                ? child.terminate(grace: configuration.stopGracePeriod)
                : child.reap()
            var killed = false
            if case .signalled(SIGKILL) = termination { killed = true }
            let stopping = stopRequested || waker.isWoken || (!killed && csystem_stop_requested() != 0)
            var lines = LineSplitter()
            drainOutput(of: child, into: &lines, pid: child.pid)
            flush(&lines, pid: child.pid)
            state.withLock { $0.pid = nil }
            let uptime = Instant.now - started
            if stopping {
                logger.info("rngd stopped", metadata: ["pid": "\(child.pid)", "status": "\(termination)"])
                onEvent?(.exited(pid: child.pid, termination: termination, uptime: uptime, restartDelay: nil, at: .now))
                break
            }
            let delay = backoff.nextDelay(afterRunningFor: uptime, using: &generator)
            logger.warning("rngd exited; restarting", metadata: [
                "pid": "\(child.pid)", "status": "\(termination)", "uptime_s": "\(rounded(uptime))",
                "restart_in_s": "\(rounded(delay))",
            ])
            onEvent?(.exited(pid: child.pid, termination: termination, uptime: uptime, restartDelay: delay, at: .now))
            if try wait(for: delay, or: waker) { break }
        }
        logger.info("rngd supervisor stopped", metadata: ["restarts": "\(restartCount)"])
    }

    /// Logs the child's output until it exits (returns false) or the waker fires (returns true).
    private func watch(_ child: ChildProcess, until waker: Waker) throws(TunnelError) -> Bool {
        var lines = LineSplitter()
        defer { flush(&lines, pid: child.pid) }
        while true {
            var poller = Poller()
            let wakerIndex = poller.add(waker.fd, .readable)
            let exitIndex = poller.add(child.exitDescriptor, .readable)
            let outputIndex = child.outputDescriptor >= 0 ? poller.add(child.outputDescriptor, .readable) : nil
            _ = try poller.wait(until: .distantFuture)
            if let outputIndex, !poller.events(at: outputIndex).isEmpty {
                drainOutput(of: child, into: &lines, pid: child.pid)
            }
            if !poller.events(at: exitIndex).isEmpty {
                drainOutput(of: child, into: &lines, pid: child.pid)
                return false
            }
            if poller.events(at: wakerIndex).contains(.readable) { return true }
        }
    }

    /// Reads whatever output is waiting and logs complete lines.
    private func drainOutput(of child: ChildProcess, into lines: inout LineSplitter, pid: Int32) {
        while let bytes = child.readOutput(), !bytes.isEmpty {
            for line in lines.append(bytes) { log(line, pid: pid) }
        }
    }

    private func flush(_ lines: inout LineSplitter, pid: Int32) {
        if let rest = lines.finish() { log(rest, pid: pid) }
    }

    private func log(_ line: String, pid: Int32) {
        // Harmless under the unit's hardening (/proc/sys is read-only) and a no-op since Linux
        // 5.19: said once, in words, at info level.
        if line.contains("write_wakeup_threshold") {
            guard !state.withLock({ $0.explainedWakeupThreshold }) else { return }
            state.withLock { $0.explainedWakeupThreshold = true }
            logger.info("rngd cannot set /proc/sys/kernel/random/write_wakeup_threshold (read-only for the service; the setting does nothing since Linux 5.19): harmless",
                        metadata: ["pid": "\(pid)", "rngd_said": "\(line)"])
            return
        }
        logger.notice("rngd: \(line)", metadata: ["pid": "\(pid)"])
    }

    /// Waits `delay` unless the waker fires first; returns whether it fired.
    private func wait(for delay: Duration, or waker: Waker) throws(TunnelError) -> Bool {
        var poller = Poller()
        poller.add(waker.fd, .readable)
        return try poller.wait(until: .now + delay)
    }

    private func rounded(_ duration: Duration) -> Double {
        (duration.seconds * 1000).rounded() / 1000
    }
}

/// Splits a byte stream into lines; a line longer than `limit` bytes is cut there, so a child
/// that never writes a newline cannot grow the buffer without bound.
private struct LineSplitter {
    private var pending: [UInt8] = []
    private let limit = 4096

    mutating func append(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                lines.append(take())
            } else {
                pending.append(byte)
                if pending.count >= limit { lines.append(take()) }
            }
        }
        return lines
    }

    mutating func finish() -> String? {
        pending.isEmpty ? nil : take()
    }

    private mutating func take() -> String {
        var line = pending
        pending.removeAll(keepingCapacity: true)
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }
}
