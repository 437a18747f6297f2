#if canImport(Glibc)
import Glibc
#endif

/// The rngd to run: which binary, which flavour, and the full argument list for a FIFO.
public struct RngdCommand: Hashable, Sendable {
    /// Absolute path of the rngd binary.
    public var executable: String
    public var flavor: RngdFlavor
    /// Arguments after argv[0]: the flavour's own, then the user's `--rngd-args`.
    public var arguments: [String]

    /// Builds the argument list for `flavor` on `fifo`, followed by `extraArguments` verbatim.
    public init(executable: String, flavor: RngdFlavor, fifo: String, extraArguments: [String] = []) {
        self.executable = executable
        self.flavor = flavor
        self.arguments = flavor.arguments(fifo: fifo) + extraArguments
    }

    /// Finds rngd, asks it which flavour it is, and builds its command for `fifo`.
    ///
    /// Runs `rngd --version` and `rngd --help` (each bounded by `timeout`).
    /// - Parameter explicitPath: `--rngd PATH`, if given.
    public static func resolve(
        explicitPath: String?, fifo: String, extraArguments: [String] = [],
        searchPath: String? = RngdCommand.environmentPath, timeout: Duration = .seconds(5)
    ) throws(TunnelError) -> RngdCommand {
        let executable = try locate(explicitPath: explicitPath, searchPath: searchPath)
        let flavor = try probe(executable, timeout: timeout)
        return RngdCommand(executable: executable, flavor: flavor, fifo: fifo, extraArguments: extraArguments)
    }

    /// `$PATH` of this process, if set.
    public static var environmentPath: String? {
        getenv("PATH").map { String(cString: $0) }
    }

    /// Where rngd is: `explicitPath` (`--rngd`), else the first `rngd` on `searchPath`, else
    /// /usr/sbin/rngd or /sbin/rngd (root's PATH has /usr/sbin, a service's may not).
    public static func locate(
        explicitPath: String?, searchPath: String?, fallbackDirectories: [String] = ["/usr/sbin", "/sbin"]
    ) throws(TunnelError) -> String {
        if let explicitPath {
            guard isExecutableFile(explicitPath) else {
                throw TunnelError(.rngd,
                                  "--rngd \(explicitPath) is not an executable file; give the path of rngd, or " +
                                  "install Debian package rng-tools5 (apt-get install rng-tools5) and leave --rngd out")
            }
            return explicitPath
        }
        let directories = (searchPath ?? "").split(separator: ":").map(String.init) + fallbackDirectories
        for directory in directories where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? directory + "rngd" : directory + "/rngd"
            if isExecutableFile(candidate) { return candidate }
        }
        throw TunnelError(.rngd,
                          "rngd not found on PATH or in /usr/sbin: install Debian package rng-tools5 " +
                          "(apt-get install rng-tools5), or give its path with --rngd PATH")
    }

    /// Runs `executable --version` and `executable --help` and tells the flavour.
    public static func probe(_ executable: String, timeout: Duration = .seconds(5)) throws(TunnelError) -> RngdFlavor {
        let version = try capture(executable, ["--version"], timeout: timeout)
        let help = try capture(executable, ["--help"], timeout: timeout)
        guard let flavor = RngdFlavor.detect(version: version, help: help) else {
            let firstLine = version.split(separator: "\n").first.map(String.init) ?? "(no output)"
            throw TunnelError(.rngd,
                              "\(executable) is an rngd entropy-tunnel does not know (`--version` says " +
                              "\"\(firstLine)\"); it drives Debian's rng-tools5 (rngd 5) and rng-tools-debian " +
                              "(rngd 2.x): install rng-tools5 (apt-get install rng-tools5) or give its path with --rngd")
        }
        return flavor
    }

    /// Runs a short command and returns its stdout and stderr; kills it at the deadline.
    static func capture(_ executable: String, _ arguments: [String], timeout: Duration) throws(TunnelError) -> String {
        let child = try ChildProcess.spawn(executable: executable, arguments: arguments)
        let deadline = Instant.now + timeout
        var output: [UInt8] = []
        // Read until end of output, then wait for the exit; both bounded by the deadline.
        while child.outputDescriptor >= 0 {
            var poller = Poller()
            poller.add(child.outputDescriptor, .readable)
            guard try poller.wait(until: deadline) else {
                child.terminate(grace: .milliseconds(100))
                throw TunnelError(.rngd, "`\(executable) \(arguments.joined(separator: " "))` did not finish " +
                                  "within \(timeout.seconds) s; check that --rngd names rngd")
            }
            if let bytes = child.readOutput() { output += bytes.prefix(max(0, 65536 - output.count)) }
        }
        if !child.waitForExit(until: deadline) {
            child.terminate(grace: .milliseconds(100))
        } else {
            child.reap()
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }
}
