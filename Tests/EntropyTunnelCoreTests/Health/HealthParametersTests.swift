import EntropyTunnelCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct HealthParametersTests {
    struct Cutoffs: Sendable, CustomTestStringConvertible {
        let source: String
        let minEntropy: Double
        let alphaExponent: Int
        let rct: Int
        let apt: Int
        var testDescription: String { "\(source): H=\(minEntropy) alpha=2^-\(alphaExponent)" }
    }

    /// Published values: SP 800-90B Table 2 (W = 512, alpha = 2^-20) for the APT; Linux
    /// crypto/jitterentropy.c (JENT_RCT_CUTOFF 31, JENT_APT_CUTOFF 325, W = 512, H = 1,
    /// alpha = 2^-30); the RCT cutoffs follow 1 + ceil(20 / H). The defaults and H = 8 were
    /// checked with exact rational arithmetic (Python fractions).
    static let table: [Cutoffs] = [
        Cutoffs(source: "SP 800-90B Table 2", minEntropy: 0.5, alphaExponent: 20, rct: 41, apt: 410),
        Cutoffs(source: "SP 800-90B Table 2", minEntropy: 1, alphaExponent: 20, rct: 21, apt: 311),
        Cutoffs(source: "SP 800-90B Table 2", minEntropy: 2, alphaExponent: 20, rct: 11, apt: 177),
        Cutoffs(source: "SP 800-90B Table 2", minEntropy: 4, alphaExponent: 20, rct: 6, apt: 62),
        Cutoffs(source: "SP 800-90B Table 2", minEntropy: 8, alphaExponent: 20, rct: 4, apt: 13),
        Cutoffs(source: "Linux jitterentropy", minEntropy: 1, alphaExponent: 30, rct: 31, apt: 325),
        Cutoffs(source: "default", minEntropy: 7, alphaExponent: 40, rct: 7, apt: 26),
        Cutoffs(source: "exact", minEntropy: 8, alphaExponent: 40, rct: 6, apt: 19),
        Cutoffs(source: "exact", minEntropy: 6, alphaExponent: 40, rct: 8, apt: 35),
        Cutoffs(source: "exact", minEntropy: 4, alphaExponent: 40, rct: 11, apt: 78),
        Cutoffs(source: "exact", minEntropy: 1, alphaExponent: 40, rct: 41, apt: 336),
    ]

    @Test(arguments: table)
    func cutoffsMatchPublishedValues(_ c: Cutoffs) throws {
        let parameters = try HealthParameters(minEntropy: c.minEntropy, alpha: exp2(-Double(c.alphaExponent)))
        #expect(parameters.rctCutoff == c.rct)
        #expect(parameters.aptCutoff == c.apt)
    }

    @Test func defaults() {
        let d = HealthParameters.default
        #expect(d.minEntropy == 7)
        #expect(d.alpha == 0x1p-40)
        #expect(d.rctCutoff == 7)
        #expect(d.aptCutoff == 26)
        #expect(HealthParameters.windowSize == 512)
    }

    /// The false-alarm rates quoted in `HealthParameters`' documentation.
    @Test func documentedFalseAlarmRates() {
        let d = HealthParameters.default
        #expect(d.rctFalseAlarmRate(trueMinEntropy: 8) == 0x1p-48)
        #expect(d.rctFalseAlarmRate(trueMinEntropy: 7) == 0x1p-42)
        // Exact values from Python fractions: 1.8264047550e-19 and 9.8560113500e-13.
        #expect(abs(d.aptFalseAlarmRate(trueMinEntropy: 8) / 1.8264047550239864e-19 - 1) < 1e-6)
        #expect(abs(d.aptFalseAlarmRate(trueMinEntropy: 7) / 9.856011349979485e-13 - 1) < 1e-6)
        // "One per ~8,900 years / ~139 years at 1 KB/s" (RCT dominates; a year is 3.156e7 s).
        let year = 365.25 * 86400, bytesPerSecond = 1000.0
        func yearsPerAlarm(_ h: Double) -> Double {
            let perSecond = d.rctFalseAlarmRate(trueMinEntropy: h) * bytesPerSecond
                + d.aptFalseAlarmRate(trueMinEntropy: h) * bytesPerSecond / 512
            return 1 / perSecond / year
        }
        #expect((8_800...9_000).contains(yearsPerAlarm(8)))
        #expect((135...140).contains(yearsPerAlarm(7)))
    }

    @Test func rctCutoffIsExactOnPowersOfTwo() {
        // -log2(2^-30) / 1 is 30 exactly; floating error must not round it up to 31.
        #expect(HealthParameters.repetitionCountCutoff(minEntropy: 1, alpha: 0x1p-30) == 31)
        #expect(HealthParameters.repetitionCountCutoff(minEntropy: 3, alpha: 0x1p-30) == 11)
        #expect(HealthParameters.repetitionCountCutoff(minEntropy: 7, alpha: 0x1p-40) == 7)
        #expect(HealthParameters.repetitionCountCutoff(minEntropy: 8, alpha: 1e-12) == 1 + 5)
    }

    @Test(arguments: [(0.0, 0x1p-40), (-1, 0x1p-40), (8.5, 0x1p-40), (7, 0), (7, 1), (7, 2), (7, 0.9999999999), (7, 0.01), (.nan, 0x1p-40)]
          as [(Double, Double)])
    func rejectsOutOfRange(_ h: Double, _ alpha: Double) {
        #expect(throws: TunnelError.self) { try HealthParameters(minEntropy: h, alpha: alpha) }
        do {
            _ = try HealthParameters(minEntropy: h, alpha: alpha)
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("--health-"))
        }
    }
}

@Suite struct HealthAlphaParsingTests {
    @Test(arguments: [
        ("2^-40", 0x1p-40), ("2**-30", 0x1p-30), ("2 ^ -20", 0x1p-20), ("1e-12", 1e-12), ("0.001", 0.001),
    ] as [(String, Double)])
    func parses(_ text: String, _ expected: Double) {
        #expect(HealthParameters.parseAlpha(text) == expected)
    }

    @Test(arguments: ["", "abc", "2^", "^-40", "0", "1", "2^40", "-0.5", "1e3"])
    func rejects(_ text: String) {
        #expect(HealthParameters.parseAlpha(text) == nil)
    }
}
