/// What `SeedStore.save` wrote.
public struct SeedSaveResult: Sendable, Equatable {
    /// The seed file (`seed.credit` or `seed.no-credit`).
    public var path: String
    public var bytes: Int
    /// Whether the CRNG was ready when the seed was made, so the next boot may credit it.
    public var creditable: Bool

    /// One line for the log.
    public var summary: String {
        "saved a new seed of \(bytes) bytes as \(path) (" +
            (creditable ? "creditable: the kernel's CRNG was ready" : "not creditable: the kernel's CRNG was not ready yet") + ")"
    }
}

/// What `SeedStore.load` did.
public struct SeedLoadResult: Sendable {
    /// One seed file mixed into the kernel.
    public struct Loaded: Sendable, Equatable {
        public var path: String
        public var bytes: Int
        /// Bits credited (0: mixed without credit).
        public var creditedBits: Int
        /// Why it was not credited (nil when it was).
        public var noCreditReason: String?
    }

    /// The seeds loaded (usually one; none on a first run).
    public var loaded: [Loaded] = []
    /// Files found but not loaded, each with the reason.
    public var skipped: [String] = []
    /// The new seed written right after loading; nil when that failed (`saveError`).
    public var saved: SeedSaveResult?
    public var saveError: TunnelError?

    public var loadedBytes: Int { loaded.reduce(0) { $0 + $1.bytes } }
    public var creditedBits: Int { loaded.reduce(0) { $0 + $1.creditedBits } }

    /// One line for the log: what was loaded and credited (or why not), and what was saved.
    public var summary: String {
        var parts: [String] = []
        if loaded.isEmpty {
            parts.append("no seed to load (first run, or the last seed was already used)")
        }
        for seed in loaded {
            if let reason = seed.noCreditReason {
                parts.append("loaded \(seed.bytes) bytes from \(seed.path), mixed, 0 bits credited: \(reason)")
            } else {
                parts.append("loaded \(seed.bytes) bytes from \(seed.path), credited \(seed.creditedBits) bits")
            }
        }
        parts += skipped
        if let saved { parts.append(saved.summary) }
        if let saveError { parts.append("no new seed: \(saveError.message)") }
        return parts.joined(separator: "; ")
    }
}

/// The seed counters of a process: seeds loaded, credited, skipped and saved (for `run`'s stats).
public struct SeedCounters: Sendable, Equatable {
    public var loaded = 0
    public var credited = 0
    public var skipped = 0
    public var saved = 0

    public init() {}

    /// Counts what one `load` did (including the save it made).
    public mutating func record(_ result: SeedLoadResult) {
        loaded += result.loaded.count
        credited += result.loaded.filter { $0.creditedBits > 0 }.count
        skipped += result.skipped.count
        if result.saved != nil { saved += 1 }
    }

    /// Counts one `save`.
    public mutating func record(_ result: SeedSaveResult) {
        saved += 1
    }

    /// `key=value` pairs for a status or log line.
    public var description: String {
        "seed_loaded=\(loaded) seed_credited=\(credited) seed_skipped=\(skipped) seed_saved=\(saved)"
    }
}
