#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time for people and files (state file, metrics, status): `clock_gettime(CLOCK_REALTIME)`.
/// Durations and deadlines use `Instant` (monotonic) instead.
public enum WallClock {
    /// Seconds since the epoch, with the fraction.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
