import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real systemd booted as PID 1 for tests, without a VM and without touching the machine.
///
/// `unshare` makes new pid, mount, uts and net namespaces; inside them `/` is an overlay whose
/// upper layer is a tmpfs (every write is thrown away), `/tmp` and `/run` are private tmpfs, and
/// `/lib/systemd/systemd --system` is exec'd in a `chroot` of the overlay. The box's network is
/// its own: only `lo`, so a test runs its entropy host inside the box too. Commands run inside
/// with `nsenter`. `shutdown()` kills the box's PID 1 (which takes every process of the box with
/// it) by PID; nothing else is ever signalled.
///
/// Needs root. Never boots systemd on the real root: systemd-tmpfiles would empty /tmp.
public final class SystemdBox: @unchecked Sendable {
    // Safe: `process` and `pid` are set once in init; `shutdown` is idempotent under `lock`.
    /// The host-side directory with the boot script and the console log.
    public let directory: String
    /// systemd's PID (PID 1 inside the box), as the host sees it.
    public let pid: Int32
    private let process: Process
    private let lock = NSLock()
    private var stopped = false

    /// The console log: systemd's own messages.
    public var consoleLog: String {
        (try? String(contentsOfFile: directory + "/console.log", encoding: .utf8)) ?? ""
    }

    /// Boots the box and waits (up to `timeout` seconds) until systemd reports
    /// `running` or `degraded`.
    public init(timeout: Double = 60) throws {
        guard getuid() == 0 else { throw HarnessError("SystemdBox needs root (namespaces, mounts)") }
        guard FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd") else {
            throw HarnessError("/lib/systemd/systemd is missing: install the systemd package")
        }
        var template = Array("/var/tmp/entropy-tunnel-sdbox.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw HarnessError("mkdtemp failed: \(errno)") }
        directory = String(cString: made)
        try FileManager.default.createDirectory(atPath: directory + "/rw", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/root", withIntermediateDirectories: true)
        let boot = """
            set -e
            B=$1
            ip link set lo up
            mount -t tmpfs tmpfs "$B/rw"
            mkdir -p "$B/rw/upper" "$B/rw/work"
            mount -t overlay overlay -o "lowerdir=/,upperdir=$B/rw/upper,workdir=$B/rw/work" "$B/root"
            for d in dev sys; do mount --rbind /$d "$B/root/$d"; done
            mount -t proc proc "$B/root/proc"
            mount -t tmpfs tmpfs "$B/root/tmp"
            mount -t tmpfs tmpfs "$B/root/run"
            cd "$B/root"
            exec chroot . env container=lxc /lib/systemd/systemd --system --unit=multi-user.target --log-target=console

            """
        try boot.writeReplacing(toFile: directory + "/boot.sh")
        createFile(atPath: directory + "/console.log")
        let console = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/console.log"))

        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--pid", "--fork", "--mount", "--uts", "--net", "--propagation", "private",
                             "/bin/bash", directory + "/boot.sh", directory]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = console
        process.standardError = console
        try process.run()
        try? console.close()

        // unshare --fork has exactly one child: the box's PID 1 (bash, then chroot, then systemd).
        let unsharePID = process.processIdentifier
        var found: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, found == 0 {
            let children = (try? String(contentsOfFile: "/proc/\(unsharePID)/task/\(unsharePID)/children", encoding: .utf8)) ?? ""
            if let child = children.split(separator: " ").first.flatMap({ Int32($0) }),
               let comm = try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8),
               comm.hasPrefix("systemd") {
                found = child
            } else if !process.isRunning {
                break
            } else {
                usleep(20_000)
            }
        }
        pid = found
        guard found != 0 else {
            let log = (try? String(contentsOfFile: directory + "/console.log", encoding: .utf8)) ?? ""
            if process.isRunning { kill(unsharePID, SIGKILL) }
            process.waitUntilExit()
            throw HarnessError("systemd did not start in the box: \(log.suffix(2000))")
        }
        var state = ""
        while Date() < deadline {
            state = (try? exec(["systemctl", "is-system-running"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? ""
            if state == "running" || state == "degraded" { return }
            usleep(100_000)
        }
        shutdown()
        throw HarnessError("systemd in the box did not finish booting (state '\(state)'): \(consoleLog.suffix(2000))")
    }

    deinit { shutdown() }

    /// The `nsenter` arguments that put a command into the box (all its namespaces and its root).
    public var enter: [String] {
        ["nsenter", "-t", "\(pid)", "-m", "-p", "-u", "-n", "-r", "-w"]
    }

    /// Runs `arguments` inside the box and returns its status and output. TMPDIR is the box's
    /// own /tmp (a tmpfs of its own): the tests' TMPDIR does not exist in there.
    @discardableResult
    public func exec(_ arguments: [String], input: Data? = nil) throws -> Shell.Result {
        try Shell.capture(enter[0], Array(enter.dropFirst()) + arguments, input: input, environment: ["TMPDIR": "/tmp"])
    }

    /// Runs `arguments` inside the box; throws unless it exits 0.
    @discardableResult
    public func check(_ arguments: [String], input: Data? = nil) throws -> Shell.Result {
        let result = try exec(arguments, input: input)
        guard result.status == 0 else {
            throw HarnessError("in the box, `\(arguments.joined(separator: " "))` exited \(result.status): \(result.stderr)\(result.stdout)")
        }
        return result
    }

    /// `systemctl reset-failed` then `systemctl start UNITS...`: a test starts its units far more
    /// often than systemd's default start limit (5 starts in 10 s, restarts after a kill
    /// included) allows, and a refused start ("Start request repeated too quickly") would say
    /// nothing about the unit. reset-failed flushes the unit's start counter.
    @discardableResult
    public func start(_ units: [String]) throws -> Shell.Result {
        try check(["systemctl", "reset-failed"] + units)
        return try exec(["systemctl", "start"] + units)
    }

    /// Copies a file of the machine into the box (through `/proc/PID/root`, the box's own view of
    /// its file system), so that programs built anywhere, even under the machine's /tmp, which
    /// the box hides behind its private tmpfs, can run inside it. Returns `boxPath`.
    @discardableResult
    public func copyIn(_ hostPath: String, to boxPath: String, mode: mode_t = 0o755) throws -> String {
        let target = "/proc/\(pid)/root" + boxPath
        let parent = (target as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: hostPath, toPath: target)
        chmod(target, mode)
        return boxPath
    }

    /// `systemctl show -p NAME --value` for each name.
    public func show(_ unit: String, _ properties: [String]) throws -> [String: String] {
        let out = try exec(["systemctl", "show", unit] + properties.flatMap { ["-p", $0] }).stdout
        var result: [String: String] = [:]
        for line in out.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }

    /// Kills the box's PID 1 (and with it every process in the box) and waits for `unshare`.
    public func shutdown() {
        let alreadyStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        if pid > 0 { kill(pid, SIGKILL) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        // The mounts lived in the box's mount namespace and went with it; only files remain.
        try? FileManager.default.removeItem(atPath: directory)
    }
}
