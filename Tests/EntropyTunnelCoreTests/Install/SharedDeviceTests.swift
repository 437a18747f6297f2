import EntropyTunnelCore
import Testing

/// The devices `keys authorize --device` refuses to hand out: the kernel's own, by number.
struct SharedDeviceTests {
    @Test("shared devices: /dev/urandom, /dev/null and a symlink to them refused; a regular file or a missing path is not a device question")
    func sharedDevices() {
        #expect(SharedDevice.refusal("/dev/urandom") != nil)
        #expect(SharedDevice.refusal("/dev/null") != nil)
        #expect(SharedDevice.refusal("/etc/passwd") == nil)
        #expect(SharedDevice.refusal("/nonexistent/hwrng") == nil)
    }
}
