/// What SHA-1 and SHA-256 share: 64-byte blocks, Merkle–Damgård padding with the big-endian bit
/// length, and a state of 32-bit words written out big-endian. Each hash supplies its state and
/// its compression function.
package protocol BlockHash {
    /// The chaining state, written out as the digest.
    var state: [UInt32] { get }
    /// Bytes waiting for a full block.
    var pending: [UInt8] { get set }
    /// Bytes hashed so far.
    var length: UInt64 { get set }
    /// Mixes one 64-byte block into `state`.
    mutating func compress(_ block: [UInt8])
}

extension BlockHash {
    package mutating func update(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            pending.append(byte)
            length &+= 1
            if pending.count == 64 {
                compress(pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
    }

    package mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        pending.append(0x80)
        while pending.count % 64 != 56 { pending.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { pending.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        for start in stride(from: 0, to: pending.count, by: 64) { compress(Array(pending[start..<start + 64])) }
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
    }
}
