/// The unencrypted header of an OpenSSH private key file (`openssh-key-v1`, PROTOCOL.key):
/// the cipher protecting the private part and the type of the first public key. The one reader
/// of that header (the daemon's key check and `install`'s both use it).
struct PrivateKeyContainer {
    /// `none` for a key without passphrase, else the cipher (`aes256-ctr`).
    var cipher: String
    /// The key algorithm (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`).
    var keyType: String

    /// Nil when `text` is not an OpenSSH-format private key.
    init?(_ text: String) {
        guard let begin = text.firstRange(of: "-----BEGIN OPENSSH PRIVATE KEY-----"),
              let end = text.firstRange(of: "-----END OPENSSH PRIVATE KEY-----"),
              begin.upperBound <= end.lowerBound,
              let blob = Base64.decode(text[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }) else { return nil }
        var reader = SSHWireReader(blob)
        guard reader.skip(literal: Array("openssh-key-v1\0".utf8)),
              let cipher = reader.string(), reader.string() != nil, reader.string() != nil,
              let count = reader.uint32(), count >= 1,
              let publicBlob = reader.string() else { return nil }
        var inner = SSHWireReader(publicBlob)
        guard let type = inner.string() else { return nil }
        self.cipher = String(decoding: cipher, as: UTF8.self)
        keyType = String(decoding: type, as: UTF8.self)
    }
}

/// Reads SSH wire-format fields (RFC 4251 §5) from a byte buffer.
struct SSHWireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skip(literal: [UInt8]) -> Bool {
        guard bytes.count - offset >= literal.count,
              Array(bytes[offset..<offset + literal.count]) == literal else { return false }
        offset += literal.count
        return true
    }

    mutating func uint32() -> UInt32? {
        guard bytes.count - offset >= 4 else { return nil }
        defer { offset += 4 }
        return (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }

    mutating func string() -> [UInt8]? {
        guard let length = uint32(), bytes.count - offset >= Int(length) else { return nil }
        defer { offset += Int(length) }
        return Array(bytes[offset..<offset + Int(length)])
    }
}
