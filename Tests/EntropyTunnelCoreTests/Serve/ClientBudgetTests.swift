import EntropyTunnelCore
import Testing

/// `serve`'s per-key budget as a value: one token bucket shared by all of a key's sessions, and
/// its file.
struct ClientBudgetTests {
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
