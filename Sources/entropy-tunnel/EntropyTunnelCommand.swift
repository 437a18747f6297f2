import ArgumentParser
import EntropyTunnelCore

/// entropy-tunnel: randomness from a machine with a hardware RNG, over SSH.
@main
package struct EntropyTunnelCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "entropy-tunnel",
        abstract: "Feed this machine's kernel with random bytes from another machine's hardware RNG, over SSH.",
        discussion: """
            entropy-tunnel connects to an entropy host as an unprivileged user, checks the host's \
            pinned key, runs the host's RNG reader (the key's forced command: `entropy-tunnel serve`, \
            which hands out exactly the bytes asked for, or a plain reader such as \
            `dd if=/dev/hwrng bs=512 status=none`) and feeds its bytes to the kernel, rngd or a FIFO \
            here, with backpressure: it asks for, or reads, only what the sink takes, so the host's \
            RNG is not drained.

            Quick check from a shell:  entropy-tunnel fetch --host rng.example --bytes 32 | xxd
            When something does not work:  entropy-tunnel check   (one line per step, with the fix)
            """,
        version: EntropyTunnelVersion.string,
        subcommands: [RunCommand.self, FetchCommand.self, StatusCommand.self, CheckCommand.self, KeysCommand.self, InstallCommand.self, ServeCommand.self,
                      UninstallCommand.self, SeedCommand.self, ConfigCommand.self, ConfigManualCommand.self]
    )
}
