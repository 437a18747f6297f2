import ArgumentParser
import EntropyTunnelCore

/// `entropy-tunnel config example`: the commented example config with every key and its default.
package struct ConfigCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the config file's format.",
        subcommands: [Example.self])

    package struct Example: ParsableCommand {
        package init() {}

        package static let configuration = CommandConfiguration(
            commandName: "example",
            abstract: "Print the commented example config: every key, commented out, with its default.",
            discussion: """
                The same text as /usr/share/doc/entropy-tunnel/examples/config.toml; `install` starts a new \
                config file from it, with the options it was given filled in. Save it with \
                `entropy-tunnel config example > config.toml`.
                """)

        package func run() {
            print(ConfigExample.text, terminator: "")
        }
    }
}
