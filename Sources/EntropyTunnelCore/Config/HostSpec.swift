/// An entropy host as written on the command line: `HOST`, `HOST:PORT` or `[IPv6]:PORT`.
public struct HostSpec: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `text`; a port in the text wins over `defaultPort`.
    public init(parsing text: String, defaultPort: Int = 22) throws(TunnelError) {
        let text = text.trimmingSpaces
        func bad(_ why: String) -> TunnelError {
            TunnelError(.invalidArgument,
                        "invalid host '\(text)': \(why); write HOST, HOST:PORT or [IPv6]:PORT")
        }
        func parsePort(_ s: Substring) throws(TunnelError) -> Int {
            guard let p = Int(s), (1...65535).contains(p) else {
                throw bad("port '\(s)' is not a number from 1 to 65535")
            }
            return p
        }
        if text.isEmpty { throw bad("it is empty") }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad("missing ']'") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                port = defaultPort
            } else if rest.hasPrefix(":") {
                port = try parsePort(rest.dropFirst())
            } else {
                throw bad("unexpected text after ']'")
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            port = try parsePort(text[text.index(after: colon)...])
        } else {
            // A bare IPv6 address has several colons and no port.
            host = text
            port = defaultPort
        }
        if host.isEmpty { throw bad("the host name is empty") }
        // Host names, IPv4 and IPv6 addresses (with a %zone): nothing that could reach a shell,
        // a known_hosts line or a log line as something else.
        let allowed: (UInt8) -> Bool = {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ||
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") ||
                $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "%")
        }
        if !host.utf8.allSatisfy(allowed) {
            throw bad("a host name may hold only letters, digits, '.', '-', '_', and ':' or '%' in IPv6 addresses")
        }
        if host.utf8.count > 253 { throw bad("the host name is longer than 253 characters") }
        if host.hasPrefix("-") { throw bad("a host name cannot start with '-'") }
    }

    /// `host` for port 22, `[host]:port` otherwise: the spelling OpenSSH's known_hosts uses.
    public var knownHostsName: String { port == 22 ? host : "[\(host)]:\(port)" }

    /// For messages and the command line: `host:port`, with brackets around IPv6 addresses.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
