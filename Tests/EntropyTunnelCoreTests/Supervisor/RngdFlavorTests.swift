import EntropyTunnelCore
import Testing

/// `rngd --version` / `--help` as printed by the real binaries: rng-tools5 5-4.1 (installed here)
/// and rng-tools-debian 2.3 (unpacked with `apt-get download rng-tools-debian && dpkg -x`, not
/// installed, since it conflicts with rng-tools5).
enum RngdOutputs {
    static let rngTools5Version = #"""
rngd 5
Copyright 2001-2004 Jeff Garzik
Copyright (c) 2001 by Philipp Rumpf
This is free software; see the source for copying conditions.  There is NO warranty; not even for MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.
"""#

    static let rngTools5Help = #"""
Usage: rngd [OPTION...]
Check and feed random data from hardware device to kernel entropy pool.

  -b, --background           Become a daemon (default)
  -d, --no-drng=1|0          Do not use drng as a source of random number input
                             (default: 0)
  -f, --foreground           Do not fork and become a daemon
  -n, --no-tpm=1|0           Do not use tpm as a source of random number input
                             (default: 0)
  -o, --random-device=file   Kernel device used for random number output
                             (default: /dev/random)
  -p, --pid-file=file        File used for recording daemon PID, and multiple
                             exclusion (default: /var/run/rngd.pid)
  -q, --quiet                Suppress error messages
  -r, --rng-device=file      Kernel device used for random number input
                             (default: /dev/hwrng)
  -s, --random-step=nnn      Number of bytes written to random-device at a time
                             (default: 64)
  -v, --verbose              Report available entropy sources
  -W, --fill-watermark=n     Do not stop feeding entropy to random-device until
                             at least n bits of entropy are available in the
                             pool (default: 2048), 0 <= n <= 4096
  -?, --help                 Give this help list
      --usage                Give a short usage message
  -V, --version              Print program version

Mandatory or optional arguments to long options are also mandatory or optional
for any corresponding short options.

Report bugs to Jeff Garzik <jgarzik@pobox.com>.
"""#

    static let rngToolsDebianVersion = #"""
rngd 2.2
Copyright (c) 2001-2004 by Jeff Garzik
Copyright (c) 2004,2005 by Henrique de Moraes Holschuh
Copyright (c) 2001 by Philipp Rumpf
VIA PadLock RNG code based on work by Martin Peck
This is free software; see the source for copying conditions.  There is NO warranty; not even for MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.
"""#

    static let rngToolsDebianHelp = #"""
Usage: rngd [OPTION...]
Check and feed random data from hardware device to kernel entropy pool.

 Program control
  -b, --background           Become a daemon (default)
  -B, --rng-buffers=n        Number of buffers (default: 3), 0 < n <= 1000
  -f, --foreground           Do not fork and become a daemon
  -p, --pidfile=file         Path to file to write PID to in daemon mode
                             (default: /var/run/rngd.pid)
  -S, --stats-interval=n     Interval between logging statistics to syslog
                             (default: 3600), 0 <= n <= 604800, 0 to disable

 Input (entropy source) control
      --hrng=name            Selects known-good defaults for rng-driver,
                             rng-timeout and rng-entropy, for a given TRNG.
                             These can be overridden by specifying one of those
                             options explicitly. Use --hrng=help to get a list
                             of known TRNGs
  -H, --rng-entropy=n        Entropy per bit of data received from entropy
                             source (default: 1.0 for the "stream" entropy
                             source driver, automatic for other entropy source
                             drivers), 0 < n <= 1.0
  -Q, --rng-quality=quality  If the entropy source supports it, selects the
                             quality of the random data it will generate.
                             Quality is: "default", "low", "medium" or "high".
                             Do not use anything but "high" if the entropy sink
                             will use the random data directly, instead of
                             using it to seed a PRNG/entropy pool. Ignored by
                             the "stream" entropy source driver
  -r, --rng-device=file      Entropy source (default: /dev/hwrng)
  -R, --rng-driver=name      Select the entropy source driver: "stream" or
                             "viapadlock" (default: stream). "stream" is a
                             general purpose Unix stream input driver, and
                             honours rng-device, rng-timeout, and rng-entropy;
                             "viapadlock" is a driver for the VIA PadLock TRNG.
                             It honours rng-entropy and rng-timeout
  -T, --rng-timeout=n        Wait at most "n" seconds for the entropy source to
                             provide some initial data. Set to zero to wait
                             forever (default: 10s)

