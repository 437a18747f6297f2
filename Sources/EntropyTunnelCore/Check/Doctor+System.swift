#if canImport(Glibc)
import Glibc
#endif

extension Doctor {
    /// The kernel's CRNG, and what the configured sink needs from this machine.
    func checkKernel(_ configuration: RunConfiguration) async -> [CheckResult] {
        var results: [CheckResult] = []
        if KernelRandomDevice.crngReady() {
            results.append(CheckResult("kernel CRNG", .pass, "ready (getrandom with GRND_NONBLOCK answers)"))
        } else {
            results.append(CheckResult("kernel CRNG", .warning, "not ready yet (getrandom with GRND_NONBLOCK would block)",
                                       fix: "start the tunnel (`systemctl start entropy-tunnel`): its first feed makes it ready"))
        }
        switch configuration.sink {
        case .kernel:
            results.append(checkKernelSink())
        case .rngd:
            results += await checkRngd(configuration)
        case .fifo:
            results.append(CheckResult("sink fifo", .skipped, "nothing to check here: another program must read \(configuration.fifoPath)"))
        }
        // What else the daemon writes besides the sink: the metrics file, when configured.
        if let metrics = await checkMetricsDirectory(configuration) { results.append(metrics) }
        return results
    }

    /// `--metrics-file`: its directory exists and the service user may create files in it (the
    /// daemon writes a temporary file there and renames it). node_exporter's textfile directory
    /// belongs to root (Debian's prometheus-node-exporter): the service user needs a grant.
    /// Asked as that user with `runuser ... test -w`, so ACLs count; skipped when not root.
    func checkMetricsDirectory(_ configuration: RunConfiguration) async -> CheckResult? {
        guard let path = configuration.metricsFile else { return nil }
        let directory = FileSystem.parent(of: path)
        let name = "metrics file \(path)"
        let grant = "chgrp \(ServiceUnit.user) \(ShellQuote.quote(directory)) && chmod g+w \(ShellQuote.quote(directory))"
        guard FileSystem.isDirectory(directory) else {
            return CheckResult(name, .fail, "its directory \(directory) does not exist",
                               fix: "mkdir -p \(ShellQuote.quote(directory)) && \(grant) (or install prometheus-node-exporter, then the grant)")
        }
        guard getuid() == 0, getpwnam(ServiceUnit.user) != nil else {
            return CheckResult(name, .skipped, "not checked whether user \(ServiceUnit.user) may write \(directory): run check as root")
        }
        let probe: ExternalCommand.Result
        do throws(TunnelError) {
            probe = try await ExternalCommand.run("runuser", ["-u", ServiceUnit.user, "--", "test", "-w", directory, "-a", "-x", directory])
        } catch {
            return CheckResult(name, .skipped, "not checked: \(error.message)")
        }
        guard probe.succeeded else {
            return CheckResult(name, .fail, "user \(ServiceUnit.user) may not create files in \(directory): no metrics are written",
                               fix: grant)
        }
        return CheckResult(name, .pass, "\(directory) is writable by user \(ServiceUnit.user)")
    }

    /// The kernel sink credits bytes only with CAP_SYS_ADMIN: the same probe the sink makes
    /// (a 0-byte RNDADDENTROPY, `KernelRandomDevice.init`).
    func checkKernelSink() -> CheckResult {
        let name = "sink kernel: CAP_SYS_ADMIN"
        do throws(TunnelError) {
            let device = try KernelRandomDevice()
            defer { device.close() }
            switch device.mode {
            case .ioctl:
                return CheckResult(name, .pass, "RNDADDENTROPY accepted: bytes are credited while the CRNG is not ready (mixed after), and the CRNG reseeded")
            case .write:
                return CheckResult(name, .fail,
                                   "missing as \(Self.userName(getuid())): bytes would only be mixed in by write(), never credited, no reseed",
                                   fix: "run as root or with AmbientCapabilities=CAP_SYS_ADMIN (the installed unit has it)")
            }
        } catch {
            return CheckResult(name, .fail, error.message, fix: "run entropy-tunnel on the machine itself, as root or with CAP_SYS_ADMIN")
        }
    }

