#if canImport(Glibc)
import Glibc
#endif

extension HealthParameters {
    /// Reads an alpha as people write it: `2^-40`, `2**-40`, `1e-12` or `0.000001`.
    ///
    /// Returns nil for anything else, and for values outside (0, 1); the caller reports the
    /// option by name.
    public static func parseAlpha(_ text: String) -> Double? {
        let trimmed = text.filter { $0 != " " }
        let value: Double?
        if let range = trimmed.firstRange(of: "^") ?? trimmed.firstRange(of: "**") {
            guard let base = Double(trimmed[..<range.lowerBound]),
                  let exponent = Double(trimmed[range.upperBound...]) else { return nil }
            value = pow(base, exponent)
        } else {
            value = Double(trimmed)
        }
        guard let value, value > 0, value < 1 else { return nil }
        return value
    }
}
