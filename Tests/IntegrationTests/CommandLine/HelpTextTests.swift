import ArgumentParser
import entropy_tunnel
import Testing

/// Every command's --help, read once: no default printed twice, no list of allowed values twice.
struct HelpTextTests {
    /// Every command and subcommand, depth first.
    static func allCommands(_ root: any ParsableCommand.Type = EntropyTunnelCommand.self) -> [any ParsableCommand.Type] {
        [root] + root.configuration.subcommands.flatMap { allCommands($0) }
    }

    /// Each option's help entry (its lines joined), from a help text rendered without wrapping.
    static func entries(_ help: String) -> [String] {
        var entries: [String] = []
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  -") || line.hasPrefix("  <") {
                entries.append(String(line))
            } else if line.hasPrefix("    "), !entries.isEmpty {
                entries[entries.count - 1] += " " + line.trimmingPrefix(while: { $0 == " " })
            }
        }
        return entries
    }

    /// How often `needle` occurs in `text`.
    static func count(_ needle: String, in text: String) -> Int {
        text.ranges(of: needle).count
    }

    @Test("no --help prints an option's default or its allowed values twice")
    func noDoubledDefaults() {
        var checked = 0
        for command in Self.allCommands() {
            let help = EntropyTunnelCommand.helpMessage(for: command, columns: 10_000)
            for entry in Self.entries(help) {
                checked += 1
                #expect(Self.count("(default:", in: entry) + Self.count("(default ", in: entry) <= 1,
                        "\(command._commandName): default printed twice: \(entry)")
                #expect(Self.count("(values:", in: entry) + Self.count("One of:", in: entry) <= 1,
                        "\(command._commandName): allowed values printed twice: \(entry)")
            }
        }
        #expect(checked > 50, "the help texts were not parsed into entries")
    }

    @Test("no overview or discussion has a run of spaces inside its text (a broken line continuation)")
    func noStraySpaces() {
        for command in Self.allCommands() {
            let help = EntropyTunnelCommand.helpMessage(for: command, columns: 10_000)
            // Option entries align their columns with spaces, and a few examples align by hand (up to
            // 7 spaces); 10 or more inside a prose line is the source's indentation leaking in.
            for line in help.split(separator: "\n") where !line.hasPrefix(" ") {
                #expect(!line.contains(String(repeating: " ", count: 10)), "\(command._commandName): \(line)")
            }
        }
    }

    @Test("the checker itself finds a doubled default")
    func checkerFindsDoubles() {
        let entries = Self.entries("OPTIONS:\n  --output <file>   Write here. (default: -) (default: -)\n  --x   fine (default: 1)\n")
        #expect(entries.count == 2)
        #expect(Self.count("(default:", in: entries[0]) == 2)
        #expect(Self.count("(default:", in: entries[1]) == 1)
    }

    @Test("install --help says what install does with each option; uninstall --purge names the service user")
    func installHelpExplains() {
        let install = EntropyTunnelCommand.helpMessage(for: InstallCommand.self, columns: 10_000)
        #expect(install.contains("--no-start") && install.contains("disabled"), "\(install)")
        let uninstall = EntropyTunnelCommand.helpMessage(for: UninstallCommand.self, columns: 10_000)
        let purge = Self.entries(uninstall).first { $0.contains("--purge") } ?? ""
        #expect(purge.contains("user"), "\(purge)")
        #expect(purge.contains("/var/lib/entropy-tunnel") || purge.contains("state directory"), "\(purge)")
    }
}
