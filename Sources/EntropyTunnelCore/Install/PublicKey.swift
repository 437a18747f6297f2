/// An OpenSSH public key as one line: `TYPE BASE64 [COMMENT]` (a `.pub` file, `keys generate`).
public struct PublicKey: Sendable, Equatable {
    public var type: HostKeyType
    /// The key blob in base64, as OpenSSH writes it.
    public var base64: String
    public var comment: String

    /// Parses `text`, rejecting anything that is not a well-formed key of a known type.
    /// Text that looks like a private key is refused without quoting any of it.
    public init(parsing text: String) throws(TunnelError) {
        if Self.looksPrivate(text) {
            throw TunnelError(.invalidArgument,
                              "that looks like a PRIVATE key; pass the .pub (the one line in the key's .pub file, " +
                              "`ssh-ed25519 AAAA... COMMENT`), and keep the private key where it is")
        }
        let fields = text.trimmingSpaces.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        func bad(_ why: String) -> TunnelError {
            TunnelError(.invalidArgument,
                        "not an OpenSSH public key (\(why)): '\(text.prefix(60))'; pass the one line that " +
                        "`entropy-tunnel keys generate` prints, e.g. --key \"ssh-ed25519 AAAAC3Nza... entropy-tunnel@client\"")
        }
        guard fields.count >= 2 else { throw bad("expected 'TYPE BASE64 [COMMENT]'") }
        guard let type = HostKeyType(name: fields[0]) else {
            throw bad("unknown key type '\(fields[0])'; use ssh-ed25519 or ecdsa-sha2-nistp256")
        }
        guard let blob = Base64.decode(fields[1]), blob.count > 4 + type.rawValue.utf8.count else {
            throw bad("the key is not valid base64")
        }
        let nameLength = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard nameLength == type.rawValue.utf8.count,
              Array(blob[4..<(4 + nameLength)]) == Array(type.rawValue.utf8) else {
            throw bad("the key data does not match its type \(type.rawValue)")
        }
        self.type = type
        base64 = fields[1]
        comment = fields.dropFirst(2).joined(separator: " ")
    }

    /// Whether `text` looks like private key material (PEM or OpenSSH armour, an `openssh-key-v1`
    /// blob in base64, a PuTTY key file), which must never be echoed back.
    public static func looksPrivate(_ text: String) -> Bool {
        let markers = ["PRIVATE KEY", "-----BEGIN", "b3BlbnNzaC1rZXktdjE", "PuTTY-User-Key-File", "Private-Lines:"]
        return markers.contains { text.contains($0) }
    }

    public init(type: HostKeyType, blob: [UInt8], comment: String = "") {
        self.type = type
        base64 = Base64.encode(blob)
        self.comment = comment
    }

    /// The decoded key blob.
    public var blob: [UInt8] { Base64.decode(base64) ?? [] }

    /// `SHA256:...` exactly as `ssh-keygen -l` prints it.
    public var fingerprint: String { sha256Fingerprint(ofKeyBlob: blob) }

    /// `TYPE BASE64 COMMENT` (no comment: `TYPE BASE64`).
    public var line: String { comment.isEmpty ? "\(type.rawValue) \(base64)" : "\(type.rawValue) \(base64) \(comment)" }
}

extension PublicKey {
    /// The key size in bits, as `ssh-keygen -l` prints it first.
    public var bits: Int {
        switch type {
        case .ed25519, .ecdsa256: return 256
        case .ecdsa384: return 384
        case .ecdsa521: return 521
        case .rsa:
            // string "ssh-rsa", mpint e, mpint n: the modulus' bit length.
            var fields: [[UInt8]] = []
            var rest = blob[...]
            while rest.count >= 4, fields.count < 3 {
                let n = Int(rest[rest.startIndex]) << 24 | Int(rest[rest.startIndex + 1]) << 16
                    | Int(rest[rest.startIndex + 2]) << 8 | Int(rest[rest.startIndex + 3])
                rest = rest.dropFirst(4)
                guard n <= rest.count else { break }
                fields.append(Array(rest.prefix(n)))
                rest = rest.dropFirst(n)
            }
            guard fields.count == 3, let first = fields[2].firstIndex(where: { $0 != 0 }) else { return 0 }
            let modulus = fields[2][first...]
            return (modulus.count - 1) * 8 + (8 - modulus.first!.leadingZeroBitCount)
        }
    }

    /// The type as `ssh-keygen -l` names it in parentheses: ED25519, ECDSA, RSA.
    public var keygenTypeLabel: String {
        switch type {
        case .ed25519: return "ED25519"
        case .ecdsa256, .ecdsa384, .ecdsa521: return "ECDSA"
        case .rsa: return "RSA"
        }
    }

    /// `BITS SHA256:... NAME (TYPE)`: the line `ssh-keygen -l` prints for this key.
    public func keygenListing(name: String) -> String {
        "\(bits) \(fingerprint) \(name) (\(keygenTypeLabel))"
    }
}
