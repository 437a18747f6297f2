/// The outcome of the health tests on one 512-byte window.
public enum HealthVerdict: Hashable, Sendable, CustomStringConvertible {
    /// Both tests passed: the window may be written to the FIFO.
    case pass
    /// A test failed: not one byte of the window may be written.
    case fail(Failure)

    /// Which test failed, where, and by how much. Carries no sample values: entropy bytes are
    /// never logged.
    public struct Failure: Hashable, Sendable, CustomStringConvertible {
        public enum Test: String, Hashable, Sendable {
            case repetitionCount = "repetition count test"
            case adaptiveProportion = "adaptive proportion test"
        }
        public let test: Test
        /// The count that reached the cutoff (run length, or occurrences in the window).
        public let count: Int
        public let cutoff: Int
        /// Offset in the window of the byte at which the count reached the cutoff.
        public let offset: Int

        public init(test: Test, count: Int, cutoff: Int, offset: Int) {
            self.test = test
            self.count = count
            self.cutoff = cutoff
            self.offset = offset
        }

        public var description: String {
            "\(test.rawValue) failed: count \(count) reached cutoff \(cutoff) at offset \(offset)"
        }
    }

    public var passed: Bool { self == .pass }

    public var description: String {
        switch self {
        case .pass: return "pass"
        case .fail(let failure): return failure.description
        }
    }
}
