import EntropyTunnelCore
import Testing

/// `serve --rate`'s token bucket: one burst of its capacity, then the rate, without overflow.
struct TokenBucketTests {
    @Test("token bucket: burst of one capacity, then the rate")
    func bucket() {
        let start = Instant(nanoseconds: 1_000_000_000)
        var bucket = TokenBucket(rate: 1000, capacity: 4096, now: start)
        #expect(bucket.available(at: start) == 4096)
        // The first full burst goes at once.
        #expect(bucket.take(4096, at: start) == start)
        // The next 1000 bytes are due one second later.
        #expect(bucket.take(1000, at: start) == start + .seconds(1))
        // 500 more after those: 1.5 s from the start.
        #expect(bucket.take(500, at: start) == start + .milliseconds(1500))
        // Idle for an hour: refilled to the capacity, no more.
        let later = start + .seconds(3600)
        #expect(bucket.available(at: later) == 4096)
        #expect(bucket.take(4096, at: later) == later)
        #expect(bucket.take(1, at: later) == later + .milliseconds(1))
    }

    @Test("token bucket: the sustained rate over many requests is the rate")
    func bucketRate() {
        let start = Instant(nanoseconds: 0)
        var bucket = TokenBucket(rate: 2048, capacity: 4096, now: start)
        var now = start
        var sent = 0
        // A greedy client: asks again as soon as each answer is due.
        while now < start + .seconds(100) {
            now = max(now, bucket.take(512, at: now))
            sent += 512
        }
        // 100 s at 2048 B/s plus the 4096 burst, give or take one request.
        #expect(abs(sent - (100 * 2048 + 4096)) <= 512, "\(sent)")
    }

    @Test("token bucket: huge idle times and a rate of one byte per second do not overflow")
    func bucketExtremes() {
        var bucket = TokenBucket(rate: 1, capacity: 1 << 20, now: Instant(nanoseconds: 0))
        let far = Instant(nanoseconds: Int64.max / 4)
        #expect(bucket.available(at: far) == 1 << 20)
        #expect(bucket.take(1 << 20, at: far) == far)
        #expect(bucket.take(1, at: far) == far + .seconds(1))
        let fast = TokenBucket(rate: 1 << 30, capacity: 1 << 20, now: Instant(nanoseconds: 0))
        #expect(fast.available(at: far) == 1 << 20)
    }
}
