import EntropyTunnelCore
import Testing

/// `keys rotate`'s paths.
struct KeyRotationTests {
    @Test("the previous key of a rotation lives next to the key")
    func previousIdentity() {
        #expect(KeyRotation.previousIdentity(of: "/etc/entropy-tunnel/id_ed25519") == "/etc/entropy-tunnel/id_ed25519.old")
    }
}
