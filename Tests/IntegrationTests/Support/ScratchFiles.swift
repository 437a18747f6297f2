import TestHost

/// A root-only stand-in for /dev/hwrng in `dir`: a new node with /dev/urandom's numbers (1, 9),
/// which `--device` refuses unless the hidden --test-device-stand-in is given.
func hwrngStandIn(in dir: String) throws -> String {
    let path = dir + "/hwrng"
    try Shell.run("mknod", "-m", "600", path, "c", "1", "9")
    return path
}

/// A fresh scratch directory that the test users may traverse, removed when the tests end.
func makeScratchDirectory() throws -> String {
    try Scratch.directory("entropy-tunnel-keys")
}
