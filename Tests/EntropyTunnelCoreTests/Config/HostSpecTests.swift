import EntropyTunnelCore
import Testing

/// `HostSpec`: a host with an optional port, as --host and the config file spell it.
@Suite struct HostSpecTests {
    @Test(arguments: [
        ("rng.example", "rng.example", 22), ("rng.example:2222", "rng.example", 2222),
        ("10.0.0.5", "10.0.0.5", 22), ("[::1]:2200", "::1", 2200), ("[fe80::1]", "fe80::1", 22),
        ("::1", "::1", 22),
    ])
    func parses(text: String, host: String, port: Int) throws {
        let spec = try HostSpec(parsing: text)
        #expect(spec.host == host)
        #expect(spec.port == port)
    }

    @Test(arguments: ["", "host:0", "host:65536", "host:abc", "[::1", "[::1]x", "user@host", ":22"])
    func rejects(text: String) {
        #expect(throws: TunnelError.self) { try HostSpec(parsing: text) }
    }

    @Test func knownHostsSpelling() throws {
        #expect(try HostSpec(parsing: "h").knownHostsName == "h")
        #expect(try HostSpec(parsing: "h:2222").knownHostsName == "[h]:2222")
        #expect(try HostSpec(parsing: "[::1]:2222").description == "[::1]:2222")
    }
}
