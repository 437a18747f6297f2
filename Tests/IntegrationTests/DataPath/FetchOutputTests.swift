import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `fetch` writes exactly --bytes or changes nothing: the output file's content, mode and count,
/// also across a failover, and no temporary file left.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FetchOutputTests {
    @Test("fetch: an existing file keeps its content when the host fails; no temporary file is left")
    func fetchKeepsExistingFile() throws {
        let server = try FakeServer(.bannerThenClose)
        defer { server.stop() }
        let directory = try makeScratchDirectory()
        try "precious".write(toFile: directory + "/seed", atomically: false, encoding: .utf8)
        let result = try runTunnel(["fetch"] + throwawayClientArguments(server.endpoint) + ["--bytes", "64", "--output", directory + "/seed"])
        #expect(result.signal == nil && result.status == 1)
        #expect(try String(contentsOfFile: directory + "/seed", encoding: .utf8) == "precious")
        #expect(directoryEntries(directory) == ["seed"])
    }

    @Test("fetch: a new file is 0600 with exactly --bytes; a replaced file keeps its mode")
    func fetchWritesAtomically() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let directory = try makeScratchDirectory()
        var result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "1000", "--output", directory + "/new"])
        #expect(result.status == 0, "\(result.stderr)")
        var st = stat()
        #expect(stat(directory + "/new", &st) == 0 && st.st_size == 1000 && st.st_mode & 0o777 == 0o600)
        try "old".write(toFile: directory + "/old", atomically: false, encoding: .utf8)
        chmod(directory + "/old", 0o644)
        result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "333", "--output", directory + "/old"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(stat(directory + "/old", &st) == 0 && st.st_size == 333 && st.st_mode & 0o777 == 0o644)
        #expect(directoryEntries(directory) == ["new", "old"])
        result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "10", "--output", "/dev/null"])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("fetch across failover: the count goes on, never more than --bytes in all", arguments: ["file", "stdout"])
    func fetchCountsAcrossFailover(output: String) throws {
        // The first host sends 3 windows and ends; the second completes the count.
        let first = try LoopbackHost(forcedCommand: "head -c 1536 /dev/urandom")
        defer { first.shutdown() }
        let second = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none",
                                      directory: first.directory + "/second")
        defer { second.shutdown() }
        // One known_hosts for both.
        let both = first.directory + "/both_known_hosts"
        let pins = try String(contentsOfFile: first.knownHosts, encoding: .utf8) + String(contentsOfFile: second.knownHosts, encoding: .utf8)
        try pins.write(toFile: both, atomically: false, encoding: .utf8)
        try second.setAuthorizedKey(from: first.identity, command: "dd if=/dev/urandom bs=512 status=none")
        var arguments = ["fetch", "--host", first.endpoint, "--host", second.endpoint, "--user", first.user,
                         "--identity", first.identity, "--known-hosts", both, "--bytes", "4000"]
        if output == "file" { arguments += ["--output", first.directory + "/out"] }
        let result = try runTunnel(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let size = output == "file"
            ? ((try? FileManager.default.attributesOfItem(atPath: first.directory + "/out"))?[.size] as? Int) ?? -1
            : result.stdout.utf8.count
        if output == "file" { #expect(size == 4000) } else { #expect(Data(result.stdout.utf8).count <= 4000 * 3) }
        #expect(result.stderr.contains("bytes_so_far=1536"), "\(result.stderr)")
    }
}
