import ArgumentParser
import EntropyTunnelCore
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel status`: one screen about the running daemon, from the state file `run` writes.
package struct StatusCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether the daemon runs, which host it uses and what it delivered.",
        discussion: """
            Reads the state file that `run` keeps (--state-file). Exit status as for an LSB \
            `status` action: 0 running and healthy, 1 running but degraded (on a fallback host, or \
            the last on-demand fill came from one; no kernel feed for 2 x --kernel-interval + 10 s, \
            no bytes and no connection with a FIFO sink, or the kernel sink in write mode), 3 not \
            running (stopped, crashed, or no state file). --json prints the state file with a \
            computed "health" member.
            """
    )

    @Option(help: ArgumentHelp("The state file `run` writes.", valueName: "path"))
    package var stateFile: String = DaemonState.defaultPath

    @Flag(help: "Print the state as JSON, with a computed \"health\" member.")
    package var json = false

    /// The largest state file `status` reads.
    static let stateFileLimit = 1 << 20

    package func run() throws {
        let text: String?
        do {
            // A state file is a few KiB; whatever is planted there is read no further than 1 MiB.
            text = try FileSystem.readIfExists(stateFile, limit: Self.stateFileLimit + 1)
        } catch {
            printError("entropy-tunnel status: cannot read \(PrintableText.escape(stateFile, for: .terminal)): \(PrintableText.escape(error.message, for: .terminal)); run status as root or as a member of group entropy-tunnel")
            throw ExitCode(4)  // LSB: status unknown
        }
        guard let text else {
            if json {
                print(Self.json(Missing(health: DaemonHealth.missing, stateFile: stateFile)))
            } else {
                print("○ entropy-tunnel - not running: no state file \(PrintableText.escape(stateFile, for: .terminal))")
                print("  Start it with `systemctl start entropy-tunnel` (or `entropy-tunnel run`; pass --state-file if it uses another path).")
            }
            throw ExitCode(3)
        }
        guard text.utf8.count <= Self.stateFileLimit else {
            printError("entropy-tunnel status: \(PrintableText.escape(stateFile, for: .terminal)) is not a state file written by " +
                       "entropy-tunnel run (larger than 1 MiB); it is damaged: remove it")
            throw ExitCode(4)
        }
        var state: DaemonState
        do throws(DaemonState.ReadError) {
            state = try DaemonState.decode(text)
        } catch {
            // Checked before anything is computed from it: a planted 1e300 must not trap a conversion.
            printError("entropy-tunnel status: \(PrintableText.escape(stateFile, for: .terminal)) " +
                       "\(PrintableText.escape(error.message, for: .terminal)); remove it, a running daemon rewrites it within 10 s")
            throw ExitCode(4)  // LSB: status unknown
        }
        let now = WallClock.now()
        let health = DaemonHealth(state: state, now: now, pidAlive: Self.isEntropyTunnel(pid: state.pid))
        if json {
            state.health = health
            print(Self.json(state))
        } else {
            print(StatusScreen(state: state, health: health, now: now).text, terminator: "")
        }
        if health.exitCode != 0 { throw ExitCode(health.exitCode) }
    }

    /// `status --json` without a state file.
    struct Missing: Encodable {
        var health: DaemonHealth
        var stateFile: String
        enum CodingKeys: String, CodingKey { case health, stateFile = "state_file" }
    }

    /// JSON as the state file is written: two spaces per level, members by name.
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return terminalSafeJSON(text)
    }

    /// `json` with every scalar that is not printable (C0 and C1 controls, bidi overrides and
    /// other invisible ones, which the encoder leaves raw above U+001F) written as `\uXXXX`
    /// (UTF-16 pairs above U+FFFF, as JSON wants): `status --json` goes to a terminal too. Such
    /// scalars can only occur inside strings, so the result is the same JSON value.
    static func terminalSafeJSON(_ json: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            if scalar == "\n" || PrintableText.isPrintable(scalar) {
                out.append(scalar)
                continue
            }
            for unit in String(scalar).utf16 {
                let hex = String(unit, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            }
        }
        return String(out)
    }

    /// Whether `pid` is alive (`kill(pid, 0)`) and is entropy-tunnel (`/proc/PID/cmdline`): a
    /// crashed daemon's pid may have been reused.
    static func isEntropyTunnel(pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let bytes = try? FileSystem.readBytes("/proc/\(pid)/cmdline", limit: 64 << 10) else { return false }
        return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self).contains("entropy-tunnel")
    }
}

/// The text of `status`, modelled on `systemctl status`.
struct StatusScreen {
    let state: DaemonState
    let health: DaemonHealth
    let now: Double

    var text: String {
        var lines: [String] = []
        let marker: String
        let headline: String
        switch health.status {
        case .healthy:
            marker = "●"
            headline = "running (healthy) since \(when(state.startedAt))"
        case .degraded:
            marker = "●"
            headline = "running (DEGRADED) since \(when(state.startedAt))"
        case .stopped:
            marker = "○"
            headline = state.running
                ? "not running: crashed or killed (last update \(when(state.updated)))"
                : "stopped since \(when(state.stoppedAt))"
        }
        lines.append("\(marker) entropy-tunnel - \(headline)")
        func row(_ label: String, _ value: String) {
            lines.append(String(repeating: " ", count: max(0, 11 - label.count)) + label + ": " + value)
        }
        row("PID", "\(state.pid) (version \(state.version))")
        // On demand (the state has a reserve), a session is held only while the reserve fills.
        let reserve = state.reserve
        if let current = state.current {
            row("Host", "\(current.host)\(current.preferred ? "" : " (FALLBACK)") since \(when(current.since))")
            if let key = current.hostKey { row("Host key", key) }
            if let key = current.clientKey { row("Client key", key) }
        } else if state.idleSince != nil {
            row("Host", "none held: the host ended the idle session \(ago(state.idleSince)) (nothing was read from the " +
                "\(state.sink == .kernel ? "tunnel" : "FIFO")); connects again when bytes are wanted")
        } else if let reserve {
            row("Host", "none held between fills (on demand); " + (reserve.lastHost.map { "last fill from \($0)" } ?? "no fill yet"))
        } else {
            row("Host", "not connected")
        }
        if let reserve {
            row("Reserve", "\(reserve.level) of \(reserve.capacity) bytes, \(reserve.fills) fills")
        }
        for host in state.hosts where host.state != .connected {
            var text = "\(host.host): "
            switch host.state {
            case .backingOff: text += "backing off until \(Self.time(host.retryAt))"
            case .failed: text += "failed, to be tried again at the next failover or failback probe"
            case .ok, .connected: text += "ok"
            }
            if let error = host.lastError { text += " (last error \(ago(host.lastErrorAt)): \(error.prefix(100)))" }
            row("Other host", text)
        }
        let thisConnection = state.current.map { " (\(ByteSize.human($0.bytes)) on this connection)" } ?? ""
        row("Bytes", "\(ByteSize.human(state.bytesDelivered)) delivered\(thisConnection), " +
            (reserve != nil ? "\(state.connections) sessions" : "\(max(0, state.connections - 1)) reconnects"))
        if let kernel = state.kernel, state.sink == .kernel {
            row("Sink", "kernel, mode \(kernel.mode == "write" ? "write (no CAP_SYS_ADMIN: mixed, not credited, no reseed)" : kernel.mode)")
            row("Feeds", "\(kernel.feeds) feeds, \(kernel.reseeds) reseeds, \(ByteSize.human(kernel.bytesMixed)) mixed, " +
                "\(kernel.bitsCredited) bits credited")
            row("Last feed", kernel.lastFeedAt == nil ? "none yet" : when(kernel.lastFeedAt))
        } else {
            row("Sink", state.sink.rawValue)
        }
        if let rngd = state.rngd, state.sink == .rngd {
            row("rngd", "\(rngd.pid.map { "pid \($0)" } ?? "not running"), \(rngd.restarts) restarts")
        }
        row("Health", "\(state.healthWindows.passed) windows passed, \(state.healthWindows.dropped) dropped")
        if let error = state.lastError {
            row("Last error", "\(Self.time(error.at)) (\(ago(error.at))): \(error.message)")
        }
        if health.status != .healthy {
            for reason in health.reasons { row(health.status == .degraded ? "Degraded" : "Why", reason) }
        }
        // The file's strings (a host's error text above all) reach root's terminal: no escape
        // sequences, no bidi tricks, one line each.
        return lines.map { PrintableText.escape($0, for: .terminal) }.joined(separator: "\n") + "\n"
    }

    /// `2026-11-24 15:40:34 UTC; 3 min ago`.
    func when(_ seconds: Double?) -> String { "\(Self.time(seconds)); \(ago(seconds))" }

    /// `3 min ago`.
    func ago(_ seconds: Double?) -> String { seconds.map { "\(Age.text(now - $0)) ago" } ?? "?" }

    /// `2026-11-24 15:40:34 UTC` in the local time zone (`seconds` as `DaemonState.decode`
    /// checked it: a time between 1970 and the year 5000).
    static func time(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0, seconds <= 1e11 else { return "?" }
        var t = time_t(seconds)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return "?" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %Z", &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
