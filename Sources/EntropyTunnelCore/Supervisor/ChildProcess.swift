#if canImport(Glibc)
import Glibc
#endif
import CSystemShims
import Synchronization

/// A child process started by `csystem_spawn_supervised` (fork, parent-death signal, exec), its
/// stdout and stderr on one pipe, and its exit
/// reported as a readable descriptor so that a `poll()` loop can wait for output, exit and a
/// stop request at once.
///
/// Exit detection: a small reaper thread blocks in `waitid(P_PID, pid, WEXITED | WNOWAIT)` and
/// then makes `exitDescriptor` readable (Swift's Glibc module has no `pidfd_open`). `WNOWAIT`
/// leaves the zombie in place: only `reap()` collects it, on the owner's thread, so the PID
/// cannot be reused while the owner may still signal it.
///
/// Not thread-safe: one owner thread uses it; only the reaper thread's handshake is shared.
final class ChildProcess {
    typealias Termination = ProcessTermination

    let pid: pid_t
    /// Read end of the child's stdout+stderr pipe (non-blocking); -1 once closed.
    private(set) var outputDescriptor: Int32
    /// Becomes readable when the child has exited.
    var exitDescriptor: Int32 { exitPipe.readEnd }
    private(set) var termination: Termination?
    private let exitPipe: Pipe

    private init(pid: pid_t, output: Int32, exitPipe: Pipe) {
        self.pid = pid
        self.outputDescriptor = output
        self.exitPipe = exitPipe
    }

    deinit {
        if outputDescriptor >= 0 { close(outputDescriptor) }
        defer { close(exitPipe.readEnd) }
        // Never leave a zombie or a running child behind an abandoned object.
        if termination == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    /// Starts `executable` with `arguments` (argv[0] is the executable's path), stdin on
    /// /dev/null, stdout and stderr on a pipe, all signal dispositions and the signal mask back to
    /// defaults (the tunnel ignores SIGPIPE and may block SIGTERM; rngd must not inherit that),
    /// in a process group of its own (a Ctrl-C on the terminal reaches the tunnel, which then
    /// stops rngd in order), with no other descriptor of ours, and killed (SIGKILL) by the kernel
    /// if the tunnel dies, even by SIGKILL. Call it from the thread that supervises the child:
    /// the parent-death signal follows the thread that forked.
    static func spawn(executable: String, arguments: [String]) throws(TunnelError) -> ChildProcess {
        let output = try Pipe()
        let exitPipe = try Pipe()
        var spawned = false
        defer {
            if !spawned {
                close(output.readEnd)
                close(exitPipe.readEnd)
                close(exitPipe.writeEnd)
            }
        }
        defer { close(output.writeEnd) }

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var error: Int32 = 0
        let pid = csystem_spawn_supervised(executable, argv, output.writeEnd, &error)
        guard pid > 0 else {
            throw TunnelError(.rngd, "cannot start \(executable): \(String(cString: strerror(error)))",
                              errno: .init(rawValue: error))
        }
        _ = fcntl(output.readEnd, F_SETFL, O_NONBLOCK)
        spawned = true
        let child = ChildProcess(pid: pid, output: output.readEnd, exitPipe: exitPipe)
        Reaper.start(pid: pid, notify: exitPipe.writeEnd)
        return child
    }

    /// Whether the child has exited (its exit descriptor is readable).
    var hasExited: Bool {
        if termination != nil { return true }
        var p = pollfd(fd: exitDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// Collects the exit status. Call only once `exitDescriptor` is readable (or `hasExited`).
    @discardableResult
    func reap() -> Termination {
        if let termination { return termination }
        var status: Int32 = 0
        var rc: pid_t
        repeat { rc = waitpid(pid, &status, 0) } while rc < 0 && errno == EINTR
        let result: Termination
        if rc != pid {
            result = .unknown
        } else if status & 0x7f == 0 {
            result = .exited((status >> 8) & 0xff)       // WIFEXITED / WEXITSTATUS
        } else {
            result = .signalled(status & 0x7f)           // WTERMSIG
        }
        termination = result
        return result
    }

    /// Sends `signal` unless the child has already been reaped (its PID may belong to someone
    /// else by then). A zombie not yet reaped still holds the PID, so this is never misdirected.
    func send(_ signal: Int32) {
        guard termination == nil else { return }
        kill(pid, signal)
    }

    /// Reads what the child wrote; nil at end of output (the pipe is then closed), an empty
    /// array when nothing is waiting.
    func readOutput() -> [UInt8]? {
        guard outputDescriptor >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(outputDescriptor, $0.baseAddress, $0.count) }
            if n > 0 { return Array(buffer[0..<n]) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return [] }
            close(outputDescriptor)
            outputDescriptor = -1
            return nil
        }
    }

    /// Stops the child: SIGTERM, then SIGKILL if it is still there after `grace`; waits for it
    /// and reaps it. Blocks (in `poll()`) for at most `grace` plus a moment.
    @discardableResult
    func terminate(grace: Duration) -> Termination {
        if !hasExited {
            send(SIGTERM)
            if !waitForExit(until: .now + grace) {
                send(SIGKILL)
                // SIGKILL cannot be caught; the bound only guards against an unkillable
                // (uninterruptible I/O) child, which is then reaped in deinit.
                _ = waitForExit(until: .now + .seconds(5))
            }
        }
        return hasExited ? reap() : .unknown
    }

    /// Polls the exit descriptor until it is readable or `deadline` passes.
    func waitForExit(until deadline: Instant) -> Bool {
        var poller = Poller()
        poller.add(exitDescriptor, .readable)
        return (try? poller.wait(until: deadline)) ?? false
    }
}

/// The thread that waits for one child's exit without reaping it.
private enum Reaper {
    static func start(pid: pid_t, notify: Int32) {
        // A thread that only waits needs little stack.
        BlockingThread.start(name: "et-reaper", stackSize: 64 << 10) {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            // Exited, or ECHILD (reaped elsewhere): either way the owner must look now.
            close(notify)
        }
    }
}
