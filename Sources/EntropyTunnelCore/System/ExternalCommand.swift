import Subprocess
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Runs the system's tools (ssh-keygen, useradd, usermod, systemctl, udevadm, runuser) with
/// swift-subprocess and collects their output. A non-zero exit is a result, not a throw;
/// `check` turns it into an error that quotes the tool's stderr.
public enum ExternalCommand {
    /// What a finished program left behind.
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal number for a program killed by a signal.
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// The raw standard output (for programs that print bytes).
        public var stdoutBytes: [UInt8]
        public var succeeded: Bool { status == 0 }
    }

    /// Directories searched after `$PATH`: root's tools live in sbin, which a user's PATH may lack.
    static let fallbackDirectories = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    /// The absolute path of `program`, or nil when it is not installed.
    public static func locate(_ program: String) -> String? {
        if program.hasPrefix("/") { return access(program, X_OK) == 0 ? program : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        for directory in path.split(separator: ":").map(String.init) + fallbackDirectories where !directory.isEmpty {
            let candidate = directory + "/" + program
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `program` with `arguments`, feeding it `input`, and returns its status and output.
    public static func run(
        _ program: String, _ arguments: [String], input: String? = nil, workingDirectory: String? = nil
    ) async throws(TunnelError) -> Result {
        guard let executable = locate(program) else {
            throw TunnelError(.system, "\(program) is not installed (not found in PATH, /usr/sbin or /sbin); install it and retry")
        }
        do {
            let result = try await Subprocess.run(
                .path(FilePath(executable)),
                arguments: Arguments(arguments),
                workingDirectory: workingDirectory.map { FilePath($0) },
                input: .string(input ?? ""),
                output: .bytes(limit: 1 << 20),
                error: .string(limit: 1 << 20))
            let status: Int32
            switch result.terminationStatus {
            case .exited(let code): status = code
            case .signaled(let signal): status = 128 + signal
            }
            return Result(status: status,
                          stdout: String(decoding: result.standardOutput, as: UTF8.self),
                          stderr: result.standardError,
                          stdoutBytes: result.standardOutput)
        } catch {
            throw TunnelError(.system, "cannot run \(program): \(error)")
        }
    }

    /// Like `run`, but a non-zero exit throws an error naming the command and quoting its stderr.
    @discardableResult
    public static func check(
        _ program: String, _ arguments: [String], input: String? = nil
    ) async throws(TunnelError) -> Result {
        let result = try await run(program, arguments, input: input)
        guard result.succeeded else {
            let detail = result.stderr.trimmingSpaces.isEmpty ? result.stdout.trimmingSpaces : result.stderr.trimmingSpaces
            throw TunnelError(.system, "`\(ShellQuote.command([program] + arguments))` failed (exit \(result.status)): \(detail)")
        }
        return result
    }
}
