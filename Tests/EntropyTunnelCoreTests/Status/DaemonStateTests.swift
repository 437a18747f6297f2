import EntropyTunnelCore
import Foundation
import Testing

/// The state file's one schema: what `run` writes reads back the same; another schema version and
/// damaged files are said to be so, never a trap.
struct DaemonStateTests {
    static func snapshot() -> TunnelStats.Snapshot {
        var s = TunnelStats.Snapshot()
        s.connected = true
        s.host = HostSpec(host: "b", port: 2222)
        s.connectedSince = 1_700_000_100.25
        s.hostKey = "ssh-ed25519 SHA256:abc"
        s.clientKey = "/etc/entropy-tunnel/id_ed25519"
        s.bytesDelivered = 5000
        s.bytesAtConnect = 1000
        s.connections = 2
        var a = TunnelStats.HostStatus(host: HostSpec(host: "a", port: 22))
        a.failing = true
        a.retryAt = 1_700_000_500
        a.lastError = "cannot connect to a:22: Connection refused \"quoted\" \\ / é"
        a.lastErrorAt = 1_700_000_050.5
        s.hosts = [a, TunnelStats.HostStatus(host: HostSpec(host: "b", port: 2222))]
        var k = TunnelStats.KernelCounters(mode: .ioctl)
        k.feeds = 3
        k.reseeds = 3
        k.bytesMixed = 192
        k.addEntropyFailures = [1: 2]
        k.lastFeedAt = 1_700_000_200
        s.kernel = k
        var r = TunnelStats.ReserveCounters(capacity: 4096)
        r.level = 3872
        r.fills = 1
        r.lastHost = "b:2222"
        s.reserve = r
        s.windowsPassed = 8
        s.lastFailure = "x\ny"
        s.lastFailureAt = 1_700_000_050.5
        return s
    }

    static func process() -> DaemonState.Process {
        var configuration = RunConfiguration(hosts: [HostSpec(host: "a", port: 22), HostSpec(host: "b", port: 2222)])
        configuration.sink = .kernel
        return DaemonState.Process(pid: 4242, startedAt: 1_700_000_000.123456, configuration: configuration)
    }

