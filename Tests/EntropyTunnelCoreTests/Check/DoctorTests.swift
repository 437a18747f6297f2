import EntropyTunnelCore
import Logging
import Testing

/// `entropy-tunnel check`'s decisions as values: the stage an SSH error belongs to, the kernel
/// version rngd 5 stalls on, a configuration error, and the verdict on the unit from `systemctl
/// is-enabled` / `is-active` (a unit that is starting is asked again, then at most a warning; never
/// a failure).
@Suite struct DoctorTests {
    struct Case: Sendable, CustomStringConvertible {
        var enabled: String, enabledOK: Bool, active: String, activeOK: Bool, mayWait: Bool
        var expected: Doctor.UnitVerdict
        var description: String { "\(enabled)/\(active) wait \(mayWait)" }
    }

    static let cases: [Case] = [
        Case(enabled: "enabled", enabledOK: true, active: "active", activeOK: true, mayWait: true, expected: .result(.pass, "enabled, active")),
        Case(enabled: "enabled", enabledOK: true, active: "active", activeOK: true, mayWait: false, expected: .result(.pass, "enabled, active")),
        // `systemctl is-active` exits 3 for activating: still not a failure.
        Case(enabled: "enabled", enabledOK: true, active: "activating", activeOK: false, mayWait: true, expected: .wait),
        Case(enabled: "enabled", enabledOK: true, active: "activating", activeOK: false, mayWait: false,
             expected: .result(.warning, "enabled, activating (still starting after 10 s)")),
        Case(enabled: "enabled", enabledOK: true, active: "reloading", activeOK: true, mayWait: true, expected: .wait),
        Case(enabled: "enabled", enabledOK: true, active: "failed", activeOK: false, mayWait: true, expected: .result(.fail, "enabled, failed")),
        Case(enabled: "enabled", enabledOK: true, active: "inactive", activeOK: false, mayWait: true, expected: .result(.fail, "enabled, inactive")),
        Case(enabled: "disabled", enabledOK: false, active: "active", activeOK: true, mayWait: true, expected: .result(.fail, "disabled, active")),
        Case(enabled: "disabled", enabledOK: false, active: "activating", activeOK: false, mayWait: true, expected: .result(.fail, "disabled, activating")),
        Case(enabled: "", enabledOK: false, active: "", activeOK: false, mayWait: true, expected: .result(.fail, "?, ?")),
    ]

    @Test("Doctor.unitVerdict", arguments: cases)
    func verdict(_ c: Case) {
        #expect(Doctor.unitVerdict(enabled: c.enabled, enabledOK: c.enabledOK, active: c.active, activeOK: c.activeOK,
                                   mayWait: c.mayWait) == c.expected)
    }

    @Test("SSH errors map to the stage that failed")
    func stages() {
        #expect(Doctor.stage(of: TunnelError(.hostKeyMismatch, "")) == .hostKey)
        #expect(Doctor.stage(of: TunnelError(.hostKeyUnknown, "")) == .hostKey)
        #expect(Doctor.stage(of: TunnelError(.timeout, "")) == .hostKey)
        #expect(Doctor.stage(of: TunnelError(.authenticationFailed, "")) == .authentication)
        #expect(Doctor.stage(of: TunnelError(.remoteCommandFailed, "")) == .stream)
        #expect(Doctor.stage(of: TunnelError(.healthTestFailed, "")) == .stream)
        #expect(Doctor.stage(of: TunnelError(.stalled, "")) == .stream)
    }

    @Test("kernel versions: rngd 5 stalls from 5.18 on", arguments: [
        ("6.1.0-18-amd64", true), ("5.18.0", true), ("5.17.15-generic", false), ("4.19.0-26-amd64", false), ("6.12", true),
    ])
    func kernelVersions(release: String, stalls: Bool) throws {
        let version = try #require(Doctor.kernelVersion(release))
        #expect((version >= (5, 18)) == stalls)
    }

    @Test("a configuration error: the first check fails with its message, every other is skipped")
    func configurationFailure() async {
        let error = TunnelError(.configuration, "/etc/x.toml:3: 'window' must be a size")
        let results = await Doctor(configuration: .failure(error), source: "/etc/x.toml", logger: Logger(label: "test")).run()
        #expect(results.first?.status == .fail && results.first?.detail == error.message)
        #expect(results.first?.fix != nil)
        #expect(results.dropFirst().allSatisfy { $0.status == .skipped })
        #expect(CheckResult.exitStatus(of: results) == 78)
    }
}