    /// rngd is there and of a known flavour; rngd 5 on a kernel since 5.18 feeds only once.
    func checkRngd(_ configuration: RunConfiguration) async -> [CheckResult] {
        let explicitPath = configuration.rngdPath
        let fifo = configuration.fifoPath
        let extra = configuration.rngdArguments
        let resolved: Result<RngdCommand, TunnelError>
        do throws(TunnelError) {
            resolved = .success(try await BlockingThread.run(name: "et-check-rngd") { () throws(TunnelError) -> RngdCommand in
                try RngdCommand.resolve(explicitPath: explicitPath, fifo: fifo, extraArguments: extra)
            })
        } catch {
            resolved = .failure(error)
        }
        switch resolved {
        case .failure(let error):
            return [CheckResult("sink rngd", .fail, error.message,
                                fix: "install Debian package rng-tools5 (`apt-get install rng-tools5`), or give rngd's path with --rngd PATH " +
                                    "(rngd in the config file); or use `--sink kernel`, which needs no rngd")]
        case .success(let command):
            var results = [CheckResult("sink rngd", .pass, "\(command.executable) (\(command.flavor.package))")]
            if command.flavor == .rngTools5, let release = Self.kernelRelease(), let version = Self.kernelVersion(release),
               version >= (5, 18) {
                results.append(CheckResult("sink rngd on kernel \(release)", .warning,
                                           "rngd 5 feeds the kernel once after boot and then waits forever on kernels since 5.18",
                                           fix: "use `--sink kernel` (sink = \"kernel\" in the config file): it feeds and reseeds the kernel itself"))
            }
            return results
        }
    }

    /// `uname -r`.
    static func kernelRelease() -> String? {
        var name = utsname()
        guard uname(&name) == 0 else { return nil }
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// (major, minor) of a kernel release such as `6.1.0-18-amd64`.
    package static func kernelVersion(_ release: String) -> (Int, Int)? {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return numbers.count == 2 ? (numbers[0], numbers[1]) : nil
    }

    // MARK: - The unit

    /// The unit is enabled and active when installed; not installed is skipped unless
    /// `expectUnit`; without systemd there is no one to ask.
    package func checkUnitState() async -> CheckResult {
        let unit = unitPath.split(separator: "/").last.map(String.init) ?? ServiceUnit.name
        let name = "service \(unit)"
        guard FileSystem.exists(unitPath) else {
            if expectUnit {
                return CheckResult(name, .fail, "not installed (\(unitPath) does not exist)",
                                   fix: "entropy-tunnel install --host HOST (it writes the unit, enables and starts it)")
            }
            return CheckResult(name, .skipped, "not installed (\(unitPath) does not exist)")
        }
        guard FileSystem.isDirectory(systemdDirectory) else {
            return CheckResult(name, .skipped, "installed, but systemd does not run here (no \(systemdDirectory)): cannot ask systemctl")
        }
        let deadline = Instant.now + Self.startingWait
        while true {
            let enabled: ExternalCommand.Result
            let active: ExternalCommand.Result
            do throws(TunnelError) {
                enabled = try await ExternalCommand.run("systemctl", ["is-enabled", unit])
                active = try await ExternalCommand.run("systemctl", ["is-active", unit])
            } catch {
                return CheckResult(name, .skipped, "installed, but systemctl cannot be used: \(error.message)")
            }
            let verdict = Self.unitVerdict(enabled: enabled.stdout.trimmingSpaces, enabledOK: enabled.succeeded,
                                           active: active.stdout.trimmingSpaces, activeOK: active.succeeded,
                                           mayWait: Instant.now < deadline)
            switch verdict {
            case .wait:
                // A unit that is starting (install's `enable --now --no-block`, a restart) is
                // asked again shortly: it is not a failure.
                try? await Task.sleep(for: .milliseconds(250))
            case .result(let status, let detail):
                return CheckResult(name, status, detail, fix: Self.unitFix(status, unit: unit))
            }
        }
    }

    /// How long `checkUnitState` waits for a unit that is starting (`activating`).
    static let startingWait: Duration = .seconds(10)

    /// What `systemctl is-enabled` and `is-active` say of the unit, as a check.
    package enum UnitVerdict: Equatable {
        /// Starting: ask again.
        case wait
        case result(CheckResult.Status, String)
    }

    /// The unit's check from systemctl's answers: enabled and active passes; starting
    /// (`activating`, `reloading`) is asked again while `mayWait`, then is a warning, never a
    /// failure; anything else (failed, inactive, disabled, not found) fails.
    package static func unitVerdict(enabled: String, enabledOK: Bool, active: String, activeOK: Bool, mayWait: Bool) -> UnitVerdict {
        let detail = "\(enabled.isEmpty ? "?" : enabled), \(active.isEmpty ? "?" : active)"
        let starting = active == "activating" || active == "reloading"
        if enabledOK && starting {
            return mayWait ? .wait : .result(.warning, detail + " (still starting after \(Int(startingWait.seconds)) s)")
        }
        guard enabledOK, activeOK else { return .result(.fail, detail) }
        return .result(.pass, detail)
    }

    /// The fix line for a unit check with `status`.
    static func unitFix(_ status: CheckResult.Status, unit: String) -> String? {
        switch status {
        case .fail:
            return "see why: `systemctl status \(unit)` and `journalctl -u \(unit) -n 50`; then `systemctl enable --now \(unit)`"
        case .warning:
            return "see whether it gets ready: `systemctl status \(unit)` and `journalctl -u \(unit) -f`"
        case .pass, .skipped:
            return nil
        }
    }
}
