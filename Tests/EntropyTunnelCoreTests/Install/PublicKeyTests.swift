import EntropyTunnelCore
import Testing

/// Public keys as `keys authorize --key` and `install --host-key` take them: parsed, checked, listed as
/// ssh-keygen -l lists them, and a private key refused without being echoed.
struct PublicKeyTests {
    let ours = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb entropy-tunnel@vm"

    @Test("public keys: parsed and checked; fingerprint and bits as ssh-keygen -l prints them")
    func publicKeys() throws {
        let key = try PublicKey(parsing: ours)
        #expect(key.type == .ed25519 && key.comment == "entropy-tunnel@vm")
        #expect(key.keygenListing(name: key.comment) == "256 SHA256:L4xEz8g00faho2fnTwlHa6aRvWZ5paYP1KWtBLfEJAE entropy-tunnel@vm (ED25519)")
        #expect(throws: TunnelError.self) { try PublicKey(parsing: "ssh-ed25519") }
        #expect(throws: TunnelError.self) { try PublicKey(parsing: "ssh-dss AAAAB3NzaC1kc3M=") }
        // A valid blob of another type under the ed25519 name.
        #expect(throws: TunnelError.self) { try PublicKey(parsing: "ssh-ed25519 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY=") }
        #expect(HostKeyTrust.normalizeFingerprint("L4xEz8g00faho2fnTwlHa6aRvWZ5paYP1KWtBLfEJAE=") == key.fingerprint)
    }

    @Test("text that looks like a private key is refused without being quoted")
    func privateKeyText() throws {
        let text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"
        let error = try #require(throws: TunnelError.self) { try PublicKey(parsing: text) }
        #expect(error.message.contains("that looks like a PRIVATE key; pass the .pub"))
        #expect(!error.message.contains("b3BlbnNzaC1rZXktdjE"))
        #expect(throws: TunnelError.self) { try PublicKey(parsing: "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ") }
    }
}
