import Testing
import EntropyTunnelCore

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("512", 512), ("64K", 65536), ("64k", 65536), ("2M", 2 << 20), ("1G", 1 << 30),
        ("16KiB", 16384), ("3mb", 3 << 20), (" 8K ", 8192), ("0", 0),
    ])
    func parses(text: String, bytes: Int) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "K", "-1", "1.5M", "64Q", "12 34", "99999999999999999999G", "0x10"])
    func rejectsNonsense(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    @Test func printsShortestExactForm() {
        #expect(ByteSize(bytes: 65536).description == "64K")
        #expect(ByteSize(bytes: 2 << 20).description == "2M")
        #expect(ByteSize(bytes: 1000).description == "1000")
        #expect(ByteSize(bytes: 1536).description == "1536")
    }
}

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

@Suite struct DigestTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256MatchesFIPSVectors(input: String, hex: String) {
        let digest = SHA256.hash(Array(input.utf8))
        #expect(digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() == hex)
    }

    @Test func sha256OfAMillionAs() {
        var h = SHA256()
        h.update([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        let hex = h.finalize().map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func base64RoundTrips() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("fo".utf8), padding: false) == "Zm8")
        #expect(Base64.decode("not*base64") == nil)
    }
}
