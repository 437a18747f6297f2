import EntropyTunnelCore
import Testing

/// The `serve` protocol's wire format: the magic line, request lines, and how a count is split into
/// requests.
struct ServeProtocolTests {
    @Test("magic line and request lines")
    func wire() {
        #expect(ServeProtocol.magicLine == Array("entropy-tunnel-serve 1\n".utf8))
        #expect(ServeProtocol.requestLine(512) == Array("512\n".utf8))
        #expect(ServeProtocol.requests(for: 10000, maxRequest: 4096) == [4096, 4096, 1808])
        #expect(ServeProtocol.requests(for: 4096, maxRequest: 4096) == [4096])
        #expect(ServeProtocol.requests(for: 0).isEmpty)
    }
}
