/// A config file's text, edited line by line: `set` changes one key's line and leaves every other
/// line (the admin's keys, comments, blank lines, order) as it was. A value, tested as one.
///
/// Where a key goes: its active line (`key = ...`) is replaced; else the key's commented example
/// line (`#key = ...`, as in the example file) gets the active line right after it; else it is
/// appended. A key whose value spans several lines (a TOML array broken over lines) is not
/// edited: `set` throws, naming the line.
public struct ConfigText: Sendable, Equatable {
    public private(set) var lines: [String]
    /// Where the text was read from, for messages.
    public let path: String

    public init(_ text: String, path: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        self.lines = lines
        self.path = path
    }

    public var text: String { lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }

    /// The index of the active line of `key`, if any.
    func activeLine(_ key: String) -> Int? { lines.firstIndex { Self.names(key, $0, commented: false) } }

    /// Sets `key` to `toml` (a TOML value on one line); returns the old value text, or nil when
    /// the key was not set.
    @discardableResult
    public mutating func set(_ key: String, _ toml: String) throws(TunnelError) -> String? {
        let line = "\(key) = \(toml)"
        if let index = activeLine(key) {
            let old = Self.valueText(lines[index])
            guard Self.isComplete(old) else {
                throw TunnelError(.configuration,
                                  "\(path):\(index + 1): '\(key)' spans several lines; install changes one line per key. " +
                                  "Put its value on one line, or run install with --force to replace the file (kept as \(path).bak)")
            }
            // A comment after the value stays with it.
            if old != toml { lines[index] = line + Self.trailingComment(lines[index]) }
            return old
        }
        if let example = lines.lastIndex(where: { Self.names(key, $0, commented: true) }) {
            lines.insert(line, at: example + 1)
        } else {
            lines.append(line)
        }
        return nil
    }

    /// Whether `line` is `key = ...` (or, `commented`, `#key = ...`).
    static func names(_ key: String, _ line: String, commented: Bool) -> Bool {
        var rest = Substring(line).drop { $0 == " " || $0 == "\t" }
        if commented {
            guard rest.first == "#" else { return false }
            rest = rest.dropFirst().drop { $0 == " " }
        }
        guard rest.hasPrefix(key) else { return false }
        return rest.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }.first == "="
    }

    /// The value part of `key = value  # comment` (comment kept out only when it is outside strings).
    static func valueText(_ line: String) -> String {
        guard let equals = line.firstIndex(of: "=") else { return "" }
        var value = ""
        var quote: Character?
        var escaped = false
        for c in line[line.index(after: equals)...] {
            if let q = quote {
                if escaped { escaped = false } else if c == "\\" && q == "\"" { escaped = true } else if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                break
            }
            value.append(c)
        }
        return value.trimmingCharacters(in: " \t")
    }

    /// `  # comment` after a key's value (outside strings), or "".
    static func trailingComment(_ line: String) -> String {
        guard let equals = line.firstIndex(of: "=") else { return "" }
        var quote: Character?
        var escaped = false
        var index = line.index(after: equals)
        while index < line.endIndex {
            let c = line[index]
            if let q = quote {
                if escaped { escaped = false } else if c == "\\" && q == "\"" { escaped = true } else if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                var start = index
                while start > equals, line[line.index(before: start)] == " " || line[line.index(before: start)] == "\t" {
                    start = line.index(before: start)
                }
                return String(line[start...])
            }
            index = line.index(after: index)
        }
        return ""
    }

    /// Whether a value's brackets close on its line (strings aside).
    static func isComplete(_ value: String) -> Bool {
        var depth = 0
        var quote: Character?
        var escaped = false
        for c in value {
            if let q = quote {
                if escaped { escaped = false } else if c == "\\" && q == "\"" { escaped = true } else if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "[" {
                depth += 1
            } else if c == "]" {
                depth -= 1
            }
        }
        return depth == 0 && quote == nil
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
