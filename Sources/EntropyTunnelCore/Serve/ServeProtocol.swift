/// The `serve` protocol, version 1: what `entropy-tunnel serve` (the host side, the restricted
/// key's forced command) and the client say to each other over the SSH channel.
///
/// ```
/// host -> client   entropy-tunnel-serve 1\n           (once, first)
/// client -> host   N\n                                (1 <= N <= --max-request, decimal, no sign,
///                                                      no leading zero, nothing else on the line)
/// host -> client   exactly N bytes from the host's RNG
/// ```
/// The client may send several requests ahead; the host answers them in order. End of the
/// client's stream ends the host's command with status 0. Anything malformed ends it with a
/// one-line message on stderr (which the client shows) and a non-zero status.
public enum ServeProtocol {
    /// The protocol version this build speaks.
    public static let version = 1
    /// What starts the magic line, before the version.
    public static let magicPrefix: [UInt8] = Array("entropy-tunnel-serve ".utf8)
    /// The magic line this build sends: `entropy-tunnel-serve 1\n`.
    public static let magicLine: [UInt8] = magicPrefix + Array("\(version)\n".utf8)
    /// The longest magic line a client waits for before deciding it is not one (prefix, a version
    /// of up to 6 digits, newline).
    public static let magicLineLimit = magicPrefix.count + 7
    /// The longest request line the host accepts, newline included: 7 digits and `\n`.
    public static let requestLineLimit = 8
    /// The largest --max-request: what one 7-digit line can ask for, bounded to 1 MiB.
    public static let requestLimit = 1 << 20
    /// The default --max-request.
    public static let defaultMaxRequest = 4096
    /// The largest single read from the device.
    public static let deviceReadSize = 512

    /// The request line for `count` bytes.
    public static func requestLine(_ count: Int) -> [UInt8] {
        precondition(count >= 1 && count <= requestLimit, "request out of range")
        return Array("\(count)\n".utf8)
    }

    /// Splits `count` bytes into request sizes of at most `maxRequest` each.
    public static func requests(for count: Int, maxRequest: Int = defaultMaxRequest) -> [Int] {
        guard count > 0 else { return [] }
        var sizes = Array(repeating: maxRequest, count: count / maxRequest)
        if count % maxRequest > 0 { sizes.append(count % maxRequest) }
        return sizes
    }
}
