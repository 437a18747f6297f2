import Foundation
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
    try Scratch.directory("entropy-tunnel-case")
}

/// The names in `directory`, sorted (empty when it cannot be read): what a command left behind.
func directoryEntries(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// A throwaway client key and known_hosts for hosts that never get as far as checking them.
let throwawayClient: (directory: String, identity: String, knownHosts: String) = {
    let directory = try! Scratch.directory("et-hostile")
    _ = try? Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", directory + "/id")
    createFile(atPath: directory + "/known_hosts")
    return (directory, directory + "/id", directory + "/known_hosts")
}()

/// The connection options for a host that is not the harness's (a FakeServer, a closed port),
/// with `throwawayClient`'s key and empty known_hosts.
func throwawayClientArguments(_ endpoint: String) -> [String] {
    ["--host", endpoint, "--user", "nobody", "--identity", throwawayClient.identity, "--known-hosts", throwawayClient.knownHosts]
}
