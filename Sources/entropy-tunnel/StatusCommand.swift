import ArgumentParser
import EntropyTunnelCore
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
            printError("entropy-tunnel status: cannot read \(stateFile): \(error.message); run status as root or as a member of group entropy-tunnel")
            throw ExitCode(4)  // LSB: status unknown
        }
        guard let text else {
            if json {
                print(JSONValue.object([("health", DaemonHealth.missing.json), ("state_file", .string(stateFile))]).rendered())
            } else {
                print("○ entropy-tunnel - not running: no state file \(stateFile)")
                print("  Start it with `systemctl start entropy-tunnel` (or `entropy-tunnel run`; pass --state-file if it uses another path).")
            }
            throw ExitCode(3)
        }
        guard text.utf8.count <= Self.stateFileLimit else {
            printError("entropy-tunnel status: \(PrintableText.escape(stateFile, for: .terminal)) is not a state file written by " +
                       "entropy-tunnel run (larger than 1 MiB); it is damaged: remove it")
            throw ExitCode(4)
        }
        guard let state = JSONValue.parse(text), case .object(var members) = state else {
            printError("entropy-tunnel status: \(PrintableText.escape(stateFile, for: .terminal)) is not a state file written by " +
                       "entropy-tunnel run (not a JSON object); it is damaged: remove it, a running daemon rewrites it within 10 s")
            throw ExitCode(4)
        }
        // Checked before anything is computed from it: a planted 1e300 must not trap a conversion.
        if let damage = DaemonState.damage(in: state) {
            printError("entropy-tunnel status: \(PrintableText.escape(stateFile, for: .terminal)) is damaged: " +
                       "\(PrintableText.reduce(damage, limit: 200)); remove it, a running daemon rewrites it within 10 s")
            throw ExitCode(4)
        }
        let now = WallClock.now()
        let pid = Int32(clamping: state["pid"]?.int ?? 0)
        let health = DaemonHealth(state: state, now: now, pidAlive: Self.isEntropyTunnel(pid: pid))
        if json {
            members.append(("health", health.json))
            print(JSONValue.object(members).rendered())
        } else {
            print(StatusScreen(state: state, health: health, now: now).text, terminator: "")
        }
        if health.exitCode != 0 { throw ExitCode(health.exitCode) }
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
    let state: JSONValue
    let health: DaemonHealth
    let now: Double

    var text: String {
        var lines: [String] = []
        let started = state["started_at"]?.double
        let marker: String
        let headline: String
        switch health.status {
        case .healthy:
            marker = "●"
            headline = "running (healthy) since \(Self.time(started)); \(Self.ago(started, now))"
        case .degraded:
            marker = "●"
            headline = "running (DEGRADED) since \(Self.time(started)); \(Self.ago(started, now))"
        case .stopped:
            marker = "○"
            if state["running"]?.bool == true {
                let updated = state["updated"]?.double
                headline = "not running: crashed or killed (last update \(Self.time(updated)); \(Self.ago(updated, now)))"
            } else {
                let stopped = state["stopped_at"]?.double
                headline = "stopped since \(Self.time(stopped)); \(Self.ago(stopped, now))"
            }
        }
        lines.append("\(marker) entropy-tunnel - \(headline)")
        func row(_ label: String, _ value: String) {
            lines.append(String(repeating: " ", count: max(0, 11 - label.count)) + label + ": " + value)
        }
        row("PID", "\(state["pid"]?.int ?? 0) (version \(state["version"]?.string ?? "?"))")
        // On demand (the state has a reserve), a session is held only while the reserve fills.
        let reserve = state["reserve"].flatMap { $0["capacity"]?.int != nil ? $0 : nil }
        if let current = state["current"], let host = current["host"]?.string {
            let since = current["since"]?.double
            row("Host", "\(host)\(current["preferred"]?.bool == true ? "" : " (FALLBACK)") since \(Self.time(since)); \(Self.ago(since, now))")
            if let key = current["host_key"]?.string { row("Host key", key) }
            if let key = current["client_key"]?.string { row("Client key", key) }
        } else if let reserve {
            let last = reserve["last_host"]?.string.map { "last fill from \($0)" } ?? "no fill yet"
            row("Host", "none held between fills (on demand); \(last)")
        } else {
            row("Host", "not connected")
        }
        if let reserve {
            row("Reserve", "\(reserve["level"]?.int ?? 0) of \(reserve["capacity"]?.int ?? 0) bytes, \(reserve["fills"]?.int ?? 0) fills")
        }
        for host in state["hosts"]?.array ?? [] {
            guard let name = host["host"]?.string, host["state"]?.string != "connected" else { continue }
            var text = "\(name): "
            switch host["state"]?.string {
            case "backing_off": text += "backing off until \(Self.time(host["retry_at"]?.double))"
            case "failed": text += "failed, to be tried again at the next failover or failback probe"
            default: text += "ok"
            }
            if let error = host["last_error"]?.string { text += " (last error \(Self.ago(host["last_error_at"]?.double, now)): \(error.prefix(100)))" }
            row("Other host", text)
        }
        let total = UInt64(clamping: state["bytes_delivered"]?.int ?? 0)
        let thisConnection = state["current"]?["bytes"]?.int.map { " (\(Self.human(UInt64(clamping: $0))) on this connection)" } ?? ""
        let sessions = state["connections"]?.int ?? 0
        row("Bytes", "\(Self.human(total)) delivered\(thisConnection), " +
            (reserve != nil ? "\(sessions) sessions" : "\(max(0, sessions - 1)) reconnects"))
        let sink = state["sink"]?.string ?? "?"
        if let kernel = state["kernel"], sink == "kernel" {
            let mode = kernel["mode"]?.string ?? "?"
            row("Sink", "kernel, mode \(mode == "write" ? "write (no CAP_SYS_ADMIN: mixed, not credited, no reseed)" : mode)")
            row("Feeds", "\(kernel["feeds"]?.int ?? 0) feeds, \(kernel["reseeds"]?.int ?? 0) reseeds, " +
                "\(Self.human(UInt64(clamping: kernel["bytes_mixed"]?.int ?? 0))) mixed, \(kernel["bits_credited"]?.int ?? 0) bits credited")
            let lastFeed = kernel["last_feed_at"]?.double
            row("Last feed", lastFeed == nil ? "none yet" : "\(Self.time(lastFeed)); \(Self.ago(lastFeed, now))")
        } else {
            row("Sink", sink)
        }
        if let rngd = state["rngd"], sink == "rngd" {
            row("rngd", "\(rngd["pid"]?.int.map { "pid \($0)" } ?? "not running"), \(rngd["restarts"]?.int ?? 0) restarts")
        }
        row("Health", "\(state["health_windows"]?["passed"]?.int ?? 0) windows passed, \(state["health_windows"]?["dropped"]?.int ?? 0) dropped")
        if let error = state["last_error"], let message = error["message"]?.string {
            row("Last error", "\(Self.time(error["at"]?.double)) (\(Self.ago(error["at"]?.double, now))): \(message)")
        }
        if health.status != .healthy {
            for reason in health.reasons { row(health.status == .degraded ? "Degraded" : "Why", reason) }
        }
        // The file's strings (a host's error text above all) reach root's terminal: no escape
        // sequences, no bidi tricks, one line each.
        return lines.map { PrintableText.escape($0, for: .terminal) }.joined(separator: "\n") + "\n"
    }

    /// `2026-11-24 15:40:34 UTC` in the local time zone.
    static func time(_ seconds: Double?) -> String {
        guard let seconds else { return "?" }
        var t = time_t(seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %Z", &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `3 min ago`.
    static func ago(_ seconds: Double?, _ now: Double) -> String {
        guard let seconds else { return "?" }
        let d = Int(max(0, now - seconds))
        if d < 60 { return "\(d) s ago" }
        if d < 3600 { return "\(d / 60) min ago" }
        if d < 86_400 { return "\(d / 3600) h \(d % 3600 / 60) min ago" }
        return "\(d / 86_400) days ago"
    }

    static func human(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
