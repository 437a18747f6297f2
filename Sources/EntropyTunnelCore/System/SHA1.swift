/// SHA-1 (FIPS 180-4) and HMAC-SHA1 (RFC 2104), for hashed known_hosts entries only.
///
/// OpenSSH writes a hashed host name as `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`
/// (`ssh-keygen -H`, `HashKnownHosts yes`). SHA-1 is broken for collisions, not for this use:
/// the entry only hides the host name, the key itself is compared byte for byte. Small and
/// dependency-free like `SHA256`; checked against RFC 3174 and RFC 2202 vectors in the tests.
public struct SHA1: BlockHash {
    package var state: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    package var pending: [UInt8] = []
    package var length: UInt64 = 0

    /// The block size in bytes, which HMAC needs.
    public static let blockSize = 64
    /// The digest size in bytes.
    public static let digestSize = 20

    public init() {}

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var h = SHA1()
        h.update(bytes)
        return h.finalize()
    }

    /// HMAC-SHA1 of `message` under `key` (RFC 2104): H((K ^ opad) || H((K ^ ipad) || message)).
    public static func hmac(key: some Collection<UInt8>, message: some Sequence<UInt8>) -> [UInt8] {
        var block = key.count > blockSize ? hash(key) : Array(key)
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        var inner = SHA1()
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        var outer = SHA1()
        outer.update(block.map { $0 ^ 0x5c })
        outer.update(inner.finalize())
        return outer.finalize()
    }

    package mutating func compress(_ block: [UInt8]) {
        var w = [UInt32](repeating: 0, count: 80)
        for i in 0..<16 {
            w[i] = (0..<4).reduce(0) { $0 << 8 | UInt32(block[i * 4 + $1]) }
        }
        func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { x << n | x >> (32 - n) }
        for i in 16..<80 {
            w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1)
        }
        var (a, b, c, d, e) = (state[0], state[1], state[2], state[3], state[4])
        for i in 0..<80 {
            let f: UInt32, k: UInt32
            switch i {
            case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A827999)
            case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9EBA1)
            case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1BBCDC)
            default: (f, k) = (b ^ c ^ d, 0xCA62C1D6)
            }
            let t = rotl(a, 5) &+ f &+ e &+ k &+ w[i]
            (e, d, c, b, a) = (d, c, rotl(b, 30), a, t)
        }
        for (i, v) in [a, b, c, d, e].enumerated() { state[i] = state[i] &+ v }
    }
}
