/// SP 800-90B §4.4 continuous health tests on a byte stream, judged one 512-byte window at a time.
///
/// A pure value: no I/O, no clock. The pump collects exactly `HealthParameters.windowSize` bytes,
/// calls `check(_:)`, and writes the window only on `.pass`, so not one byte of a failing window
/// reaches the FIFO. Windows are the APT's non-overlapping windows; the Repetition Count Test
/// runs over the whole stream, its current run carried from one window into the next, and a run
/// reaching the cutoff anywhere in a window fails that window.
///
/// Call `reset()` when the source changes (new connection, other host): a run or a partial
/// window from one host says nothing about the next.
public struct HealthTester: Sendable {
    public let parameters: HealthParameters

    // RCT state: the last byte seen and how many times in a row it has occurred (0 = none yet).
    private var lastByte: UInt8 = 0
    private var runLength = 0

    /// Windows judged since creation (not reset by `reset()`).
    public private(set) var windowsChecked: UInt64 = 0
    /// Windows that failed since creation.
    public private(set) var windowsFailed: UInt64 = 0
    /// Failing windows in a row, 0 after a pass. A good source fails two windows in a row with
    /// probability about alpha squared, so a few in a row mean the source is broken.
    public private(set) var consecutiveFailures = 0
    /// The verdicts of the latest `HealthParameters.recentWindows` windows, newest in bit 0
    /// (1 = failed).
    private var recent: UInt64 = 0

    /// Failing windows among the latest `HealthParameters.recentWindows`.
    public var recentFailures: Int { recent.nonzeroBitCount }

    /// Whether the source counts as broken: `limit` failing windows in a row, or the parameters'
    /// `recentFailureLimit` failing windows among the latest 64.
    public func sourceFailed(consecutiveLimit limit: Int) -> Bool {
        consecutiveFailures >= limit || recentFailures >= parameters.recentFailureLimit
    }

    public init(parameters: HealthParameters = .default) {
        self.parameters = parameters
    }

    /// Forgets the RCT run, the failure streak and the recent verdicts; keeps the totals.
    public mutating func reset() {
        runLength = 0
        consecutiveFailures = 0
        recent = 0
    }

    /// Runs both tests over one window of exactly `HealthParameters.windowSize` bytes.
    ///
    /// The whole window is always scanned, even after a failure, so the RCT run carried into the
    /// next window is right.
    public mutating func check(_ window: UnsafeRawBufferPointer) -> HealthVerdict {
        precondition(window.count == HealthParameters.windowSize,
                     "health tests run on whole windows of \(HealthParameters.windowSize) bytes")
        let rctCutoff = parameters.rctCutoff
        let aptCutoff = parameters.aptCutoff
        var failure: HealthVerdict.Failure?

        let first = window[0]
        var occurrences = 0
        var last = lastByte
        var run = runLength
        for offset in 0..<window.count {
            let byte = window[offset]
            if run > 0 && byte == last {
                run += 1
            } else {
                last = byte
                run = 1
            }
            // `>=`: a run that reached the cutoff in an earlier window and still goes on fails
            // this window too; only the first failure in a window is reported.
            if run >= rctCutoff && failure == nil {
                failure = .init(test: .repetitionCount, count: run, cutoff: rctCutoff, offset: offset)
            }
            if byte == first {
                occurrences += 1
                if occurrences == aptCutoff && failure == nil {
                    failure = .init(test: .adaptiveProportion, count: occurrences, cutoff: aptCutoff, offset: offset)
                }
            }
        }
        lastByte = last
        runLength = run
        windowsChecked += 1
        recent = (recent << 1) | (failure == nil ? 0 : 1)
        if let failure {
            windowsFailed += 1
            consecutiveFailures += 1
            return .fail(failure)
        }
        consecutiveFailures = 0
        return .pass
    }
}
