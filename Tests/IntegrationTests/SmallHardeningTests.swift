import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// The smaller holes of the same class, through the release binary: crafted state files,
/// a read-only seed directory, and the spellings of a known_hosts pin.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct SmallHardeningTests {
    /// A state file `run` writes, with one member replaced.
    static let base = """
        {
          "schema_version": 1, "version": "0.1.0", "running": false, "pid": 1, "started_at": 1764000000.5, "stopped_at": 1764000100,
          "updated": 1764000100, "sink": "kernel", "mode": "ioctl", "kernel_interval": 60, "current": null,
          "hosts": [{"host": "rng.example:22", "state": "ok", "retry_at": null, "last_error": null, "last_error_at": null}],
          "connections": 1, "bytes_delivered": 4096, "last_bytes_at": 1764000090,
          "kernel": {"mode": "ioctl", "feeds": 3, "reseeds": 3, "bytes_mixed": 192, "bits_credited": 0, "add_entropy_calls": 3,
                     "add_entropy_failures": {}, "reseed_failures": {}, "last_feed_at": 1764000090, "crng_ready_at": 1,
                     "started_before_ready": false, "seeds_saved": 1, "seeds_skipped": 0},
          "rngd": null, "health_windows": {"passed": 8, "dropped": 0}, "last_error": null
        }
        """

    @Test("status on crafted state files: out-of-range and non-finite numbers, huge integers, wrong types, truncation, junk: never a signal; damaged is exit 4 with the path")
    func craftedStateFiles() throws {
        let dir = try Scratch.directory("et-crafted")
        var cases: [(String, String)] = []
        for (member, value) in [("started_at", "1e300"), ("started_at", "-1e300"), ("started_at", "1e19"), ("stopped_at", "1e300"),
                                ("updated", "-1e19"), ("kernel_interval", "1e308"), ("kernel_interval", "-5"), ("kernel_interval", "1e999"),
                                ("pid", "99999999999999999999999999"), ("pid", "-1"), ("pid", "1.5e300"), ("pid", "\"1\""),
                                ("bytes_delivered", "18446744073709551616"), ("bytes_delivered", "-1e300"), ("connections", "true"),
                                ("running", "1"), ("current", "{\"host\": \"h\", \"since\": 1e300, \"bytes\": -1e300}"),
                                ("kernel", "{\"last_feed_at\": 1e300}"), ("kernel", "{\"feeds\": -9e18}"),
                                ("hosts", "[{\"host\": \"h\", \"retry_at\": -1e300}]"), ("hosts", "\"x\""),
                                ("last_error", "{\"message\": 5, \"at\": 1e300}"), ("health_windows", "{\"passed\": 1e30}")] {
            // The first occurrence of the member: the top-level one, as `base` lists them first.
            guard let range = Self.base.range(of: "\"\(member)\": ") else { continue }
            let end = Self.base[range.upperBound...].firstIndex(where: { $0 == "," || $0 == "\n" }) ?? Self.base.endIndex
            let braced = Self.base[range.upperBound...].hasPrefix("{") || Self.base[range.upperBound...].hasPrefix("[")
            let valueEnd = braced ? Self.matchingEnd(Self.base, from: range.upperBound) : end
            cases.append(("\(member) = \(value)", Self.base.replacingCharacters(in: range.upperBound..<valueEnd, with: value)))
        }
        cases += [("NaN", Self.base.replacing("1764000000.5", with: "NaN")), ("Infinity", Self.base.replacing("1764000000.5", with: "Infinity")),
                  ("truncated", String(Self.base.prefix(200))), ("binary junk", String(decoding: (0..<4096).map { _ in UInt8.random(in: 0...255) }, as: UTF8.self)),
                  ("empty", ""), ("deep", String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000)),
                  ("a bare number", "1e300"), ("a string", "\"state\"")]
        var signals = 0
        for (index, (name, text)) in cases.enumerated() {
            let path = dir + "/crafted-\(index).json"
            _ = createFile(atPath: path, contents: Array(text.utf8))
            for json in [false, true] {
                let result = try Shell.capture(tunnelBinary, ["status", "--state-file", path] + (json ? ["--json"] : []))
                if result.signal != nil { signals += 1 }
                #expect(result.signal == nil, "\(name): died by signal \(result.signal ?? 0)")
                #expect(result.status == 4, "\(name): exit \(result.status)\n\(result.stdout)\n\(result.stderr)")
                #expect(result.stderr.contains(path) && (result.stderr.contains("damaged") || result.stderr.contains("not a state file")),
                        "\(name): \(result.stderr)")
            }
        }
        // The untouched file is not damaged: exit 3 (stopped), as before.
        _ = createFile(atPath: dir + "/good.json", contents: Array(Self.base.utf8))
        let good = try Shell.capture(tunnelBinary, ["status", "--state-file", dir + "/good.json"])
        #expect(good.status == 3, "\(good.stdout)\n\(good.stderr)")
        print("crafted state files: \(cases.count) files x 2 (screen, --json), deaths by signal: \(signals)")
    }

    /// The index just past the bracket that closes the one at `start`.
    static func matchingEnd(_ text: String, from start: String.Index) -> String.Index {
        var depth = 0
        var index = start
        while index < text.endIndex {
            let c = text[index]
            if c == "{" || c == "[" { depth += 1 }
            if c == "}" || c == "]" { depth -= 1; if depth == 0 { return text.index(after: index) } }
            index = text.index(after: index)
        }
        return text.endIndex
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

    static let key = "AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb"

    @Test("keys untrust and keys list with the daemon's matcher: hashed, upper-case, wildcard and tab-separated pins, with line numbers")
    func pinSpellings() throws {
        let dir = try Scratch.directory("et-untrust")
        let knownHosts = dir + "/known_hosts"
        // ssh-keygen -H hashes a name exactly as OpenSSH (and the daemon) match it.
        _ = createFile(atPath: dir + "/plain", contents: Array("rng.example ssh-ed25519 \(Self.key)\n".utf8))
        try Shell.run("ssh-keygen", "-q", "-H", "-f", dir + "/plain")
        let hashed = try String(contentsOfFile: dir + "/plain", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        for (spelling, line, removable) in [("hashed", hashed, true), ("upper-case", "RNG.EXAMPLE ssh-ed25519 \(Self.key)", true),
                                            ("tab-separated", "rng.example\tssh-ed25519\t\(Self.key)", true),
                                            ("wildcard", "*.example ssh-ed25519 \(Self.key)", false)] {
            let file = "# pins\nother.host ssh-ed25519 \(Self.key)\n\(line)\n"
            _ = createFile(atPath: knownHosts, contents: Array(file.utf8))
            let list = try runTunnel(["keys", "list", "--known-hosts", knownHosts, "--identity", dir + "/none"])
            #expect(list.stdout.contains("line 3: "), "\(spelling): keys list shows the pin: \(list.stdout)")
            let untrust = try runTunnel(["keys", "untrust", "rng.example", "--known-hosts", knownHosts])
            let after = try String(contentsOfFile: knownHosts, encoding: .utf8)
            if removable {
                #expect(untrust.status == 0, "\(spelling): \(untrust.stdout)\n\(untrust.stderr)")
                #expect(untrust.stdout.contains("\(knownHosts):3: "), "\(spelling): \(untrust.stdout)")
                #expect(after == "# pins\nother.host ssh-ed25519 \(Self.key)\n", "\(spelling): \(after)")
            } else {
                #expect(untrust.status == 1, "\(spelling): \(untrust.stdout)\n\(untrust.stderr)")
                #expect(untrust.stdout.contains("NOT removed \(knownHosts):3: *.example") && untrust.stdout.contains("also covers other hosts"),
                        "\(spelling): \(untrust.stdout)")
                #expect(untrust.stderr.contains("still trusted"), "\(spelling): \(untrust.stderr)")
                #expect(after == file)
            }
            print("keys untrust, \(spelling) pin: exit \(untrust.status); \(untrust.stdout.split(separator: "\n").first ?? "")")
        }
    }
}
