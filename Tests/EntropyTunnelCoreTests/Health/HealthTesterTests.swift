import EntropyTunnelCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs `stream` through a tester window by window; returns the verdicts.
private func verdicts(_ stream: [UInt8], parameters: HealthParameters = .default) -> [HealthVerdict] {
    var tester = HealthTester(parameters: parameters)
    let w = HealthParameters.windowSize
    return stride(from: 0, to: stream.count - w + 1, by: w).map { start in
        stream.withUnsafeBytes { tester.check(UnsafeRawBufferPointer(rebasing: $0[start..<start + w])) }
    }
}

private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// A stream repeating `period` distinct byte values.
private func periodic(_ period: Int, count: Int) -> [UInt8] {
    let pattern = Array(randomBytes(4096, seed: UInt64(period)).uniqued().prefix(period))
    return (0..<count).map { pattern[$0 % period] }
}

private extension Array where Element == UInt8 {
    func uniqued() -> [UInt8] {
        var seen = Set<UInt8>()
        return filter { seen.insert($0).inserted }
    }
}

@Suite struct HealthTesterTests {
    @Test func goodDataFromURandomPasses() throws {
        // 64 MiB of /dev/urandom: 131072 windows; with the defaults the chance of even one false
        // alarm here is about 131072 * 512 * 2^-48 = 2.4e-7.
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        var tester = HealthTester()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        for _ in 0..<64 {
            var filled = 0
            while filled < chunk {
                let n = read(fd, buffer.baseAddress! + filled, chunk - filled)
                try #require(n > 0)
                filled += n
            }
            for start in stride(from: 0, to: chunk, by: 512) {
                _ = tester.check(UnsafeRawBufferPointer(rebasing: buffer[start..<start + 512]))
            }
        }
        #expect(tester.windowsChecked == 131_072)
        #expect(tester.windowsFailed == 0)
        #expect(tester.consecutiveFailures == 0)
    }

    struct Fault: Sendable, CustomTestStringConvertible {
        let name: String
        let stream: [UInt8]
        let test: HealthVerdict.Failure.Test
        var testDescription: String { name }
    }

    /// Every fault the defaults claim to catch fails the first window, so within 1 KiB whatever
    /// the alignment.
    static let faults: [Fault] = [
        Fault(name: "all zero", stream: [UInt8](repeating: 0, count: 1024), test: .repetitionCount),
        Fault(name: "stuck at 0xA5", stream: [UInt8](repeating: 0xA5, count: 1024), test: .repetitionCount),
        Fault(name: "stuck at 0xFF", stream: [UInt8](repeating: 0xFF, count: 1024), test: .repetitionCount),
    ] + (2...20).map { p in
        Fault(name: "period \(p)", stream: periodic(p, count: 1024), test: .adaptiveProportion)
    }

    @Test(arguments: faults)
    func faultTripsWithin1KiB(_ fault: Fault) {
        let results = verdicts(fault.stream)
        #expect(results.count == 2)
        for result in results {
            guard case .fail(let failure) = result else {
                Issue.record("\(fault.name): window passed")
                continue
            }
            #expect(failure.test == fault.test)
        }
    }

    @Test func stuckSourceFailsAtTheSeventhByte() {
        guard case .fail(let failure) = verdicts([UInt8](repeating: 0, count: 512))[0] else {
            Issue.record("all-zero window passed")
            return
        }
        #expect(failure == .init(test: .repetitionCount, count: 7, cutoff: 7, offset: 6))
    }

    @Test func period16HitsTheAPTCutoff() {
        guard case .fail(let failure) = verdicts(periodic(16, count: 512))[0] else {
            Issue.record("period-16 window passed")
            return
        }
        // The window's first value recurs every 16 bytes: the 26th occurrence is at 25 * 16.
        #expect(failure == .init(test: .adaptiveProportion, count: 26, cutoff: 26, offset: 400))
    }

    @Test func faultStartingMidStreamTripsWithin1KiB() {
        for onset in [0, 1, 300, 505, 511, 512, 700, 1023] {
            var stream = randomBytes(onset, seed: 7)
            stream += [UInt8](repeating: 0, count: 4096 - onset)
            let results = verdicts(stream)
            let firstFailure = results.firstIndex { !$0.passed }
            // The first window wholly after the onset ends at most 1024 bytes after it.
            let lastAllowed = (onset + 1024) / 512 - 1
            #expect(firstFailure != nil && firstFailure! <= lastAllowed, "onset \(onset)")
            #expect(results[(lastAllowed + 1)...].allSatisfy { !$0.passed }, "onset \(onset)")
        }
    }

