/// A size in bytes written the way administrators write it: `512`, `64K`, `2M`, `1G`.
///
/// Suffixes are powers of 1024 (`K`, `M`, `G`, also `KiB`, `MiB`, `GiB`, any case).
public struct ByteSize: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    /// Parses `text`, or returns nil when it is not a size.
    public init?(parsing text: String) {
        let trimmed = text.trimmingSpaces
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int(digits) else { return nil }
        let multiplier: Int
        switch trimmed.dropFirst(digits.count).lowercased() {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        default: return nil
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        bytes = product
    }

    /// The shortest exact spelling: `64K`, `2M`, `1000`.
    public var description: String {
        for (suffix, shift) in [("G", 30), ("M", 20), ("K", 10)] where bytes >= 1 << shift {
            if bytes % (1 << shift) == 0 { return "\(bytes >> shift)\(suffix)" }
        }
        return "\(bytes)"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    public static func kib(_ n: Int) -> ByteSize { ByteSize(bytes: n << 10) }
    public static func mib(_ n: Int) -> ByteSize { ByteSize(bytes: n << 20) }

    /// `12.3 MiB`: an amount of bytes as people read it, to a tenth. The one byte-size
    /// formatter (status lines, `status`, messages).
    public static func human(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        return "\((value * 10).rounded() / 10) \(units[unit])"
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
