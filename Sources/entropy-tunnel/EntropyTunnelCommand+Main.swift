import ArgumentParser
import EntropyTunnelCore
#if canImport(Glibc)
import Glibc
#endif

extension EntropyTunnelCommand {
    /// The entry point: refuses a command line that holds private key material before
    /// swift-argument-parser sees it, then runs as usual (`AsyncParsableCommand.main(_:)`).
    ///
    /// The parser quotes an argument it cannot read ("Invalid option: -----BEGIN OPENSSH PRIVATE
    /// KEY-----..."), and `--key "$(cat id_ed25519)"` is exactly such an argument: no option of
    /// entropy-tunnel takes a private key, so such a command line is refused without echoing it.
    static func main() async {
        if CommandLine.arguments.dropFirst().contains(where: PublicKey.looksPrivate) {
            printError("entropy-tunnel: that looks like a PRIVATE key; pass the .pub " +
                       "(the one line of the key's .pub file, `ssh-ed25519 AAAA... COMMENT`); the argument is not shown")
            Glibc.exit(78)
        }
        await main(nil)
    }
}
