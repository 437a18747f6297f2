/// The unencrypted header of an OpenSSH private key file (`openssh-key-v1`, PROTOCOL.key):
/// the cipher protecting the private part and the type of the first public key.
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
