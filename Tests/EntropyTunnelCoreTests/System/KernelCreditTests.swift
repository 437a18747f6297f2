import EntropyTunnelCore
import Testing

/// The one decision every credit report comes from: what the kernel takes for an
/// RNDADDENTROPY, given whether its CRNG was ready just before the call.
@Suite struct KernelCreditTests {
    struct Case: Sendable, CustomStringConvertible {
        var requested: Int
        var count: Int
        var mode: KernelRandomDevice.Mode
        var readyBefore: Bool
        var expected: KernelCredit
        var description: String { "\(requested) bits for \(count) bytes, \(mode), ready \(readyBefore)" }
    }

    static let cases: [Case] = [
        // Before readiness the credit counts, capped at 8 bits a byte.
        Case(requested: 512, count: 64, mode: .ioctl, readyBefore: false, expected: .credited(bits: 512)),
        Case(requested: 448, count: 64, mode: .ioctl, readyBefore: false, expected: .credited(bits: 448)),
        Case(requested: 9000, count: 64, mode: .ioctl, readyBefore: false, expected: .credited(bits: 512)),
        Case(requested: 1, count: 1, mode: .ioctl, readyBefore: false, expected: .credited(bits: 1)),
        // Once ready, the kernel ignores the credit field: mixed, 0 bits.
        Case(requested: 512, count: 64, mode: .ioctl, readyBefore: true, expected: .mixed(.crngReady)),
        Case(requested: 1, count: 1, mode: .ioctl, readyBefore: true, expected: .mixed(.crngReady)),
        // Nothing asked, nothing credited, whatever the CRNG.
        Case(requested: 0, count: 64, mode: .ioctl, readyBefore: false, expected: .mixed(.noCreditAsked)),
        Case(requested: 0, count: 64, mode: .ioctl, readyBefore: true, expected: .mixed(.noCreditAsked)),
        Case(requested: 512, count: 0, mode: .ioctl, readyBefore: false, expected: .mixed(.noCreditAsked)),
        Case(requested: -5, count: 64, mode: .ioctl, readyBefore: false, expected: .mixed(.noCreditAsked)),
        // write() never credits.
        Case(requested: 512, count: 64, mode: .write, readyBefore: false, expected: .mixed(.writeMode)),
        Case(requested: 512, count: 64, mode: .write, readyBefore: true, expected: .mixed(.writeMode)),
    ]

    @Test("KernelCredit.decide", arguments: cases)
    func decide(_ c: Case) {
        let outcome = KernelCredit.decide(requested: c.requested, count: c.count, mode: c.mode, crngReadyBefore: c.readyBefore)
        #expect(outcome == c.expected)
        #expect(outcome.bits == (c.readyBefore || c.mode == .write ? 0 : min(max(0, c.requested), 8 * c.count)))
    }

    @Test("the log words: credited N bits only for a credit; otherwise mixed, 0 bits credited and why")
    func summaries() {
        #expect(KernelCredit.credited(bits: 512).summary == "credited 512 bits")
        #expect(KernelCredit.mixed(.crngReady).summary.hasPrefix("mixed, 0 bits credited: the kernel's CRNG was already ready"))
        #expect(KernelCredit.mixed(.writeMode).summary.contains("/dev/urandom"))
        #expect(KernelCredit.mixed(.crngReady).bits == 0 && KernelCredit.mixed(.writeMode).bits == 0)
    }

    @Test("on this machine (CRNG long ready) the real device credits nothing, whatever is asked")
    func realDeviceAfterReadiness() throws {
        guard KernelRandomDevice.crngReady() else { return }
        let device = try KernelRandomDevice()
        defer { device.close() }
        let bytes = [UInt8](repeating: 0x5a, count: 1100)
        let outcome = try bytes.withUnsafeBytes { buffer throws(TunnelError) in try device.addEntropy(buffer, creditBits: 8800) }
        #expect(outcome == (device.mode == .ioctl ? .mixed(.crngReady) : .mixed(.writeMode)))
    }
}
