import EntropyTunnelCore
import Foundation
import Testing
import TestHost

/// At early boot a blocking getrandom() waits until the kernel's CRNG is ready, and a seed mixed
/// in after that is never credited (install/vm-test.sh measured it: the seed unit's process
/// blocked in the Swift runtime's hash seeding, the CRNG got ready meanwhile, and the seed was
/// only mixed). Both units set SWIFT_DETERMINISTIC_HASHING=1; this checks with strace that the
/// binary then makes no blocking getrandom() before `seed load`'s RNDADDENTROPY, and that it does
/// make one without it (so the check can fail).
@Suite(.serialized, .timeLimit(.minutes(10)))
struct EarlyBootGetrandomTests {
    /// The system calls of one `seed load` (a seed is saved first), as strace prints them.
    func traceSeedLoad(deterministic: Bool) throws -> [String] {
        let state = try makeScratchDirectory() + "/state"
        #expect(try runTunnel(["seed", "save", "--state-dir", state]).status == 0)
        let log = state + ".strace"
        // "0": the runtime seeds randomly unless the value is exactly "1".
        let environment = ["SWIFT_DETERMINISTIC_HASHING": deterministic ? "1" : "0"]
        let traced = try Shell.capture(try SeedKillTests.strace(), ["-f", "-qq", "-e", "trace=getrandom,ioctl", "-o", log,
                                                                    tunnelBinary, "seed", "load", "--state-dir", state],
                                       environment: environment)
        #expect(traced.status == 0, "\(traced.stderr)")
        return try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// The getrandom calls before the first RNDADDENTROPY that may block (flags 0).
    func blockingBeforeFeed(_ calls: [String]) -> [String] {
        let feed = calls.firstIndex { $0.contains("RNDADDENTROPY") } ?? calls.count
        return calls[..<feed].filter { $0.contains("getrandom(") && $0.contains(", 0)") }
    }

    @Test("with SWIFT_DETERMINISTIC_HASHING=1 (as the units set it) seed load reaches RNDADDENTROPY without a blocking getrandom")
    func noBlockingGetrandomBeforeTheSeed() throws {
        #expect(SeedServiceUnit.template.contains("\nEnvironment=SWIFT_DETERMINISTIC_HASHING=1\n"))
        #expect(ServiceUnit.template.contains("\nEnvironment=SWIFT_DETERMINISTIC_HASHING=1\n"))
        let calls = try traceSeedLoad(deterministic: true)
        #expect(calls.contains { $0.contains("RNDADDENTROPY") }, "no RNDADDENTROPY traced: \(calls)")
        #expect(blockingBeforeFeed(calls).isEmpty, "blocking getrandom before the seed: \(blockingBeforeFeed(calls))")

        // Without it, the Swift runtime's hash seeding blocks first: what the units avoid.
        let plain = try traceSeedLoad(deterministic: false)
        #expect(!blockingBeforeFeed(plain).isEmpty, "no blocking getrandom without the variable: the check above proves nothing")
    }
}
