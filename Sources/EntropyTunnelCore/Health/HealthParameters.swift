#if canImport(Glibc)
import Glibc
#endif

/// The parameters of the SP 800-90B §4.4 continuous health tests, with samples = bytes.
///
/// Both cutoffs follow from two numbers: `minEntropy` (H, the min-entropy per byte the source is
/// claimed to have) and `alpha` (the false-positive probability the tests may have for a source
/// that really has H bits per byte):
/// - Repetition Count Test: `C = 1 + ceil(-log2(alpha) / H)`.
/// - Adaptive Proportion Test, window W = 512 bytes: `C = 1 + CRITBINOM(W, 2^-H, 1 - alpha)`,
///   the smallest k whose binomial CDF reaches `1 - alpha`, plus one; computed exactly (in log
///   space), so it reproduces SP 800-90B Table 2 and Linux `crypto/jitterentropy.c` (325).
///
/// ## The defaults: H = 7 bits per byte, alpha = 2^-40 → RCT cutoff 7, APT cutoff 26
///
/// H = 7 claims slightly less than a conditioned hardware RNG delivers (8 bits per byte), so a
/// good source stays far below alpha, while the APT cutoff stays low enough to catch short
/// periods. False alarms (each one drops one 512-byte window and is logged):
///
/// | source                           | RCT, per byte     | APT, per window   | at 1 KB/s               |
/// |----------------------------------|-------------------|-------------------|-------------------------|
/// | full entropy (8 bits per byte)   | 2^-48 = 3.6e-15   | 1.8e-19           | one per ~8,900 years    |
/// | exactly the claimed 7 bits/byte  | 2^-42 = 2.3e-13   | <= 9.9e-13        | one per ~139 years      |
///
/// (With H = 8 the RCT cutoff would be 6 and a full-entropy source would trip once per ~35 years
/// at 1 KB/s, but any source that is not perfectly whitened would trip far more often.)
///
/// What trips, with the defaults, within the first complete 512-byte window (so within 1 KiB of
/// the fault appearing, whatever its alignment):
/// - a stuck or all-zero source: the RCT, at the 7th identical byte;
/// - a source with period p <= 20 (any pattern repeating every 2..20 bytes, e.g. a period-16
///   pattern puts its first value 32 times in a window, >= 26): the APT.
///
/// What cannot trip, honestly: a pattern with a period above 20 bytes, such as a counter
/// 0, 1, ..., 255 repeating. In a 512-byte window its first value occurs only twice, and a good
/// source's first value occurs at least twice in 86 % of windows; no cutoff separates them. The
/// SP 800-90B tests are meant to catch gross failures (stuck, heavily biased, short loops);
/// rngd's FIPS 140-2 tests and the kernel's mixing come after them.
public struct HealthParameters: Hashable, Sendable, CustomStringConvertible {
    /// The APT window: 512 samples for non-binary samples (SP 800-90B §4.4.2).
    public static let windowSize = 512

    /// Claimed min-entropy per byte (H), in bits: 0.1 <= H <= 8.
    public let minEntropy: Double
    /// False-positive probability per test for a source that has exactly `minEntropy`.
    public let alpha: Double
    /// Repetition Count Test cutoff: this many identical bytes in a row fail.
    public let rctCutoff: Int
    /// Adaptive Proportion Test cutoff: this many occurrences of a window's first byte fail.
    public let aptCutoff: Int
    /// This many failing windows among the last `recentWindows` fail the source, even when they
    /// were not in a row: the smallest count (at least 2) that a source which really has H bits
    /// per byte reaches with probability at most alpha (each window fails with probability at
    /// most 2 alpha, one per test). With the defaults: 2 of the last 64.
    public let recentFailureLimit: Int

    /// How many of the latest windows `recentFailureLimit` looks at.
    public static let recentWindows = 64

    /// H = 7 bits per byte, alpha = 2^-40: RCT cutoff 7, APT cutoff 26 (see the type's notes).
    public static let `default` = HealthParameters(validMinEntropy: 7, alpha: 0x1p-40)

    /// Checks the parameters and computes both cutoffs.
    ///
    /// - Throws: `TunnelError(.invalidArgument)` for H outside (0, 8] or alpha outside (0, 1).
    public init(minEntropy: Double, alpha: Double) throws(TunnelError) {
        // Below 0.1 bit per byte the RCT cutoff runs into thousands (and, far below, past Int):
        // no RNG worth tunnelling claims so little.
        guard minEntropy >= 0.1, minEntropy <= 8 else {
            throw TunnelError(.invalidArgument,
                              "--health-min-entropy \(minEntropy) is out of range: give bits per byte, " +
                              "from 0.1 to 8 (default 7)")
        }
        // Above 2^-8 the tests would fail good sources every few windows (and near 1 the RCT
        // cutoff reaches 1: every byte fails); SP 800-90B suggests 2^-20 to 2^-40.
        guard alpha > 0, alpha <= 0x1p-8 else {
            throw TunnelError(.invalidArgument,
                              "--health-alpha \(alpha) is out of range: give a probability above 0 and at most 2^-8, " +
                              "such as 2^-40 (the default, about 9.1e-13)")
        }
        self.init(validMinEntropy: minEntropy, alpha: alpha)
    }

