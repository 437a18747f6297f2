import EntropyTunnelCore
import Testing

/// `check`'s verdict on the unit from `systemctl is-enabled` / `is-active`: a unit that is
/// starting is asked again, then at most a warning; never a failure.
@Suite struct UnitVerdictTests {
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
}