 Output (entropy sink) control
  -o, --random-device=file   Kernel device used for entropy output (default:
                             /dev/random)
  -s, --random-step=n        Number of bytes written to random-device at a time
                             (default: 64), 8 <= n <= 2500, "n" must be even
      --timeout=n            Deprecated, same as --feed-interval
  -t, --feed-interval=n      When the entropy pool is full, write to
                             random-device every "n" seconds. Set to zero to
                             disable (default: 60)
  -W, --fill-watermark=n[%]  Do not stop feeding entropy to random-device until
                             at least "n" bits of entropy are available in the
                             pool. "n" can be the absolute number of bits, or a
                             percentage of the pool size (default: 50%), 0 <= n
                             <= kernel random pool size, or 0% <= n <= 100%

  -?, --help                 Give this help list
      --usage                Give a short usage message
  -V, --version              Print program version

Mandatory or optional arguments to long options are also mandatory or optional
for any corresponding short options.

Report bugs to rng-tools-debian@packages.debian.org.
"""#

    /// Upstream rng-tools 6 (not in Debian 12), reconstructed in part: other options again.
    static let upstream6Version = "rngd 6.16\nCopyright 2001-2004 Jeff Garzik\n"
    static let upstream6Help = """
      -x, --exclude=1..n|name    Disable the numbered or named entropy source
      -r, --rng-device=file      Kernel device used for random number input
      -f, --foreground           Do not fork and become a daemon
    """
}

@Suite struct RngdFlavorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let version: String
        let help: String
        let expected: RngdFlavor?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "rng-tools5 5-4.1", version: RngdOutputs.rngTools5Version, help: RngdOutputs.rngTools5Help,
             expected: .rngTools5),
        Case(name: "rng-tools-debian 2.3", version: RngdOutputs.rngToolsDebianVersion,
             help: RngdOutputs.rngToolsDebianHelp, expected: .rngToolsDebian),
        Case(name: "upstream rng-tools 6", version: RngdOutputs.upstream6Version, help: RngdOutputs.upstream6Help,
             expected: nil),
        Case(name: "version 5 but 2.x options", version: RngdOutputs.rngTools5Version,
             help: RngdOutputs.rngToolsDebianHelp, expected: nil),
        Case(name: "not rngd", version: "bash, version 5.2.15", help: "Usage: bash", expected: nil),
        Case(name: "empty", version: "", help: "", expected: nil),
    ]

    @Test(arguments: cases)
    func detectsFlavor(_ c: Case) {
        #expect(RngdFlavor.detect(version: c.version, help: c.help) == c.expected)
    }

    @Test(arguments: [
        ("rngd 5", 5), ("rngd 2.2\nCopyright", 2), ("Copyright\nrngd 6.16", 6), ("rngd", nil), ("ngd 5", nil),
    ] as [(String, Int?)])
    func majorVersion(_ text: String, _ expected: Int?) {
        #expect(RngdFlavor.majorVersion(in: text) == expected)
    }

    @Test func argumentsForEachFlavor() {
        #expect(RngdFlavor.rngTools5.arguments(fifo: "/run/et/e.fifo")
                == ["-f", "-r", "/run/et/e.fifo", "-d", "1", "-n", "1"])
        #expect(RngdFlavor.rngToolsDebian.arguments(fifo: "/run/et/e.fifo")
                == ["-f", "-R", "stream", "-r", "/run/et/e.fifo", "-T", "0"])
    }

    @Test func every5OptionWeUseIsInItsHelp() {
        // The options rngd 5 is started with must be ones the real binary lists.
        for option in ["--foreground", "--rng-device", "--no-drng", "--no-tpm", "-f,", "-r,", "-d,", "-n,"] {
            #expect(RngdOutputs.rngTools5Help.contains(option), "\(option)")
        }
        for option in ["--foreground", "--rng-driver", "--rng-device", "--rng-timeout", "-f,", "-R,", "-r,", "-T,"] {
            #expect(RngdOutputs.rngToolsDebianHelp.contains(option), "\(option)")
        }
    }

    @Test func userArgumentsComeLast() {
        let command = RngdCommand(executable: "/usr/sbin/rngd", flavor: .rngTools5, fifo: "/f",
                                  extraArguments: ["-s", "128"])
        #expect(command.arguments == ["-f", "-r", "/f", "-d", "1", "-n", "1", "-s", "128"])
        #expect(RngdFlavor.rngTools5.package == "rng-tools5")
        #expect(RngdFlavor.rngToolsDebian.package == "rng-tools-debian")
    }
}
