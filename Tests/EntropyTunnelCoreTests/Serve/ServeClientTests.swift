import EntropyTunnelCore
import Testing

/// Which client a `serve` session serves: the key its budget belongs to, and that budget's file name.
struct ServeClientTests {
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb entropy-tunnel@vm"

    @Test("the client is --client, else the key sshd recorded (SSH_USER_AUTH), else the address (SSH_CLIENT), else unknown")
    func identity() throws {
        let fingerprint = try PublicKey(parsing: key).fingerprint
        let userAuth = "publickey \(key)\n"
        #expect(ServeClient.resolve(option: "SHA256:abc", userAuth: userAuth, sshClient: "10.0.0.5 4711 22")
                == ServeClient(id: "SHA256:abc", source: .option))
        #expect(ServeClient.resolve(option: nil, userAuth: userAuth, sshClient: "10.0.0.5 4711 22")
                == ServeClient(id: fingerprint, source: .userAuth))
        // Other methods first, or junk: the publickey line counts, or the address.
        #expect(ServeClient.resolve(option: nil, userAuth: "password\npublickey \(key)", sshClient: nil)?.id == fingerprint)
        #expect(ServeClient.resolve(option: nil, userAuth: "publickey junk", sshClient: "10.0.0.5 4711 22")
                == ServeClient(id: "10.0.0.5", source: .address))
        #expect(ServeClient.resolve(option: nil, userAuth: nil, sshClient: nil) == nil)
        #expect(ServeClient.resolve(option: "", userAuth: nil, sshClient: "") == nil)
        // Reconnects from other ports are the same client.
        #expect(ServeClient.resolve(option: nil, userAuth: nil, sshClient: "10.0.0.5 1 22")?.fileStem
                == ServeClient.resolve(option: nil, userAuth: nil, sshClient: "10.0.0.5 2 22")?.fileStem)
    }

    @Test("budget file names: 32 hex digits, distinct per client, never a path")
    func fileStems() {
        let a = ServeClient(id: "SHA256:a/b+c", source: .option).fileStem
        let b = ServeClient(id: "SHA256:a/b+d", source: .option).fileStem
        let hostile = ServeClient(id: "../../etc/passwd\n", source: .address).fileStem
        for stem in [a, b, hostile] {
            #expect(stem.utf8.count == 32 && stem.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        }
        #expect(a != b)
    }
}
