/// A setting's value once read and checked: what the config reader and the flags produce, what a
/// `RunConfiguration` is built from and what `install` writes. Which case a setting holds follows
/// from its `Setting.Kind`.
public enum SettingValue: Sendable, Hashable {
    /// Text, a path, a group name or one of a choice.
    case string(String)
    /// Hosts, rngd's arguments.
    case strings([String])
    case integer(Int)
    case seconds(Duration)
    case size(ByteSize)
    /// Bits per byte, a probability.
    case number(Double)

    /// The value as TOML: what `install` writes and the example file shows.
    public var toml: String {
        switch self {
        case .string(let s): return Self.quoted(s)
        case .strings(let list): return "[" + list.map(Self.quoted).joined(separator: ", ") + "]"
        case .integer(let n): return "\(n)"
        case .seconds(let d): return d.seconds.shortDescription
        // A size with a suffix is a string ("64K"); a plain number of bytes an integer.
        case .size(let size): return size.description.last?.isNumber == false ? "\"\(size)\"" : "\(size.bytes)"
        case .number(let d): return "\(d)"
        }
    }

    /// The value as people read it (defaults in help and the manual); nil for an empty list.
    public var text: String? {
        switch self {
        case .string(let s): return s
        case .strings(let list): return list.isEmpty ? nil : list.joined(separator: " ")
        case .integer(let n): return "\(n)"
        case .seconds(let d): return d.seconds.shortDescription
        case .size(let size): return size.description
        case .number(let d): return d.shortDescription
        }
    }

    /// `s` as a TOML basic string: quotes, backslashes and control characters escaped.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

extension Duration {
    /// `seconds` seconds; `seconds` must be finite and within a day's range of the settings.
    static func settingSeconds(_ seconds: Double) -> Duration {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}
