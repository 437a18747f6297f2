/// The pump's buffer rules as a value: how much may be read from the channel, which bytes may go
/// to the sink, and when the byte limit is reached. No I/O and no memory of its own: it keeps the
/// indices of one buffer of `capacity` bytes, and the pump moves bytes as it says.
///
/// The buffer is `[0 ..< written)` gone to the sink, `[written ..< verified)` passed the health
/// tests and waiting for the sink, `[verified ..< filled)` read but not yet judged (less than one
/// window, or windows about to be tested). The rules it guarantees (and its table tests check):
/// - a read never asks for more than the sink has room for, beyond what is already waiting here,
///   so the SSH window is re-opened only for bytes the sink can take (end-to-end backpressure);
/// - no byte reaches the sink before its whole window passed the health tests;
/// - never more than `byteLimit` bytes reach the sink, and no more is read than the limit needs
///   (rounded up to whole health windows).
package struct PumpBuffer: Sendable, Equatable {
    /// Largest single read.
    package let readChunk: Int
    /// The health-test window, or nil when the tests are off (then every byte read is ready).
    package let window: Int?
    /// Deliver at most this many bytes in all; nil for no limit.
    package let byteLimit: Int?

    package private(set) var written = 0
    package private(set) var verified = 0
    package private(set) var filled = 0
    /// Bytes handed to the sink so far.
    package private(set) var delivered = 0

    package init(readChunk: Int, window: Int?, byteLimit: Int?) {
        precondition(readChunk > 0 && (window ?? 1) > 0)
        self.readChunk = readChunk
        self.window = window
        self.byteLimit = byteLimit
    }

    /// The buffer the pump must allocate.
    package var capacity: Int { readChunk + (window ?? 0) }

    /// Whether the byte limit has been delivered.
    package var limitReached: Bool { byteLimit.map { delivered >= $0 } ?? false }

    /// The bytes that may be written to the sink now (verified, within the limit).
    package var ready: Range<Int> {
        let end = byteLimit.map { min(verified, written + max(0, $0 - delivered)) } ?? verified
        return written..<max(written, end)
    }

    /// Whether verified bytes wait for the sink; while they do, nothing more is read.
    package var hasReady: Bool { !ready.isEmpty }

    /// Records that the sink took `count` bytes from the start of `ready`. When everything
    /// verified has gone out, the partial window must move to the front: returns the range the
    /// pump must move to offset 0 (nil when nothing is to move).
    package mutating func wrote(_ count: Int) -> Range<Int>? {
        precondition(count >= 0 && count <= ready.count, "wrote more than was ready")
        written += count
        delivered += count
        guard written == verified, written > 0 else { return nil }
        let partial = verified..<filled
        written = 0; verified = 0; filled = partial.count
        return partial.isEmpty ? nil : partial
    }

    /// How many bytes may be read now, given that the sink has room for `sinkRoom` more bytes.
    package func readAllowance(sinkRoom: Int) -> Int {
        guard !hasReady, !limitReached else { return 0 }
        // What is already here (verified or not) will need the sink's room too.
        var room = min(readChunk, max(0, sinkRoom - (filled - written)), capacity - filled)
        if let limit = byteLimit {
            let stillNeeded = max(0, limit - delivered - (verified - written))
            let partial = filled - verified
            // Health tests judge whole windows: read up to the window that holds the last byte.
            let toRead = window.map { w in (stillNeeded + w - 1) / w * w } ?? stillNeeded
            room = min(room, max(0, toRead - partial))
        }
        return max(0, room)
    }

    /// Where the next read goes.
    package func readRange(_ count: Int) -> Range<Int> { filled..<filled + count }

    /// Records `count` bytes read into `readRange`. Without health tests they are ready at once.
    package mutating func read(_ count: Int) {
        precondition(count >= 0 && filled + count <= capacity, "read past the buffer")
        filled += count
        if window == nil { verified = filled }
    }

    /// The next complete window waiting for the health tests, if any.
    package var nextWindow: Range<Int>? {
        guard let window, filled - verified >= window else { return nil }
        return verified..<verified + window
    }

    /// The window `nextWindow` passed: it is ready for the sink.
    package mutating func passWindow() {
        guard let next = nextWindow else { preconditionFailure("no window to pass") }
        verified = next.upperBound
    }

    /// The window `nextWindow` failed: it is dropped. Returns the bytes after it, which the pump
    /// must move down to `nextWindow.lowerBound`, over the failed window.
    package mutating func dropWindow() -> Range<Int> {
        guard let next = nextWindow else { preconditionFailure("no window to drop") }
        let after = next.upperBound..<filled
        filled -= next.count
        return after
    }
}
