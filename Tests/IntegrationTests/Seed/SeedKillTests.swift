import ArgumentParser
import entropy_tunnel
import EntropyTunnelCore
import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `seed load` and `seed save` through the real binary and the real kernel: the credited
/// RNDADDENTROPY calls are read from strace's log; an unprivileged user, an unsafe and a read-only
/// state directory.
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: getuid() == 0, "credits the kernel's pool with ioctl(RNDADDENTROPY): needs root"))
struct SeedKillTests {
    /// strace, installed with apt-get when missing (as install/prerequisites.sh does).
    static func strace() throws -> String {
        for path in ["/usr/bin/strace", "/bin/strace"] where FileManager.default.isExecutableFile(atPath: path) { return path }
        let install = try Shell.capture("sh", ["-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends strace " +
                                               "|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends strace)"])
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "apt-get install strace failed: \(install.stderr)")
        return "/usr/bin/strace"
    }

    /// A machine-id that says "not a first boot", so a durable seed.credit is credited.
    static func machineID(in directory: String) throws -> String {
        let path = directory + "/machine-id"
        try "0123456789abcdef0123456789abcdef\n".write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    /// The PID of `parent`'s first child (from /proc/PID/task/*/children), or nil.
    static func child(of parent: Int32) -> Int32? {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(parent)/task") else { return nil }
        for task in tasks {
            let text = (try? String(contentsOfFile: "/proc/\(parent)/task/\(task)/children", encoding: .utf8)) ?? ""
            if let pid = text.split(separator: " ").first.flatMap({ Int32($0) }) { return pid }
        }
        return nil
    }

    /// The credited RNDADDENTROPY calls in strace's log: entropy_count > 0, returning 0, or cut
    /// short by the kill (`<unfinished ...>`: the kernel may have credited it, so it counts).
    static func creditedCalls(inLog log: String) -> Int {
        log.split(separator: "\n").filter { line in
            guard line.contains("RNDADDENTROPY"), let range = line.range(of: "entropy_count=") else { return false }
            let count = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
            return count > 0 && (line.hasSuffix("= 0") || line.hasSuffix("= 0 (DELAYED)") || line.contains("<unfinished"))
        }.count
    }

    @Test("seed load killed with SIGKILL at random points over a whole load (ioctls slowed by 10 ms) never credits a seed twice; 100 runs")
    func killNineNeverCreditsTwice() throws {
        let strace = try Self.strace()
        let scratch = try makeScratchDirectory()
        let state = scratch + "/state"
        let machineID = try Self.machineID(in: scratch)
        let log = scratch + "/strace.log"
        let first = try runTunnel(["seed", "save", "--state-dir", state])
        try #require(first.status == 0, "\(first.stderr)")

        var creditedBySeed: [String: Int] = [:]
        var creditedLoads = 0, killed = 0, completed = 0, seedsPresent = 0
        let started = Date()
        // Run 0 is not killed: it measures how long a whole load takes under strace here, and
        // the kills of the other runs fall uniformly over that span (plus 10 %).
        var span: UInt32 = 30_000
        for run in 0...100 {
            // The seed that a credited ioctl in this run can only have come from.
            let seedFile = state + "/" + SeedStore.creditName
            let before = FileManager.default.fileExists(atPath: seedFile) ? try sha256(ofFile: seedFile) : nil
            if before != nil { seedsPresent += 1 }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: strace)
            // inject=...delay_exit: each ioctl returns 10 ms late, so a kill often lands right
            // after a credit: the moment a wrong order (credit, then delete) would be caught.
            process.arguments = ["-f", "-qq", "-e", "trace=ioctl", "-e", "signal=none", "-e", "inject=ioctl:delay_exit=10000", "-o", log,
                                 tunnelBinary, "seed", "load", "--state-dir", state, "--machine-id", machineID]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // The tracee is strace's child: wait for it to exist (or strace to end), then kill it
            // by PID after a random delay. The delay is the experiment, not a synchronisation.
            var tracee: Int32?
            waitUntil(10) {
                tracee = Self.child(of: process.processIdentifier)
                return tracee != nil || !process.isRunning
            }
            let spawned = Date()
            if run > 0 {
                usleep(UInt32.random(in: 0...span))
                if let tracee, process.isRunning { kill(tracee, SIGKILL) }
            }
            process.waitUntilExit()
            if run == 0 {
                span = UInt32(Date().timeIntervalSince(spawned) * 1.1e6)
                try #require(process.terminationStatus == 0, "the unkilled load failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            // strace ends the way its tracee ended (by the same signal).
            if process.terminationReason == .uncaughtSignal {
                killed += 1
            } else {
                completed += 1
            }
            let credited = Self.creditedCalls(inLog: text)
            #expect(credited <= 1, "one load credited \(credited) times:\n\(text)")
            if credited > 0 {
                creditedLoads += 1
                let key = try #require(before, "a credit with no seed.credit present before the run:\n\(text)")
                creditedBySeed[key, default: 0] += 1
            }
        }
        let doubles = creditedBySeed.values.filter { $0 > 1 }.count
        print("seed kill -9: \(killed + completed - 1) killed-at-random runs, \(creditedLoads) credited loads, \(doubles) double credits " +
              "(\(killed) killed, \(completed) completed (one of them the unkilled calibration run), kills over 0-\(span / 1000) ms, " +
              "\(seedsPresent) started with a seed.credit; " +
              String(format: "%.1f s)", Date().timeIntervalSince(started)))
        #expect(doubles == 0, "seeds credited more than once: \(creditedBySeed.filter { $0.value > 1 })")
        #expect(creditedLoads > 0, "no load got as far as crediting: the experiment saw nothing")
        #expect(Date().timeIntervalSince(started) < figureBound(60))
    }

    @Test("an unprivileged user's seed load mixes without credit and says so; an unsafe directory exits 78")
    func unprivilegedAndUnsafe() throws {
        let scratch = try makeScratchDirectory()
        let state = scratch + "/state"
        _ = try Shell.capture("sh", ["-c", "chmod 755 '\(scratch)' && mkdir -m 700 '\(state)' && chown 65534:65534 '\(state)'"])
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", tunnelBinary, "seed", "load", "--state-dir", state]
        let firstRun = try Shell.capture("setpriv", asNobody)
        #expect(firstRun.status == 0, "\(firstRun.stderr)")
        #expect(firstRun.stderr.contains("no seed to load") && firstRun.stderr.contains("saved a new seed"), "\(firstRun.stderr)")
        let second = try Shell.capture("setpriv", asNobody)
        #expect(second.status == 0)
        #expect(second.stderr.contains("mixed, 0 bits credited: this process lacks CAP_SYS_ADMIN"), "\(second.stderr)")

        chown(state, 0, 0)
        let foreign = try Shell.capture("setpriv", asNobody)
        #expect(foreign.status == 78 && foreign.stderr.contains("cannot open the state directory \(state): Permission denied"),
                "\(foreign.stderr)")
        chmod(state, 0o777)
        let unsafe = try runTunnel(["seed", "load", "--state-dir", state])
        #expect(unsafe.status == 78)
        #expect(unsafe.stderr.contains("writable by group or others") && unsafe.stderr.contains("chmod 0700 \(state)"), "\(unsafe.stderr)")
        chmod(state, 0o700)
        let noCredit = try runTunnel(["seed", "load", "--state-dir", state, "--no-credit"])
        #expect(noCredit.status == 0 && noCredit.stderr.contains("mixed, 0 bits credited: --no-credit was given"), "\(noCredit.stderr)")
    }

    @Test("seed load/save parse; help says when credit is given")
    func parsing() throws {
        let load = try #require(try EntropyTunnelCommand.parseAsRoot(["seed", "load", "--no-credit"]) as? SeedLoadCommand)
        #expect(load.noCredit && load.seed.stateDir == "/var/lib/entropy-tunnel")
        let save = try #require(try EntropyTunnelCommand.parseAsRoot(["seed", "save", "--state-dir", "/srv/et"]) as? SeedSaveCommand)
        #expect(save.seed.stateDir == "/srv/et")
        #expect(throws: (any Error).self) { try EntropyTunnelCommand.parseAsRoot(["seed", "load", "--state-dir", "relative"]) }
        let help = EntropyTunnelCommand.helpMessage(for: SeedLoadCommand.self)
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for phrase in ["durably", "seed.credit", "first boot", "CAP_SYS_ADMIN", "--no-credit", "exit 0"] {
            #expect(help.contains(phrase), "help lacks \(phrase):\n\(help)")
        }
    }

    @Test("seed load on a read-only state directory (a private mount namespace): reads the seed, mixes it without credit, exit 0 with a warning",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare"))
    func readOnlySeedDirectory() throws {
        let dir = try Scratch.directory("et-roseed")
        let state = dir + "/state"
        // A creditable seed, saved while the directory was writable.
        let save = try Shell.capture(tunnelBinary, ["seed", "save", "--state-dir", state])
        #expect(save.status == 0, "\(save.stderr)")
        #expect(FileManager.default.fileExists(atPath: state + "/seed.credit"))
        let seedBefore = try Data(contentsOf: URL(fileURLWithPath: state + "/seed.credit"))
        // In a mount namespace of its own the directory is bind-mounted read-only over itself;
        // nothing changes for the rest of the machine.
        let script = "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && shift && exec \"$@\""
        let load = try Shell.capture("unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", state,
                                                 tunnelBinary, "seed", "load", "--state-dir", state])
        #expect(load.signal == nil)
        #expect(load.status == 0, "\(load.stdout)\n\(load.stderr)")
        #expect(load.stderr.contains("loaded 64 bytes from \(state)/seed.credit, mixed, 0 bits credited"), "\(load.stderr)")
        #expect(load.stderr.contains("Read-only file system") || load.stderr.contains("read-only"), "\(load.stderr)")
        #expect(load.stderr.contains("warning:"), "\(load.stderr)")
        // Outside the namespace nothing moved: the seed is still there, unchanged (it could not be deleted).
        #expect(try Data(contentsOf: URL(fileURLWithPath: state + "/seed.credit")) == seedBefore)
    }
}
