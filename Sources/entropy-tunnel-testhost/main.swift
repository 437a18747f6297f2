import Foundation
import TestHost
#if canImport(Glibc)
import Glibc
#endif

// entropy-tunnel-testhost: the test harness's loopback entropy host, for install/demo.sh and bench/.
//
//   entropy-tunnel-testhost --command CMD [--dir DIR] [--env FILE]
//
// Serves a real OpenSSH sshd on a free 127.0.0.1 port with throwaway keys and CMD as the forced
// command, writes PORT, HOST_USER, IDENTITY, KNOWN_HOSTS and DIR as shell assignments to FILE
// (or stdout), and serves until SIGTERM or SIGINT, then kills its sessions and exits.

var command = "dd if=/dev/urandom bs=512 status=none"
var directory: String?
var envFile: String?
var iterator = CommandLine.arguments.dropFirst().makeIterator()
while let argument = iterator.next() {
    switch argument {
    case "--command": command = iterator.next() ?? command
    case "--dir": directory = iterator.next()
    case "--env": envFile = iterator.next()
    case "-h", "--help":
        print("usage: entropy-tunnel-testhost [--command CMD] [--dir DIR] [--env FILE]")
        exit(0)
    default:
        FileHandle.standardError.write("entropy-tunnel-testhost: unknown argument \(argument)\n".data(using: .utf8)!)
        exit(2)
    }
}

signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
let signals = DispatchSource.makeSignalSource(signal: SIGTERM)
let interrupts = DispatchSource.makeSignalSource(signal: SIGINT)

do {
    if let directory { mkdir(directory, 0o755) }
    let host = try LoopbackHost(forcedCommand: command, directory: directory)
    let assignments = """
        PORT=\(host.port)
        HOST_USER=\(host.user)
        IDENTITY=\(host.identity)
        KNOWN_HOSTS=\(host.knownHosts)
        DIR=\(host.directory)

        """
    if let envFile {
        try assignments.write(toFile: envFile + ".tmp", atomically: false, encoding: .utf8)
        rename(envFile + ".tmp", envFile)
    } else {
        FileHandle.standardOutput.write(assignments.data(using: .utf8)!)
        FileHandle.standardOutput.synchronizeFile()
    }
    for source in [signals, interrupts] {
        source.setEventHandler { host.shutdown(); exit(0) }
        source.resume()
    }
    dispatchMain()
} catch {
    FileHandle.standardError.write("entropy-tunnel-testhost: \(error)\n".data(using: .utf8)!)
    exit(1)
}