    @Test func documentedBlindSpots() {
        // Honest limits, as documented in HealthParameters: a period above 20, and a counter
        // 0...255 (each value twice per window), are indistinguishable from good data for the
        // APT on bytes.
        let period21 = verdicts(periodic(21, count: 4096))
        let counter = verdicts((0..<4096).map { UInt8(truncatingIfNeeded: $0) })
        #expect(period21.count == 8 && period21.allSatisfy { $0.passed })
        #expect(counter.count == 8 && counter.allSatisfy { $0.passed })
    }

    @Test func rctRunCarriesAcrossWindows() {
        var first = randomBytes(512, seed: 11)
        var second = randomBytes(512, seed: 12)
        // Four zeros end window one, three start window two: a run of 7.
        first[507] = 1; for i in 508..<512 { first[i] = 0 }
        for i in 0..<3 { second[i] = 0 }; second[3] = 1
        var tester = HealthTester()
        #expect(first.withUnsafeBytes { tester.check($0) } == .pass)
        #expect(second.withUnsafeBytes { tester.check($0) }
                == .fail(.init(test: .repetitionCount, count: 7, cutoff: 7, offset: 2)))
        #expect(tester.consecutiveFailures == 1)
        #expect(tester.windowsFailed == 1)

        // After reset() (a new source) the same two windows pass.
        var fresh = HealthTester()
        #expect(first.withUnsafeBytes { fresh.check($0) } == .pass)
        fresh.reset()
        #expect(second.withUnsafeBytes { fresh.check($0) } == .pass)
    }

    @Test func failureStreakCountsAndResets() {
        var tester = HealthTester()
        let zeros = [UInt8](repeating: 0, count: 512)
        let good = randomBytes(512, seed: 3)
        for expected in 1...3 {
            _ = zeros.withUnsafeBytes { tester.check($0) }
            #expect(tester.consecutiveFailures == expected)
        }
        tester.reset()
        #expect(good.withUnsafeBytes { tester.check($0) } == .pass)
        #expect(tester.consecutiveFailures == 0)
        #expect(tester.windowsChecked == 4)
        #expect(tester.windowsFailed == 3)
    }

    @Test func failureDescriptionCarriesNoSampleValue() {
        let verdict = verdicts([UInt8](repeating: 0xA5, count: 512))[0]
        #expect(verdict.description == "repetition count test failed: count 7 reached cutoff 7 at offset 6")
        #expect(!verdict.description.contains("165") && !verdict.description.lowercased().contains("a5"))
    }
}

/// The failure-rate rule: failing windows that are not in a row still fail the source when
/// there are more of them than alpha allows a good source.
struct HealthFailureRateTests {
    @Test("the recent-failure limit follows alpha", arguments: [
        (0x1p-40, 2), (0x1p-20, 2), (1e-3, 3), (0x1p-8, 4),
    ])
    func limitFromAlpha(alpha: Double, expected: Int) throws {
        let parameters = try HealthParameters(minEntropy: 7, alpha: alpha)
        #expect(parameters.recentFailureLimit == expected)
    }

    @Test("two failing windows among 64 fail the source with the defaults; one does not")
    func twoOfSixtyFour() {
        var tester = HealthTester()
        let good = randomBytes(512 * 70, seed: 42)
        let stuck = [UInt8](repeating: 7, count: 512)
        func check(_ window: [UInt8]) { window.withUnsafeBytes { _ = tester.check($0) } }
        check(stuck)
        for i in 0..<30 { check(Array(good[i * 512..<(i + 1) * 512])) }
        #expect(tester.recentFailures == 1 && !tester.sourceFailed(consecutiveLimit: 3))
        check(stuck)
        #expect(tester.consecutiveFailures == 1)
        #expect(tester.recentFailures == 2 && tester.sourceFailed(consecutiveLimit: 3))
        // 64 good windows later the old failures have left the horizon.
        for i in 0..<64 { check(Array(good[(i % 70) * 512..<((i % 70) + 1) * 512])) }
        #expect(tester.recentFailures == 0 && !tester.sourceFailed(consecutiveLimit: 3))
    }
}
