extension Setting {
    /// Reads a value as the config file (or a flag, converted to the same form) gives it, and
    /// checks it against the kind and range: the one conversion both sources go through.
    ///
    /// - Throws: a `.configuration` error whose message names the key (`'window' = ...`) or the
    ///   flag (`--window ...`), says what is expected and what was given; without the file and line,
    ///   which the caller knows.
    public func read(_ value: TOMLValue, from source: Source) throws(TunnelError) -> SettingValue {
        let name = source == .file ? "'\(key)'" : flag
        func fail(_ message: String) -> TunnelError { TunnelError(.configuration, message) }
        func mustBe(_ what: String) -> TunnelError { fail("\(name) must be \(what), not \(value.displayed)") }
        let number: Double?
        switch value {
        case .integer(let n): number = Double(n)
        case .float(let d): number = d
        default: number = nil
        }

        switch kind {
        case .hosts:
            let like = "a string or an array of strings, like \"rng.example:2222\""
            let names: [String]
            switch value {
            case .string(let s):
                names = [s]
            case .array(let elements):
                var collected: [String] = []
                for element in elements {
                    guard case .string(let s) = element else { throw fail("\(name) must be \(like); \(element.displayed) is not a string") }
                    collected.append(s)
                }
                names = collected
            default:
                throw mustBe(like)
            }
            if names.isEmpty { throw fail("\(name) must name at least one entropy host") }
            for host in names {
                do throws(TunnelError) {
                    _ = try HostSpec(parsing: host)
                } catch {
                    throw fail("\(name): \(error.message)")
                }
            }
            return .strings(names)

        case .text, .path, .file, .group, .choice:
            guard case .string(let s) = value else { throw mustBe(expectedText) }
            let result = SettingValue.string(s)
            if source == .file || checksFlag { try check(result, name: name, shown: value.displayed) }
            return result

        case .words:
            switch value {
            case .array(let elements):
                var words: [String] = []
                for element in elements {
                    guard case .string(let s) = element else {
                        throw fail("\(name) must hold only strings, like [\"-d\", \"1\"]; \(element.displayed) is not one")
                    }
                    words.append(s)
                }
                return .strings(words)
            case .string(let s) where source == .flag:
                // One flag value, words separated by spaces: --rngd-args "-s 64".
                return .strings(s.split(separator: " ").map(String.init))
            default:
                throw mustBe(expectedText)
            }

        case .integer:
            guard case .integer(let n) = value else { throw mustBe(expectedText) }
            try check(.integer(n), name: name, shown: value.displayed)
            return .integer(n)

        case .seconds(let range):
            // The range first: only a finite number within it becomes a Duration.
            guard let d = number, d.isFinite, range.contains(d) else { throw mustBe(expectedText) }
            return .seconds(.settingSeconds(d))

        case .number, .probability:
            guard let d = number else { throw mustBe(expectedText) }
            try check(.number(d), name: name, shown: value.displayed)
            return .number(d)

        case .size:
            let size: ByteSize?
            switch value {
            case .integer(let n) where n >= 0: size = ByteSize(bytes: n)
            case .string(let s): size = ByteSize(parsing: s)
            default: size = nil
            }
            guard let size else { throw mustBe(expectedText) }
            try check(.size(size), name: name, shown: value.displayed)
            return .size(size)
        }
    }

    /// Checks a value of this setting's kind against its range and rules.
    ///
    /// - Throws: `.invalidArgument`, naming the flag (for values set in code, not read).
    public func check(_ value: SettingValue) throws(TunnelError) {
        do throws(TunnelError) {
            try check(value, name: flag, shown: value.text ?? value.toml)
        } catch {
            throw TunnelError(.invalidArgument, error.message)
        }
    }

    private func check(_ value: SettingValue, name: String, shown: String) throws(TunnelError) {
        func mustBe(_ what: String) -> TunnelError { TunnelError(.configuration, "\(name) must be \(what), not \(shown)") }
        switch (kind, value) {
        case (.text, .string(let s)):
            guard !s.trimmingSpaces.isEmpty, Self.isPrintable(s) else { throw mustBe(expectedText) }
        case (.path, .string(let s)):
            guard s.hasPrefix("/"), Self.isPrintable(s) else { throw mustBe(expectedText) }
        case (.file, .string(let s)):
            guard s.hasPrefix("/"), Self.isPrintable(s) else { throw mustBe(expectedText) }
            guard !s.hasSuffix("/") else { throw mustBe("an absolute path of a file, not of a directory (ending in /)") }
        case (.group, .string(let s)):
            guard ConfigFile.isGroupName(s) else { throw mustBe(expectedText) }
        case (.choice(let names), .string(let s)):
            guard names.contains(s) else { throw mustBe(expectedText) }
        case (.integer(let range), .integer(let n)):
            guard range.contains(n) else { throw mustBe(expectedText) }
        case (.seconds(let range), .seconds(let d)):
            guard range.contains(d.seconds) else { throw mustBe(expectedText) }
        case (.number(let range), .number(let d)):
            guard d.isFinite, range.contains(d) else { throw mustBe(expectedText) }
        case (.probability(let max), .number(let d)):
            guard d.isFinite, d > 0, d <= max else { throw mustBe(expectedText) }
        case (.size(let range), .size(let size)):
            guard range.contains(size.bytes) else {
                throw TunnelError(.configuration, "\(name)\(name.hasPrefix("'") ? " =" : "") \(size) is out of range: use \(rangeText ?? "")")
            }
        case (.hosts, .strings(let names)):
            guard !names.isEmpty else { throw TunnelError(.configuration, "\(name) must name at least one entropy host") }
        case (.words, .strings):
            break
        default:
            preconditionFailure("\(key): a \(value) is not a value of kind \(kind)")
        }
    }

    /// What messages say a value must be: `a number of seconds from 1 to 86400, like 10 or 2.5`.
    var expectedText: String {
        switch kind {
        case .hosts: return expected ?? "a string or an array of strings, like \"rng.example:2222\""
        case .text: return expected ?? "text"
        case .path, .file: return "an absolute path (starting with /)"
        case .group: return "a group name, like \"rngd\""
        case .choice(let names):
            let quoted = names.map { "\"\($0)\"" }
            return quoted.count == 2 ? "\(quoted[0]) or \(quoted[1])" : "one of \(quoted.joined(separator: ", "))"
        case .integer(let r): return "\(expected ?? "an integer") from \(r.lowerBound) to \(r.upperBound)"
        case .seconds(let r):
            return "a number of seconds from \(r.lowerBound.shortDescription) to \(r.upperBound.shortDescription), like 10 or 2.5"
        case .number(let r): return "\(expected ?? "a number") from \(r.lowerBound.shortDescription) to \(r.upperBound.shortDescription)"
        case .probability(let max):
            return "a probability above 0 and at most \(Self.probabilityText(max)) (\(max)), like 1e-12"
        case .size: return "a size like \"64K\" (or a number of bytes)"
        case .words: return "an array of strings, like [\"-d\", \"1\"]"
        }
    }

    /// No control character but tab: a path or name reaches C calls, argv and log lines.
    static func isPrintable(_ s: String) -> Bool {
        s.unicodeScalars.allSatisfy { $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }
    }
}
