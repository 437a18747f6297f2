import ArgumentParser
import EntropyTunnelCore
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel generate-config-manual`: prints entropy-tunnel.toml(5), written from the table
/// of settings (install/package.sh puts it in the .deb). Hidden: a build step, not for users.
package struct ConfigManualCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "generate-config-manual",
        abstract: "Print the entropy-tunnel.toml(5) manual page (roff) from the table of settings.",
        shouldDisplay: false)

    @Option(help: "The page's date, YYYY-MM-DD. (default: SOURCE_DATE_EPOCH's day, else today)")
    package var date: String?

    package func run() {
        print(ConfigManual.roff(version: EntropyTunnelCommand.configuration.version, date: date ?? Self.today()), terminator: "")
    }

    static func today() -> String {
        var seconds = time(nil)
        if let epoch = getenv("SOURCE_DATE_EPOCH").flatMap({ Int(String(cString: $0)) }) { seconds = time_t(epoch) }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
    }
}
