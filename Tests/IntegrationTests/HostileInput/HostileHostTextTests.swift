import EntropyTunnelCore
import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// A host cannot drive systemd or root's terminal: a fake SSH server (paramiko: OpenSSH cannot be
/// made to send such an exit-signal name) sends control characters, sd_notify lines, escape
/// sequences, C1 controls, bidi overrides and invalid UTF-8 in its exit-signal name and stderr.
/// The tunnel's NOTIFY_SOCKET datagrams, and the bytes `status` and `check` print, are checked.
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/paramiko"),
                "needs Debian's python3-paramiko (install/prerequisites.sh installs it)"))
struct HostileHostTextTests {
    /// The exit-signal name: lines for sd_notify, a title and a screen clear, a NUL.
    static let signalName: [UInt8] = Array("TERM\nWATCHDOG=trigger\nSTOPPING=1\n\u{1B}]0;owned\u{07}\u{1B}[2J".utf8) + [0, 0x41]
    /// The stderr: escape sequences, a fake prompt, C1 CSI, bidi override, invalid UTF-8, CR.
    static let stderrBytes: [UInt8] = Array("Permission denied\u{1B}[31m\u{1B}]0;title\u{07}\r# fake prompt ".utf8) +
        [0x9B, 0x32, 0x4A, 0xC2, 0x9B, 0x48] + Array("\u{202E}txt.exe\u{2066}".utf8) + [0xFF, 0xFE] + Array("\nWATCHDOG=trigger\nSTOPPING=1\n".utf8)

    static let server = """
        import socket, sys, threading, time, paramiko
        from paramiko.message import Message
        from paramiko.common import cMSG_CHANNEL_REQUEST
        key = paramiko.Ed25519Key.from_private_key_file(sys.argv[1])
        signal_name = bytes.fromhex(sys.argv[3]); stderr_bytes = bytes.fromhex(sys.argv[4])
        class Server(paramiko.ServerInterface):
            def __init__(self): self.event = threading.Event()
            def get_allowed_auths(self, username): return "publickey"
            def check_auth_publickey(self, username, key): return paramiko.AUTH_SUCCESSFUL
            def check_channel_request(self, kind, chanid):
                return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
            def check_channel_exec_request(self, channel, command):
                self.event.set(); return True
        def handle(conn):
            try:
                t = paramiko.Transport(conn); t.add_server_key(key)
                server = Server(); t.start_server(server=server)
                chan = t.accept(20)
                if chan is None: return
                server.event.wait(10)
                chan.sendall_stderr(stderr_bytes)
                m = Message(); m.add_byte(cMSG_CHANNEL_REQUEST); m.add_int(chan.remote_chanid)
                m.add_string("exit-signal"); m.add_boolean(False); m.add_string(signal_name); m.add_boolean(False)
                m.add_string(b"core dumped\\x1b[2J"); m.add_string(b"")
                t._send_user_message(m)
                time.sleep(0.2); chan.close(); time.sleep(1); t.close()
            except Exception as e:
                print("fake server:", e, file=sys.stderr)
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0)); s.listen(16)
        open(sys.argv[2] + ".tmp", "w").write(str(s.getsockname()[1])); __import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])
        while True:
            c, _ = s.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
        """

    /// Bytes that must never reach a datagram value or a terminal: C0 (but the line breaks
    /// between fields), DEL, and any scalar `PrintableText` does not print as itself.
    static func controlCharacters(_ text: String, allowingNewlines: Bool) -> Int {
        text.unicodeScalars.filter { !(allowingNewlines && $0 == "\n") && !PrintableText.isPrintable($0) }.count
    }

    final class FakeHost {
        let process = Process()
        let port: Int
        let knownHosts: String
        let identity: String

        init(directory: String) throws {
            try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", directory + "/host_key")
            try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", directory + "/id_ed25519")
            identity = directory + "/id_ed25519"
            let script = directory + "/server.py"
            _ = createFile(atPath: script, contents: Array(HostileHostTextTests.server.utf8))
            let portFile = directory + "/port"
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [script, directory + "/host_key", portFile,
                                 HostileHostTextTests.signalName.map { String(format: "%02x", $0) }.joined(),
                                 HostileHostTextTests.stderrBytes.map { String(format: "%02x", $0) }.joined()]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            guard waitUntil(20, { FileManager.default.fileExists(atPath: portFile) }),
                  let port = Int((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "") else {
                throw HarnessError("the fake server did not start")
            }
            self.port = port
            let hostKey = try String(contentsOfFile: directory + "/host_key.pub", encoding: .utf8).split(separator: " ")
            knownHosts = directory + "/known_hosts"
            _ = createFile(atPath: knownHosts, contents: Array("[127.0.0.1]:\(port) \(hostKey[0]) \(hostKey[1])\n".utf8))
        }

        var arguments: [String] {
            ["--host", "127.0.0.1:\(port)", "--user", "x", "--identity", identity, "--known-hosts", knownHosts]
        }

        deinit {
            // SIGKILL: the test process blocks most signals, and its children inherit that mask.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A datagram socket standing in for systemd's notify socket; returns every datagram.
    final class NotifySocket {
        let path: String
        let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard fd >= 0, bound == 0 else { throw HarnessError("cannot bind \(path): errno \(errno)") }
        }

        /// Datagrams until `condition` holds on them or `seconds` pass.
        func receive(for seconds: Double, until condition: ([String]) -> Bool) -> [String] {
            var datagrams: [String] = []
            let deadline = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 65536)
            while Date() < deadline && !condition(datagrams) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 200) > 0 else { continue }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 { datagrams.append(String(decoding: buffer[0..<n], as: UTF8.self)) }
            }
            return datagrams
        }

