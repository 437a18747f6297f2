/// One setting of `entropy-tunnel run`: its config-file key, its flag, what it takes, its
/// default, whether a reload applies it, its text for help, the manual and the example file, and
/// where its value lands in a `RunConfiguration`.
///
/// `Settings.all` is the one table of settings: the flags' help and checks, the config reader
/// (keys, order, ranges, messages), the defaults of `RunConfiguration`, what a reload applies,
/// what `install` writes (and in which order), the example config and the manual page are all
/// made from it. Adding a setting is one row there plus the code that uses its value.
public struct Setting: Sendable {
    /// What a setting takes, with its range where it has one.
    public enum Kind: Sendable {
        case hosts
        /// Text that is not blank (a user name, a command).
        case text
        /// An absolute path (of a directory).
        case path
        /// An absolute path of a file: not ending in `/`.
        case file
        case integer(ClosedRange<Int>)
        /// Seconds, as an integer or a decimal number.
        case seconds(ClosedRange<Double>)
        /// A size with a K/M/G suffix, or a number of bytes.
        case size(ClosedRange<Int>)
        /// A decimal number (bits per byte).
        case number(ClosedRange<Double>)
        case choice([String])
        /// A probability above 0, at most `max`.
        case probability(max: Double)
        /// A list of words (rngd's extra arguments).
        case words
        case group
    }

    /// Which commands read it.
    public enum Scope: Sendable {
        /// `run`, `fetch`, `check` (the connection).
        case connection
        /// `run` only (the sink, rngd, pacing).
        case daemon
    }

    /// What `systemctl reload` (SIGHUP) does with a changed value.
    public enum Reload: Sendable {
        /// Applied to the running daemon at once.
        case live
        /// Fixed for the life of the process: the reload names it and keeps the running value.
        case restart
    }

    /// Where a value comes from, for the wording of messages.
    public enum Source: Sendable {
        /// The config file: `'data_timeout' must be ...`.
        case file
        /// The command line: `--data-timeout must be ...`.
        case flag
    }

    /// How the setting appears in the example config file.
    struct Example: Sendable {
        /// The heading of the section this setting opens.
        var section: String?
        /// The comment above the key, lines as written; `{range}` stands for the range in words.
        /// Empty: the key follows the previous one under its comment.
        var comment: String
        /// The value shown (commented out) when the setting has no default to show.
        var value: String?
    }

    /// The config-file key.
    public let key: String
    /// The flag's placeholder in help (`<seconds>`).
    public let valueName: String
    public let kind: Kind
    /// The default, or nil when there is none (or it depends on other settings).
    public let defaultValue: SettingValue?
    /// The default in words where it is not simply the value (`2^-40, about 9.1e-13`).
    let defaultNote: String?
    /// What it does, one or two sentences (no default, no range: those are added from the table).
    public let summary: String
    public let scope: Scope
    public let reload: Reload
    /// A flag only (hidden, for tests), not a config key.
    public let commandLineOnly: Bool
    /// Whether a value given as a flag is checked by the table (as it is parsed, and when a
    /// configuration is built); a value in the file always is. Off only where the value is
    /// checked where it is used instead (`rngd`: `run` when it looks for rngd, `install` in the
    /// config it writes and reads back before writing anything).
    public let checksFlag: Bool
    /// How messages name what is expected (`a port number`); nil: from the kind.
    let expected: String?
    let example: Example
    /// Where the value lands in a `RunConfiguration`.
    let binding: Binding

    init(_ key: String, _ valueName: String, _ kind: Kind, default defaultValue: SettingValue?, note defaultNote: String? = nil,
         _ binding: Binding, reload: Reload, scope: Scope, expected: String? = nil, commandLineOnly: Bool = false,
         checksFlag: Bool = true, summary: String, example: Example) {
        self.key = key
        self.valueName = valueName
        self.kind = kind
        self.defaultValue = defaultValue
        self.defaultNote = defaultNote
        self.summary = summary
        self.scope = scope
        self.reload = reload
        self.commandLineOnly = commandLineOnly
        self.checksFlag = checksFlag
        self.expected = expected
        self.example = example
        self.binding = binding
    }

    /// The default as people read it (`64K`, `60`), or nil when there is none.
    public var defaultText: String? { defaultNote ?? defaultValue?.text }

    /// The default as a TOML value (`"64K"`, `60`), or nil when there is none to write.
    public var defaultTOML: String? { defaultValue?.toml }

    /// `--data-timeout` for `data_timeout`.
    public var flag: String { "--" + String(key.map { $0 == "_" ? "-" : $0 }) }

    /// The range in words, for help and messages ("1 to 86400").
    public var rangeText: String? {
        switch kind {
        case .integer(let r): return "\(r.lowerBound) to \(r.upperBound)"
        case .seconds(let r): return "\(r.lowerBound.shortDescription) to \(r.upperBound.shortDescription) seconds"
        case .size(let r): return "\(ByteSize(bytes: r.lowerBound)) to \(ByteSize(bytes: r.upperBound))"
        case .number(let r): return "\(r.lowerBound.shortDescription) to \(r.upperBound.shortDescription)"
        case .probability(let max): return "above 0, at most \(Self.probabilityText(max))"
        case .choice(let names): return names.joined(separator: ", ")
        default: return nil
        }
    }

    /// The help line for `--help` and the manual: the summary, the range, the default. (The
    /// values of a choice are listed by the argument parser itself.)
    public var helpText: String {
        var text = summary
        if case .choice = kind {
        } else if let rangeText {
            text += " Range: \(rangeText)."
        }
        if let defaultText { text += " (default: \(defaultText))" }
        return text
    }

    /// `2^-8` for 0x1p-8: probabilities people write as powers of two.
    static func probabilityText(_ p: Double) -> String {
        p > 0 && p.significand == 1 && p.exponent < -2 ? "2^\(p.exponent)" : p.shortDescription
    }
}

extension Double {
    /// `1` for 1.0, `0.1` for 0.1: the shortest spelling for messages.
    public var shortDescription: String {
        self == rounded() && abs(self) < 1e15 ? "\(Int(self))" : "\(self)"
    }
}
