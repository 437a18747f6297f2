#if canImport(Glibc)
import Glibc
#endif

/// Health-tested bytes on their way from a host to the consumer, in one buffer, zeroed as they
/// leave. Not thread-safe: it lives on the supply thread.
///
/// The buffer is `[start ..< verified)` ready for the consumer (every byte of it passed the
/// health tests in its window), `[verified ..< filled)` read from the current connection and not
/// judged yet (less than one window). The supply loop reads from the channel into `readSpace`,
/// judges whole windows (`nextWindow`, `passWindow`, `dropWindow`) and gives ready bytes to the
/// consumer (`give`). The ready bytes outlive the connection they came from (on-demand fills
/// keep them between sessions) unless the loop drops a failed connection's newest bytes
/// (`dropNewest`); the unjudged tail belongs to its connection and is dropped with it
/// (`dropUnjudged`). On demand its capacity is `--reserve`; otherwise one read plus one window.
package final class Reserve {
    package let capacity: Int
    /// The health-test window, or nil without the tests (bytes are ready as they arrive).
    package let window: Int?
    private let memory: UnsafeMutableRawBufferPointer
    private var start = 0
    private var verified = 0
    private var filled = 0

    package init(capacity: Int, window: Int?) {
        precondition(capacity > 0 && (window ?? 1) > 0 && capacity >= (window ?? 1))
        self.capacity = capacity
        self.window = window
        memory = .allocate(byteCount: capacity, alignment: 16)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        zero(0..<capacity)
        memory.deallocate()
    }

    /// Bytes ready for the consumer: the reserve's level.
    package var ready: Int { verified - start }
    /// Bytes read and not judged yet (the connection's partial window).
    package var unjudged: Int { filled - verified }
    /// Room for more bytes (after moving what is held to the front).
    package var free: Int { capacity - (filled - start) }

    /// How many bytes to read from the channel so that `need` bytes are ready for the consumer:
    /// what is missing beyond the ready bytes, rounded up to whole health windows (the tests
    /// judge only whole windows), minus what was read and not judged yet; at most `chunk` and
    /// the free room. A read never asks for more than that: every read call re-opens the SSH
    /// window, so reading only what the consumer will take is what makes backpressure work.
    package static func readAllowance(need: Int, ready: Int, unjudged: Int, window: Int?, free: Int, chunk: Int) -> Int {
        let missing = max(0, need - ready)
        let unit = window ?? 1
        let whole = (missing + unit - 1) / unit * unit
        return max(0, min(whole - unjudged, chunk, free))
    }

    /// `readAllowance` for this reserve's state.
    package func readAllowance(need: Int, chunk: Int) -> Int {
        Self.readAllowance(need: need, ready: ready, unjudged: unjudged, window: window, free: free, chunk: chunk)
    }

    /// Where the next read of up to `count` bytes goes (`count` at most `free`); `appended`
    /// records what arrived there.
    package func readSpace(_ count: Int) -> UnsafeMutableRawBufferPointer {
        precondition(count >= 0 && count <= free, "read past the reserve")
        if capacity - filled < count { compact() }
        return UnsafeMutableRawBufferPointer(rebasing: memory[filled..<filled + count])
    }

    /// Records `count` bytes read into `readSpace`. Without health tests they are ready at once.
    package func appended(_ count: Int) {
        precondition(count >= 0 && filled + count <= capacity, "appended past the reserve")
        filled += count
        if window == nil { verified = filled }
    }

    /// Copies `bytes` in as read (a plain reader's first bytes, seen while deciding the protocol).
    package func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let space = readSpace(bytes.count)
        bytes.withUnsafeBytes { space.copyMemory(from: $0) }
        appended(bytes.count)
    }

    /// The next whole window waiting for the health tests, if any.
    package var nextWindow: UnsafeRawBufferPointer? {
        guard let window, filled - verified >= window else { return nil }
        return UnsafeRawBufferPointer(rebasing: memory[verified..<verified + window])
    }

    /// The window `nextWindow` passed: it is ready for the consumer.
    package func passWindow() {
        guard let window, filled - verified >= window else { preconditionFailure("no window to pass") }
        verified += window
    }

    /// The window `nextWindow` failed: it is dropped (zeroed), and what was read after it moves
    /// down over it.
    package func dropWindow() {
        guard let window, filled - verified >= window else { preconditionFailure("no window to drop") }
        let after = verified + window..<filled
        if !after.isEmpty {
            (memory.baseAddress! + verified).copyMemory(from: memory.baseAddress! + after.lowerBound, byteCount: after.count)
        }
        zero(filled - window..<filled)
        filled -= window
    }

    /// The connection these bytes came from is gone: its unjudged tail is dropped (zeroed). The
    /// ready bytes stay.
    package func dropUnjudged() {
        zero(verified..<filled)
        filled = verified
        if start == filled { start = 0; verified = 0; filled = 0 }
    }

    /// Drops (zeroes) the newest `count` ready bytes, and the unjudged tail after them: what a
    /// connection that failed brought and the consumer has not taken yet.
    package func dropNewest(_ count: Int) {
        let count = min(max(0, count), ready)
        zero(verified - count..<filled)
        verified -= count
        filled = verified
        if start == filled { start = 0; verified = 0; filled = 0 }
    }

    /// Gives at most `limit` ready bytes to `take`, which returns how many it took; those are
    /// zeroed. Returns the count.
    package func give(upTo limit: Int, to take: (UnsafeRawBufferPointer) throws(TunnelError) -> Int) throws(TunnelError) -> Int {
        let count = min(limit, ready)
        guard count > 0 else { return 0 }
        let taken = try take(UnsafeRawBufferPointer(rebasing: memory[start..<start + count]))
        precondition(taken >= 0 && taken <= count, "took more than was given")
        zero(start..<start + taken)
        start += taken
        if start == filled { start = 0; verified = 0; filled = 0 }
        return taken
    }

    /// Moves what is held to the front, so that the free room is at the end.
    private func compact() {
        guard start > 0 else { return }
        let held = filled - start
        if held > 0 { memory.baseAddress!.copyMemory(from: memory.baseAddress! + start, byteCount: held) }
        zero(held..<filled)
        verified -= start
        filled = held
        start = 0
    }

    private func zero(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        memset(memory.baseAddress! + range.lowerBound, 0, range.count)
    }
}
