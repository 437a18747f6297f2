import EntropyTunnelCore
import Testing

/// A "random" source that returns the same word every time: 0 gives the shortest delay,
/// `UInt64.max` the longest, `1 << 63` half the ceiling.
private struct ConstantGenerator: RandomNumberGenerator {
    let value: UInt64
    mutating func next() -> UInt64 { value }
}

@Suite struct BackoffTests {
    @Test func ceilingsDoubleUpToTheCap() {
        var backoff = Backoff()
        var half = ConstantGenerator(value: 1 << 63)
        var delays: [Duration] = []
        for _ in 0..<9 { delays.append(backoff.nextDelay(afterRunningFor: .zero, using: &half)) }
        #expect(delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30].map { Duration.milliseconds(Int64($0 * 1000)) })
        #expect(backoff.failures == 9)
    }

    struct Draw: Sendable {
        let word: UInt64
        let failuresBefore: Int
        let expected: Duration
    }

    @Test(arguments: [
        Draw(word: 0, failuresBefore: 0, expected: .zero),
        Draw(word: 1 << 63, failuresBefore: 0, expected: .milliseconds(500)),
        Draw(word: 1 << 62, failuresBefore: 3, expected: .seconds(2)),       // a quarter of 8 s
        Draw(word: 1 << 63, failuresBefore: 10, expected: .seconds(30)),     // half of the 60 s cap
        Draw(word: 1 << 63, failuresBefore: 1000, expected: .seconds(30)),   // no overflow far out
    ])
    func fullJitterTable(_ draw: Draw) {
        var backoff = Backoff()
        var zero = ConstantGenerator(value: 0)
        for _ in 0..<draw.failuresBefore { _ = backoff.nextDelay(afterRunningFor: .zero, using: &zero) }
        var generator = ConstantGenerator(value: draw.word)
        #expect(backoff.nextDelay(afterRunningFor: .zero, using: &generator) == draw.expected)
    }

    @Test func delayStaysBelowTheCeiling() {
        // The largest draw is just under the ceiling: the first retry is within 1 s, never at it.
        var backoff = Backoff()
        var max = ConstantGenerator(value: .max)
        let first = backoff.nextDelay(afterRunningFor: .zero, using: &max)
        #expect(first < .seconds(1))
        #expect(first > .milliseconds(999))
        for _ in 0..<20 { #expect(backoff.nextDelay(afterRunningFor: .zero, using: &max) < .seconds(60)) }
    }

    @Test func healthyRunResetsTheStreak() {
        var backoff = Backoff(.init(initial: .seconds(1), cap: .seconds(60), healthyPeriod: .seconds(30)))
        var max = ConstantGenerator(value: .max)
        for _ in 0..<5 { _ = backoff.nextDelay(afterRunningFor: .seconds(1), using: &max) }
        #expect(backoff.ceiling == .seconds(32))
        // 29 s is not healthy: the streak goes on.
        #expect(backoff.nextDelay(afterRunningFor: .seconds(29), using: &max) > .seconds(31))
        // 30 s is: the next delay is again within the first second.
        #expect(backoff.nextDelay(afterRunningFor: .seconds(30), using: &max) < .seconds(1))
        #expect(backoff.failures == 1)
        backoff.reset()
        #expect(backoff.failures == 0)
        #expect(backoff.ceiling == .seconds(1))
    }

    @Test func systemGeneratorStaysInRange() {
        var backoff = Backoff(.init(initial: .milliseconds(100), cap: .milliseconds(400)))
        for expectedCeiling in [100, 200, 400, 400] as [Int64] {
            let delay = backoff.nextDelay(afterRunningFor: .zero)
            #expect(delay >= .zero && delay < .milliseconds(expectedCeiling))
        }
    }
}
