/// One client key's token bucket as a value, shared by all of that key's `serve` sessions
/// through a small file (`ClientBudgetFiles` does the I/O under `flock`): the bytes that key may
/// still take now, and when that was last brought up to date. No I/O; the clock is passed in.
///
/// It holds up to `capacity` bytes (the burst), refills at `rate` bytes per second, and may go
/// into debt: a request larger than what is left is granted at the instant the refill covers it,
/// and every later request of that key, in any session, waits behind it. So over any span T the
/// key gets at most `capacity + rate x T` bytes, however many sessions or reconnects it uses.
///
/// The time is the system's monotonic clock, the same in every process of one boot; a file from
/// another boot (`bootID`), from the future or damaged starts over with a full bucket.
public struct ClientBudget: Sendable, Equatable {
    /// The first word of the file.
    public static let magic = "entropy-tunnel-budget"
    /// `/proc/sys/kernel/random/boot_id` when the state was written.
    public var bootID: String
    /// CLOCK_MONOTONIC nanoseconds of the last update.
    public var updated: Int64
    /// Bytes x 1e9 (exact at any rate); negative while in debt.
    public var tokens: Int64

    public init(bootID: String, updated: Int64, tokens: Int64) {
        self.bootID = bootID
        self.updated = updated
        self.tokens = tokens
    }

    /// A full bucket at `now`.
    public static func full(capacity: Int, now: Int64, bootID: String) -> ClientBudget {
        ClientBudget(bootID: bootID, updated: now, tokens: Int64(capacity) * 1_000_000_000)
    }

    /// The state in `text` if it is one of this boot that is not from the future and within
    /// bounds; a full bucket otherwise.
    public static func loaded(_ text: String?, capacity: Int, now: Int64, bootID: String) -> ClientBudget {
        guard let text, let state = ClientBudget(parsing: text), state.bootID == bootID, state.updated <= now,
              state.tokens <= Int64(capacity) * 1_000_000_000, state.tokens >= -Self.largestDebt else {
            return full(capacity: capacity, now: now, bootID: bootID)
        }
        return state
    }

    /// The most debt a file may hold (2^50 byte-nanoseconds, some 13 days at 1 B/s); more is damage.
    static let largestDebt: Int64 = 1 << 50

    /// `entropy-tunnel-budget 1 BOOTID UPDATED TOKENS`, or nil.
    public init?(parsing text: String) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.count == 5, words[0] == Self.magic, words[1] == "1",
              let updated = Int64(words[3]), let tokens = Int64(words[4]) else { return nil }
        self.init(bootID: String(words[2]), updated: updated, tokens: tokens)
    }

    /// The file's text.
    public var text: String { "\(Self.magic) 1 \(bootID) \(updated) \(tokens)\n" }

    /// Refills up to `now` and takes `count` bytes; returns the CLOCK_MONOTONIC nanoseconds at
    /// which they may be sent (`now` when the bucket held them).
    public mutating func take(_ count: Int, rate: Int, capacity: Int, now: Int64) -> Int64 {
        precondition(count >= 0 && rate >= 1 && capacity >= 1)
        let full = Int64(capacity) * 1_000_000_000
        let elapsed = max(0, now - updated)
        // Never more than what fills the bucket, so elapsed x rate cannot overflow.
        let cap = (full - min(tokens, full)) / Int64(rate) + 1
        tokens = min(full, tokens + min(elapsed, cap) * Int64(rate))
        updated = max(updated, now)
        tokens -= Int64(count) * 1_000_000_000
        if tokens >= 0 { return updated }
        // -tokens / rate nanoseconds, rounded up.
        return updated + (-tokens + Int64(rate) - 1) / Int64(rate)
    }
}