    private init(validMinEntropy h: Double, alpha: Double) {
        minEntropy = h
        self.alpha = alpha
        rctCutoff = Self.repetitionCountCutoff(minEntropy: h, alpha: alpha)
        aptCutoff = 1 + Self.criticalBinomial(trials: Self.windowSize, probability: exp2(-h), alpha: alpha)
        recentFailureLimit = max(2, 1 + Self.criticalBinomial(trials: Self.recentWindows,
                                                              probability: min(2 * alpha, 0.999), alpha: alpha))
    }

    /// `1 + ceil(-log2(alpha) / H)` (SP 800-90B §4.4.1).
    public static func repetitionCountCutoff(minEntropy h: Double, alpha: Double) -> Int {
        let quotient = -log2(alpha) / h
        // -log2(2^-30) / 1 must give exactly 30, not 30.000000000000004 rounded up to 31.
        let nearest = quotient.rounded()
        let whole = abs(quotient - nearest) < 1e-9 ? nearest : quotient.rounded(.up)
        return 1 + Int(whole)
    }

    /// `CRITBINOM(n, p, 1 - alpha)`: the smallest k with `P(X <= k) >= 1 - alpha` for
    /// X ~ Binomial(n, p), i.e. the smallest k with upper tail `P(X > k) <= alpha`.
    ///
    /// The CDF is never formed: `1 - alpha` rounds away an alpha of 2^-40 next to 1, so the
    /// upper tail is summed from the top in log space (log-sum-exp of `lgamma`-based terms).
    public static func criticalBinomial(trials n: Int, probability p: Double, alpha: Double) -> Int {
        let logP = log(p), log1mP = log1p(-p)
        let logN = logGamma(Double(n) + 1)
        func logPMF(_ j: Int) -> Double {
            logN - logGamma(Double(j) + 1) - logGamma(Double(n - j) + 1) + Double(j) * logP + Double(n - j) * log1mP
        }
        let logAlpha = log(alpha)
        // tail(k) = P(X > k) = sum_{j > k} pmf(j); tail(n) = 0. Walk k down while tail(k) <= alpha.
        var logTail = -Double.infinity
        var k = n
        while k > 0 {
            let next = logAddExp(logTail, logPMF(k)) // tail(k - 1)
            if next > logAlpha { return k }
            logTail = next
            k -= 1
        }
        return 0
    }

    /// ln Γ(x), the C `lgamma` (named apart from the overlay's `(value, sign)` overload).
    private static func logGamma(_ x: Double) -> Double {
        let value: Double = lgamma(x)
        return value
    }

    private static func logAddExp(_ a: Double, _ b: Double) -> Double {
        if a == -.infinity { return b }
        if b == -.infinity { return a }
        let high = max(a, b), low = min(a, b)
        return high + log1p(exp(low - high))
    }

    /// Probability that the RCT fails at a given byte for a source whose most likely byte has
    /// probability `2^-trueMinEntropy`: `2^(-H_true * (C - 1))`.
    public func rctFalseAlarmRate(trueMinEntropy: Double) -> Double {
        exp2(-trueMinEntropy * Double(rctCutoff - 1))
    }

    /// Probability that the APT fails a window whose first byte is a value of probability
    /// `2^-trueMinEntropy`: P(at least `C - 1` more occurrences among the other 511 bytes).
    public func aptFalseAlarmRate(trueMinEntropy: Double) -> Double {
        let n = Self.windowSize - 1
        let p = exp2(-trueMinEntropy)
        let logN = Self.logGamma(Double(n) + 1)
        var total = 0.0
        var j = n
        while j >= aptCutoff - 1 {
            total += exp(logN - Self.logGamma(Double(j) + 1) - Self.logGamma(Double(n - j) + 1)
                         + Double(j) * log(p) + Double(n - j) * log1p(-p))
            j -= 1
        }
        return total
    }

    public var description: String {
        // Powers of two, the usual choice, read better as such: alpha=2^-40.
        let exponent = log2(alpha).rounded()
        let alphaText = exp2(exponent) == alpha ? "2^\(Int(exponent))" : "\(alpha)"
        return "H=\(minEntropy) alpha=\(alphaText) rct_cutoff=\(rctCutoff) apt_cutoff=\(aptCutoff) window=\(Self.windowSize) " +
            "fail_at=\(recentFailureLimit)/\(Self.recentWindows)"
    }
}
