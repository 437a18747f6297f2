import ArgumentParser
import EntropyTunnelCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel seed load|save`: the seed for the next boot (SeedRNG's rules).
package struct SeedCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Load or save the seed that carries randomness from one boot to the next.",
        discussion: """
            The seed lives in the state directory (default /var/lib/entropy-tunnel): seed.credit or \
            seed.no-credit, 64 bytes. `seed load` runs at boot (entropy-tunnel-seed.service, before \
            sysinit.target); `run` saves a new seed after its first feed, hourly and on stop.
            """,
        subcommands: [SeedLoadCommand.self, SeedSaveCommand.self]
    )
}

/// The options both seed commands take.
package struct SeedArguments: ParsableArguments {
    package init() {}

    @Option(help: ArgumentHelp("The state directory holding the seed (created mode 0700; must not be writable by others).", valueName: "dir"))
    package var stateDir: String = SeedStore.defaultDirectory

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    package var logLevel: Logger.Level = .info

    package func validate() throws {
        do throws(TunnelError) {
            try Installer.checkPath(stateDir, "--state-dir", file: false)
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// `entropy-tunnel seed load`: mix the saved seed into the kernel, crediting it only when safe.
package struct SeedLoadCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Mix the saved seed into the kernel, then save a new one at once.",
        discussion: """
            The seed is deleted, durably (unlink, then fsync of the directory), before the kernel \
            gets it, so it can never be used twice. It is credited (counted as 8 bits a byte towards \
            the kernel's CRNG readiness) only when all of these hold: it is seed.credit (it was made \
            while the kernel's CRNG was ready); its deletion was durable (not on a read-only file \
            system); this is not the machine's first boot (/etc/machine-id missing, empty or \
            "uninitialized": the seed may come from a cloned image); this process may credit \
            (CAP_SYS_ADMIN; an unprivileged user's seed is written to /dev/urandom, mixed without \
            credit); and --no-credit is not given. Otherwise it is mixed in without credit, which never \
            hurts. No seed (a first run) is not an error: exit 0. An unsafe state directory exits 78.
            """
    )

    @OptionGroup package var seed: SeedArguments

    @Flag(help: "Mix the seed in without crediting it, whatever else holds.")
    package var noCredit = false

    @Option(help: .hidden)
    package var machineId: String = "/etc/machine-id"

    package func run() throws {
        let logger = bootstrapLogging(seed.logLevel)
        do {
            let kernel = try KernelRandomDevice()
            defer { kernel.close() }
            var store = SeedStore(directory: seed.stateDir)
            if noCredit {
                store.noCreditReason = "--no-credit was given"
            } else if kernel.mode == .write {
                store.noCreditReason = "this process lacks CAP_SYS_ADMIN (it writes to /dev/urandom, which never credits)"
            }
            let result = try store.load(into: kernel, firstBoot: SeedStore.isFirstBoot(machineIDPath: machineId))
            if result.saveError != nil {
                logger.warning("\(result.summary)")
            } else {
                logger.info("\(result.summary)")
            }
        } catch {
            logger.error("\(error.message)")
            throw ExitCode(error.isConfigurationProblem ? 78 : 1)
        }
    }
}

/// `entropy-tunnel seed save`: write a new seed now.
package struct SeedSaveCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "save",
        abstract: "Write a new seed for the next boot (entropy-tunnel-seed.service runs this at shutdown).",
        discussion: """
            The new seed is 64 bytes of getrandom hashed (SHA-256, domain-separated) with the old seed \
            and the time; it replaces the old one atomically (temporary file, fsync, rename, fsync of \
            the directory). It is saved as seed.credit only when the kernel's CRNG was ready, else as \
            seed.no-credit.
            """
    )

    @OptionGroup package var seed: SeedArguments

    package func run() throws {
        let logger = bootstrapLogging(seed.logLevel)
        do {
            let result = try SeedStore(directory: seed.stateDir).save(extra: [])
            logger.info("\(result.summary)")
        } catch {
            logger.error("\(error.message)")
            throw ExitCode(error.isConfigurationProblem ? 78 : 1)
        }
    }
}
