import EntropyTunnelCore
import Testing

/// `Age`, the one age formatter (`status`, the health verdict's reasons and the STATUS= line for systemd).
struct AgeTests {
    @Test("seconds, minutes, hours and days, whatever the input (negative, NaN, infinite, huge)")
    func text() {
        #expect(Age.text(42) == "42 s" && Age.text(119.9) == "119 s" && Age.text(720) == "12 min")
        #expect(Age.text(3 * 3600 + 300) == "3 h 5 min" && Age.text(7200) == "2 h" && Age.text(2 * 86_400 + 4 * 3600) == "2 d 4 h")
        #expect(Age.text(-5) == "0 s" && Age.text(.nan) == "?" && Age.text(.infinity) == "?" && !Age.text(1e300).isEmpty)
    }
}
