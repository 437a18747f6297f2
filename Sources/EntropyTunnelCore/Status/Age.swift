/// How long ago something happened, as people read it: `42 s`, `12 min`, `3 h 5 min`,
/// `2 d 4 h`. The one age formatter (status lines, `status`, health reasons).
public enum Age {
    /// `seconds` in words; negative, non-finite or huge values never trap (a clock that jumped,
    /// a damaged file).
    public static func text(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(max(0, min(seconds, 1e12)))
        switch s {
        case ..<120: return "\(s) s"
        case ..<7200: return "\(s / 60) min"
        case ..<172_800:
            let minutes = s % 3600 / 60
            return "\(s / 3600) h" + (minutes > 0 ? " \(minutes) min" : "")
        default:
            let hours = s % 86_400 / 3600
            return "\(s / 86_400) d" + (hours > 0 ? " \(hours) h" : "")
        }
    }
}
