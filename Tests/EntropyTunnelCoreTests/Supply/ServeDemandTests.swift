import EntropyTunnelCore
import Testing

/// What the client requests of `serve` for each sink, as a value.
struct ServeDemandTests {
    @Test("kernel sink: one window per due feed, nothing while one is on its way")
    func kernelDemand() {
        var demand = ServeDemand()
        // Due: the kernel sink reports at least one window of room.
        #expect(demand.requests(sinkRoom: 512, buffered: 0, limitLeft: nil, threshold: 1, unit: 512) == [512])
        #expect(demand.requests(sinkRoom: 512, buffered: 0, limitLeft: nil, threshold: 1, unit: 512) == [])
        demand.arrived(512)
        // 32 bytes went to the kernel, 480 are left here: the next feed needs no request.
        #expect(demand.requests(sinkRoom: 512, buffered: 480, limitLeft: nil, threshold: 1, unit: 512) == [32])
        #expect(demand.requested == 1024 - 480)
    }

    @Test("pre-readiness burst and fetch: exactly the count, whole windows with the tests, lines of at most 512")
    func burstAndLimit() {
        var burst = ServeDemand()
        #expect(burst.requests(sinkRoom: 4096, buffered: 0, limitLeft: nil, threshold: 1, unit: 512) == Array(repeating: 512, count: 8))
        var fetch = ServeDemand()
        #expect(fetch.requests(sinkRoom: .max, buffered: 0, limitLeft: 1000, threshold: 1, unit: 512) == [512, 512])
        var exact = ServeDemand()
        #expect(exact.requests(sinkRoom: .max, buffered: 0, limitLeft: 1000, threshold: 1, unit: 1) == [512, 488])
        #expect(exact.requests(sinkRoom: .max, buffered: 0, limitLeft: 1000, threshold: 1, unit: 1) == [])
        // A failed health window was dropped: it is asked for again.
        var dropped = ServeDemand()
        _ = dropped.requests(sinkRoom: .max, buffered: 0, limitLeft: 1024, threshold: 1, unit: 512)
        dropped.arrived(1024)
        #expect(dropped.requests(sinkRoom: .max, buffered: 512, limitLeft: 1024, threshold: 1, unit: 512) == [512])
        // A sink without end and no limit: at most aheadLimit ahead.
        var file = ServeDemand()
        #expect(file.requests(sinkRoom: .max, buffered: 0, limitLeft: nil, threshold: 1, unit: 512).reduce(0, +) == ServeDemand.aheadLimit)
    }

    @Test("FIFO sink: refills up to its capacity once it is half empty, not in drips")
    func fifoDemand() {
        var demand = ServeDemand()
        let capacity = 65536
        #expect(demand.requests(sinkRoom: capacity, buffered: 0, limitLeft: nil, threshold: capacity / 2, unit: 512).reduce(0, +) == capacity)
        demand.arrived(capacity)
        // The consumer took 20K: below the threshold, nothing.
        #expect(demand.requests(sinkRoom: 20 << 10, buffered: 0, limitLeft: nil, threshold: capacity / 2, unit: 512) == [])
        // It took 40K: refill the 40K.
        #expect(demand.requests(sinkRoom: 40 << 10, buffered: 0, limitLeft: nil, threshold: capacity / 2, unit: 512).reduce(0, +) == 40 << 10)
    }
}
