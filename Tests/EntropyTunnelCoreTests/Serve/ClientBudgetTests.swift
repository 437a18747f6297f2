import EntropyTunnelCore
import Testing

/// The values behind `serve`'s per-key budget: who the client is, and the shared bucket.
struct ServeFairnessValueTests {
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

    static let second: Int64 = 1_000_000_000

    @Test("shared bucket: one burst, then the rate, however the takes are spread over sessions")
    func sharedBucket() {
        var budget = ClientBudget.full(capacity: 4096, now: 0, bootID: "b")
        // The burst: at once.
        #expect(budget.take(4096, rate: 2048, capacity: 4096, now: 0) == 0)
        // Twenty sessions each ask 512 at the same instant: each waits behind the one before.
        var dues: [Int64] = []
        for _ in 0..<20 { dues.append(budget.take(512, rate: 2048, capacity: 4096, now: 0)) }
        #expect(dues == (1...20).map { Int64($0) * 512 * Self.second / 2048 })
        // Over 10 s the key got at most the burst plus 10 s of rate.
        var budget2 = ClientBudget.full(capacity: 4096, now: 0, bootID: "b")
        var given = 0
        var now: Int64 = 0
        while true {
            let due = budget2.take(4096, rate: 2048, capacity: 4096, now: now)
            if due > 10 * Self.second { break }
            given += 4096
            now = due
        }
        #expect(given <= 4096 + 10 * 2048)
        #expect(given >= 10 * 2048)
    }

    @Test("shared bucket in its file: round trip; another boot, a time in the future, damage or a debt beyond bounds start full")
    func budgetFile() {
        var budget = ClientBudget.full(capacity: 4096, now: 5 * Self.second, bootID: "boot-1")
        _ = budget.take(5000, rate: 100, capacity: 4096, now: 5 * Self.second)
        #expect(ClientBudget(parsing: budget.text) == budget)
        #expect(ClientBudget.loaded(budget.text, capacity: 4096, now: 6 * Self.second, bootID: "boot-1") == budget)
        let full = ClientBudget.full(capacity: 4096, now: 6 * Self.second, bootID: "boot-2")
        #expect(ClientBudget.loaded(budget.text, capacity: 4096, now: 6 * Self.second, bootID: "boot-2") == full)
        let fullOne = ClientBudget.full(capacity: 4096, now: 1, bootID: "boot-1")
        #expect(ClientBudget.loaded(budget.text, capacity: 4096, now: 1, bootID: "boot-1") == fullOne)
        for junk in ["", "x", "entropy-tunnel-budget 1 boot-1 5 99999999999999999999", "entropy-tunnel-budget 2 boot-1 5 5",
                     "entropy-tunnel-budget 1 boot-1 5 \(Int64.min)", "entropy-tunnel-budget 1 boot-1 5 \(Int64.max)"] {
            #expect(ClientBudget.loaded(junk, capacity: 4096, now: 6, bootID: "boot-1") == ClientBudget.full(capacity: 4096, now: 6, bootID: "boot-1"))
        }
    }

    @Test("shared bucket: huge idle times and the lowest rate do not overflow")
    func extremes() {
        var budget = ClientBudget(bootID: "b", updated: 0, tokens: -(1 << 49))
        let due = budget.take(1 << 20, rate: 9, capacity: 1 << 20, now: Int64.max / 4)
        #expect(due == Int64.max / 4)
        #expect(ServeSession.lowestRate == 9)
    }
}
