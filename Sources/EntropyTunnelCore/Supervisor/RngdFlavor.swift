/// The two rngd programs Debian 12 packages, which take different options.
///
/// - `rng-tools5` (prints `rngd 5`): sources are /dev/hwrng (`-r`), RDRAND (`-d, --no-drng`)
///   and TPM (`-n, --no-tpm`); without `-d 1 -n 1` it prefers RDRAND/TPM over the FIFO.
/// - `rng-tools-debian` (version 2.3 prints `rngd 2.2`): one source chosen with `-R`/`-r`, and
///   `-T, --rng-timeout` (default 10 s) after which it gives up on a source that sent nothing.
public enum RngdFlavor: String, Hashable, Sendable, CaseIterable {
    /// Debian package `rng-tools5`, rngd 5.
    case rngTools5 = "rng-tools5"
    /// Debian package `rng-tools-debian`, rngd 2.x.
    case rngToolsDebian = "rng-tools-debian"

    /// The Debian package that provides this flavour.
    public var package: String { rawValue }

    /// Tells the flavour from the output of `rngd --version` and `rngd --help`; nil when it is
    /// neither (an upstream rng-tools 6, say, whose options differ again).
    ///
    /// The options `--help` lists decide; the version number must agree, so that a future rngd
    /// that happens to keep one option is not driven with the wrong argument list.
    public static func detect(version: String, help: String) -> RngdFlavor? {
        guard let major = majorVersion(in: version) else { return nil }
        if major == 5 && help.contains("--no-drng") && help.contains("--no-tpm") {
            return .rngTools5
        }
        if major == 2 && help.contains("--rng-timeout") && help.contains("--rng-device") {
            return .rngToolsDebian
        }
        return nil
    }

    /// The major version from the first line that reads `rngd X[.Y...]` (e.g. 5 from `rngd 5`,
    /// 2 from `rngd 2.2`).
    public static func majorVersion(in version: String) -> Int? {
        for line in version.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count >= 2, words[0] == "rngd" else { continue }
            let number = words[1].prefix(while: { $0.isASCII && $0.isNumber })
            if let major = Int(number) { return major }
        }
        return nil
    }

    /// The arguments that run this rngd in the foreground with `fifo` as its only source.
    ///
    /// - rngd 5: `-f -r FIFO -d 1 -n 1`: foreground, the FIFO, RDRAND off, TPM off (those are
    ///   the only other sources rngd 5 has; checked against `rngd --help` of rng-tools5 5-4.1).
    ///   In the foreground it writes no PID file.
    /// - rngd 2.x: `-f -R stream -r FIFO -T 0`: foreground, the stream driver on the FIFO, and
    ///   no source timeout, so an empty FIFO during a reconnect does not make it exit after 10 s.
    public func arguments(fifo: String) -> [String] {
        switch self {
        case .rngTools5:
            return ["-f", "-r", fifo, "-d", "1", "-n", "1"]
        case .rngToolsDebian:
            return ["-f", "-R", "stream", "-r", fifo, "-T", "0"]
        }
    }
}