    @Test("what run writes reads back to the same state; times to the millisecond; every documented member there, null or not")
    func roundTrip() throws {
        let state = DaemonState(Self.snapshot(), process: Self.process(), now: 1_700_000_300, lastBytesAt: nil)
        let text = try state.rendered()
        let read = try DaemonState.decode(text)
        #expect(read == state)
        #expect(read.schemaVersion == DaemonState.schema && read.startedAt == 1_700_000_000.123)
        #expect(read.current?.host == "b:2222" && read.current?.preferred == false && read.current?.bytes == 4000)
        #expect(read.hosts.map(\.state) == [.backingOff, .connected])
        #expect(read.kernel?.addEntropyFailures == ["EPERM": 2])
        #expect(read.reserve?.lastHost == "b:2222" && read.lastError?.message == "x\ny")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        for member in ["schema_version", "version", "running", "pid", "started_at", "stopped_at", "updated", "sink", "mode",
                       "kernel_interval", "current", "hosts", "connections", "bytes_delivered", "last_bytes_at", "idle_since", "kernel",
                       "rngd", "health_windows", "last_error", "reserve"] {
            #expect(object.keys.contains(member), "no \(member) in \(text)")
        }
        #expect(object["stopped_at"] is NSNull && object["last_bytes_at"] is NSNull && object["rngd"] is NSNull)
        #expect(object["health"] == nil, "the daemon writes no verdict")
        #expect(text.contains("\"/etc/entropy-tunnel/id_ed25519\""), "slashes are not escaped")
        // Stopped: running false, stopped_at set.
        let stopped = try DaemonState.decode(try DaemonState(Self.snapshot(), process: Self.process(), now: 1_700_000_400,
                                                             lastBytesAt: 1_700_000_399, stoppedAt: 1_700_000_400).rendered())
        #expect(!stopped.running && stopped.stoppedAt == 1_700_000_400 && stopped.lastBytesAt == 1_700_000_399)
    }

    static let valid: String = {
        // A state as run writes it, for the cases below to change one member of.
        (try? DaemonState(snapshot(), process: process(), now: 1_700_000_300, lastBytesAt: nil).rendered()) ?? ""
    }()

    /// `valid` with `member`'s value replaced (the first occurrence of `"member" : `).
    static func with(_ member: String, _ value: String) -> String {
        guard let key = valid.range(of: "\"\(member)\" : ") else { return valid }
        let rest = valid[key.upperBound...]
        let end = rest.firstIndex { $0 == "," || $0 == "\n" } ?? rest.endIndex
        return String(valid[..<key.upperBound]) + value + String(valid[end...])
    }

    @Test("another schema version is named as such; a file without one (written before it existed) reads as schema 1")
    func schemaVersion() throws {
        #expect(throws: DaemonState.ReadError.unknownSchema(2)) { try DaemonState.decode(Self.with("schema_version", "2")) }
        #expect(throws: DaemonState.ReadError.unknownSchema(0)) { try DaemonState.decode(Self.with("schema_version", "0")) }
        #expect(DaemonState.ReadError.unknownSchema(2).message.contains("schema 2"))
        let withoutVersion = Self.valid.replacingOccurrences(of: "\"schema_version\" : 1,", with: "")
        #expect(!withoutVersion.contains("schema_version"))
        #expect(try DaemonState.decode(withoutVersion).schemaVersion == nil)
    }

    @Test("damaged or foreign files are refused as such, with what is wrong, never a trap", arguments: [
        ("", "not JSON"), ("x", "not JSON"), ("{", "not JSON"), ("[]", "not a JSON object"), ("{}", "no member"), ("null", ""),
        (String(valid.prefix(200)), "not JSON"),
        (with("started_at", "1e300"), "started_at"), (with("started_at", "-1e300"), "started_at"), (with("updated", "-1"), "updated"),
        (with("pid", "1e19"), "out of range"), (with("pid", "99999999999"), "out of range"), (with("pid", "-5"), "pid"), (with("pid", "\"42\""), "pid"),
        (with("bytes_delivered", "-1"), "out of range"), (with("bytes_delivered", "1e30"), "out of range"),
        (with("connections", "-3"), "connections"), (with("kernel_interval", "0"), "kernel_interval"),
        (with("kernel_interval", "1e300"), "kernel_interval"), (with("last_feed_at", "1e19"), "last_feed_at"),
        (with("retry_at", "1e12"), "retry_at"), (with("sink", "\"tape\""), "sink"), (with("running", "1"), "running"),
        ("{\"schema_version\": 1, \"hosts\": 5}", ""), (with("state", "\"sleeping\""), "state"), (with("version", "NaN"), "not JSON"),
        ("\u{0}\u{1}\u{FF}binary", "not JSON"),
    ])
    func damaged(text: String, about: String) {
        do {
            let state = try DaemonState.decode(text)
            Issue.record("read a damaged file: \(state)")
        } catch {
            guard case .damaged(let why) = error else { Issue.record("\(error)"); return }
            #expect(about.isEmpty || why.contains(about), "expected \(about) in: \(why)")
            #expect(error.message.hasPrefix("is not a state file written by entropy-tunnel run ("))
        }
    }

    @Test("a file of 100,000 opening brackets is refused, not a stack overflow")
    func deepNesting() {
        #expect(throws: DaemonState.ReadError.self) { try DaemonState.decode(String(repeating: "[", count: 100_000)) }
        #expect(throws: DaemonState.ReadError.self) { try DaemonState.decode(String(repeating: "{\"a\":", count: 100_000)) }
    }

    @Test("random damage to a valid file: it reads or is refused, and whatever reads can be judged without a trap")
    func mutations() {
        var generator = SplitMix(seed: 7)
        let bytes = Array(Self.valid.utf8)
        let replacements = Array("0123456789-+.eE\"{}[],:nul1e300 ".utf8)
        var read = 0
        for _ in 0..<3000 {
            var copy = bytes
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let i = Int(generator.next() % UInt64(copy.count))
                copy[i] = replacements[Int(generator.next() % UInt64(replacements.count))]
            }
            guard let state = try? DaemonState.decode(String(decoding: copy, as: UTF8.self)) else { continue }
            read += 1
            for now in [0, 1_700_000_300, 1e11] {
                _ = DaemonHealth(state: state, now: now, pidAlive: true)
            }
        }
        #expect(read > 0, "no mutation read at all: the test would not exercise the judging")
    }
}
