import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// The FIFO against hostile local users and careless admins: a directory or FIFO others could use
/// is refused (exit 78) and left alone; its size, path and group are checked before anything is made.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FIFOSinkTests {
    /// Runs `run` with the FIFO at `fifo`, expecting exit 78 with `message`; returns its result.
    @discardableResult
    func expectFIFORefused(_ fifo: String, _ message: String, extra: [String] = []) throws -> Shell.Result {
        let result = try runTunnel(["run", "--host", "127.0.0.1:1", "--sink", "fifo", "--fifo", fifo] + extra +
                                   ["--identity", throwawayClient.identity, "--known-hosts", throwawayClient.knownHosts])
        #expect(result.signal == nil && result.status == 78, "\(fifo): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        return result
    }

    @Test("a FIFO directory others can write to is refused")
    func worldWritableDirectory() throws {
        let directory = try makeScratchDirectory()
        chmod(directory, 0o777)
        try expectFIFORefused(directory + "/f", "is unsafe: \(directory) belongs to uid 0 with mode 777")
        #expect(directoryEntries(directory).isEmpty)
    }

    @Test("a FIFO directory owned by another user is refused")
    func foreignDirectory() throws {
        let directory = try makeScratchDirectory()
        chown(directory, 65534, 65534)
        try expectFIFORefused(directory + "/f", "belongs to uid 65534")
    }

    @Test("a FIFO planted by another user (setpriv) is refused and left alone")
    func plantedFIFO() throws {
        let directory = try makeScratchDirectory()
        chmod(directory, 0o777)
        _ = try Shell.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "mkfifo", "-m", "0666", directory + "/f"])
        chmod(directory, 0o755)
        try expectFIFORefused(directory + "/f", "FIFO \(directory)/f belongs to uid 65534")
        var st = stat()
        #expect(lstat(directory + "/f", &st) == 0 && st.st_uid == 65534 && st.st_mode & 0o777 == 0o666)
    }

    @Test("our own FIFO writable by others is refused")
    func writableFIFO() throws {
        let directory = try makeScratchDirectory()
        mkfifo(directory + "/f", 0o600)
        chmod(directory + "/f", 0o666)
        try expectFIFORefused(directory + "/f", "another user could read or inject bytes")
    }

    @Test("a FIFO path that is a regular file, a symlink or a directory is refused untouched",
          arguments: ["a regular file", "a symbolic link", "a directory"])
    func wrongType(kind: String) throws {
        let directory = try makeScratchDirectory()
        let path = directory + "/f"
        let target = directory + "/target"
        switch kind {
        case "a regular file": try "data".write(toFile: path, atomically: false, encoding: .utf8)
        case "a symbolic link":
            try "data".write(toFile: target, atomically: false, encoding: .utf8)
            symlink(target, path)
        default: mkdir(path, 0o700)
        }
        let result = try expectFIFORefused(path, "\(path) is \(kind)")
        #expect(result.stderr.contains("choose another path with --fifo"), "the fix is named: \(result.stderr)")
        // Untouched: the same kind of file, the same content; a link still to its target, which is unchanged.
        var st = stat()
        #expect(lstat(path, &st) == 0)
        switch kind {
        case "a regular file":
            #expect(st.st_mode & S_IFMT == S_IFREG)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "data")
        case "a symbolic link":
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path) == target)
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "data")
        default:
            #expect(st.st_mode & S_IFMT == S_IFDIR)
        }
    }

    @Test("--fifo-size above pipe-max-size, a relative --fifo, an unknown --fifo-group: exit 78")
    func fifoSettings() throws {
        let directory = try makeScratchDirectory()
        try expectFIFORefused(directory + "/f", "pipe-max-size", extra: ["--fifo-size", "512M"])
        try expectFIFORefused("relative/f", "absolute path")
        try expectFIFORefused(directory + "/g", "no such group", extra: ["--fifo-group", "et-no-such-group"])
    }

    @Test("--fifo-group lets a group read the FIFO: mode 0640, that group")
    func fifoGroup() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let fifo = host.directory + "/run/f"
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", fifo, "--fifo-group", "nogroup"],
                                       logPath: host.directory + "/run.log")
        #expect(waitUntil(10) { tunnel.log.contains("fifo ready") }, "\(tunnel.log)")
        var st = stat()
        #expect(stat(fifo, &st) == 0 && st.st_mode & 0o777 == 0o640 && st.st_gid == getgrnam("nogroup").pointee.gr_gid)
        #expect(tunnel.stop() == 0)
    }
}
