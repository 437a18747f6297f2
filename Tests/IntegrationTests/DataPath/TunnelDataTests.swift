import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// Bytes through a real sshd: byte-exact, bounded by backpressure, robust to consumers coming and going.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct TunnelDataTests {
    @Test("fetch delivers 32 MiB byte-exact")
    func fetchIsByteExact() throws {
        let host = try LoopbackHost(forcedCommand: "true")
        defer { host.shutdown() }
        let data = try makeRandomFile(in: host.directory, size: 32 << 20)
        try host.setForcedCommand("cat \(data.path)")
        let output = host.directory + "/fetched.bin"
        let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "32M", "--window", "2M", "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try sha256(ofFile: output) == data.sha256)
        let attributes = try FileManager.default.attributesOfItem(atPath: output)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("run delivers 32 MiB byte-exact into the FIFO, across a reader that closes and reopens")
    func runIsByteExactAcrossReaderReopen() throws {
        let host = try LoopbackHost(forcedCommand: "true")
        defer { host.shutdown() }
        let data = try makeRandomFile(in: host.directory, size: 32 << 20)
        // `cat` with no file keeps the channel open after the data (it waits on the channel's stdin).
        try host.setForcedCommand("cat \(data.path); cat")
        let fifo = host.directory + "/run/entropy.fifo"
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", fifo], logPath: host.directory + "/run.log")
        defer { tunnel.stop() }

        let outputPath = host.directory + "/received.bin"
        createFile(atPath: outputPath)
        let output = FileHandle(forWritingAtPath: outputPath)!
        var fd = openFIFOForReading(fifo)
        #expect(fd >= 0)
        #expect(readExactly(fd, 12 << 20, into: output) == 12 << 20)
        close(fd)  // the consumer goes away...
        fd = openFIFOForReading(fifo)  // ...and comes back
        #expect(readExactly(fd, 20 << 20, into: output) == 20 << 20, "\(tunnel.log)")
        close(fd)
        try output.close()
        #expect(try sha256(ofFile: outputPath) == data.sha256)

        var st = stat()
        lstat(fifo, &st)
        #expect(st.st_mode & S_IFMT == S_IFIFO)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(tunnel.stop() == 0, "run must exit 0 on SIGTERM: \(tunnel.log)")
    }

    @Test("backpressure: a stopped consumer stops the host's reader; over-drain stays under 256 KiB")
    func backpressureBoundsOverDrain() throws {
        let host = try LoopbackHost(forcedCommand: "true")
        defer { host.shutdown() }
        let counter = try host.writableDirectory() + "/produced"
        // The benchmark's counting reader: it records, after each completed 512-byte write, how
        // many bytes it has written, which is what the host's RNG has given up so far.
        let script = host.directory + "/counting-reader.pl"
        let repository = URL(fileURLWithPath: #filePath.components(separatedBy: "/Tests/")[0])
        try FileManager.default.copyItem(atPath: repository.appendingPathComponent("bench/counting-reader.pl").path, toPath: script)
        chmod(script, 0o644)
        try host.setForcedCommand("perl \(script) \(counter)")
        let fifo = host.directory + "/entropy.fifo"
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", fifo], logPath: host.directory + "/run.log")
        defer { tunnel.stop() }

        let fd = openFIFOForReading(fifo)
        defer { close(fd) }
        let consumed = readExactly(fd, 1 << 20, into: nil)
        #expect(consumed == 1 << 20)
        // The consumer now stops reading (keeping the FIFO open). Wait for the producer to stall:
        // its counter unchanged for a full second.
        var last = -1
        var stableSince = Date()
        let stalled = waitUntil(30) {
            let now = readCounter(counter)
            if now != last { last = now; stableSince = Date() }
            return Date().timeIntervalSince(stableSince) >= 1.0
        }
        #expect(stalled, "the host's reader never stopped: \(readCounter(counter)) bytes")
        let overDrain = readCounter(counter) - consumed
        print("backpressure: produced=\(readCounter(counter)) consumed=\(consumed) over-drain=\(overDrain) bytes")
        #expect(overDrain <= 256 << 10, "over-drain \(overDrain) bytes exceeds 256 KiB")
        #expect(overDrain > 0)

        // And the flow resumes when the consumer reads again.
        #expect(readExactly(fd, 256 << 10, into: nil) == 256 << 10)
        #expect(waitUntil(10) { readCounter(counter) > last })
    }
}