        deinit { close(fd); unlink(path) }
    }

    @Test("a host's exit-signal name and stderr reach no notify datagram, status or check output as control characters")
    func hostileTextStaysData() throws {
        let dir = try Scratch.directory("et-hostile-text")
        let host = try FakeHost(directory: dir)
        let notify = try NotifySocket(path: dir + "/notify.sock")
        let state = dir + "/state.json"
        let tunnel = try TunnelProcess(["run"] + host.arguments + ["--sink", "fifo", "--fifo", dir + "/entropy.fifo",
                                                                  "--connection", "persistent", "--state-file", state],
                                       logPath: dir + "/run.log", environment: ["NOTIFY_SOCKET": notify.path])
        defer { tunnel.stop() }
        // Until a STATUS= line carries the host's failure (its exit-signal name).
        let datagrams = notify.receive(for: 30) { $0.contains { $0.contains("killed by signal") } }
        #expect(datagrams.contains { $0.contains("killed by signal TERM\\nWATCHDOG=trigger") }, "\(datagrams)\n\(tunnel.log)")
        #expect(tunnel.stop() == 0)
        var reached = 0
        for datagram in datagrams {
            for line in datagram.split(separator: "\n", omittingEmptySubsequences: false) {
                let key = line.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                #expect(["READY", "STATUS", "STOPPING", "WATCHDOG", "RELOADING", "MONOTONIC_USEC"].contains(key), "line \(line.debugDescription)")
                #expect(line != "WATCHDOG=trigger" && !(line == "STOPPING=1" && datagram.hasPrefix("STATUS=")), "\(datagram.debugDescription)")
            }
            reached += Self.controlCharacters(datagram, allowingNewlines: true)
            // Only the daemon's own lines are separate: a STATUS= datagram is one line.
            if datagram.hasPrefix("STATUS=") { #expect(!datagram.contains("\n"), "\(datagram.debugDescription)") }
        }
        print("hostile host text: \(datagrams.count) notify datagrams, control characters from the host in them: \(reached)")
        #expect(reached == 0)
        // The journal (stderr here) got one line per event too.
        #expect(!tunnel.log.contains("\u{1B}") && !tunnel.log.contains("\nWATCHDOG=trigger"), "\(tunnel.log)")

        // status: from the state file the daemon wrote, and from one with raw controls planted in it.
        let status = try Shell.capture(tunnelBinary, ["status", "--state-file", state])
        #expect(status.signal == nil)
        #expect(status.stdout.contains("killed by signal TERM\\nWATCHDOG"), "\(status.stdout)")
        let statusControls = Self.controlCharacters(status.stdout + status.stderr, allowingNewlines: true)
        // The daemon's own file with raw controls (ESC sequences, BEL, C1, a bidi override) in
        // the last error's message: the same schema, so it reads and is shown.
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state))) as? [String: Any])
        object["last_error"] = ["message": "x\u{1B}]0;owned\u{07}\u{1B}[2J\u{202E}\u{9B}\u{85}", "at": 1]
        let planted = try JSONSerialization.data(withJSONObject: object)
        _ = createFile(atPath: dir + "/planted.json", contents: Array(planted))
        let plantedStatus = try Shell.capture(tunnelBinary, ["status", "--state-file", dir + "/planted.json"])
        #expect(plantedStatus.stdout.contains("\\x1b[2J"), "\(plantedStatus.stdout)")
        let json = try Shell.capture(tunnelBinary, ["status", "--json", "--state-file", dir + "/planted.json"])
        let plantedControls = Self.controlCharacters(plantedStatus.stdout + plantedStatus.stderr + json.stdout, allowingNewlines: true)

        // check: the host's failure is in a check's detail.
        let check = try Shell.capture(tunnelBinary, ["check"] + host.arguments + ["--sink", "fifo", "--fifo", dir + "/check.fifo",
                                                                                   "--connect-timeout", "5", "--data-timeout", "5"])
        #expect(check.status == 1 && check.signal == nil, "\(check.stdout)\n\(check.stderr)")
        #expect(check.stdout.contains("killed by signal TERM\\nWATCHDOG"), "\(check.stdout)")
        let checkControls = Self.controlCharacters(check.stdout + check.stderr, allowingNewlines: true)
        print("hostile host text: control characters reaching the terminal: status \(statusControls), status of a planted file " +
              "\(plantedControls), check \(checkControls)")
        #expect(statusControls == 0 && plantedControls == 0 && checkControls == 0,
                "\(status.stdout)\n\(plantedStatus.stdout)\n\(json.stdout)\n\(check.stdout)")
    }
}
