import EntropyTunnelCore
import Foundation
import Testing

/// docs/man/entropy-tunnel.toml.5, the hand-written page of the config file, against the keys the
/// reader knows: a key added to `ConfigFile.knownKeys` without its entry in the page fails here.
struct ManualPageTests {
    var page: String {
        get throws { try FileSystem.read(#filePath.components(separatedBy: "/Tests/")[0] + "/docs/man/entropy-tunnel.toml.5") }
    }

    /// The keys the page describes: the `.B key` line that follows each `.TP`.
    func describedKeys(_ page: String) -> [String] {
        let lines = page.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return zip(lines, lines.dropFirst()).compactMap { tag, entry in
            tag == ".TP" && entry.hasPrefix(".B ") ? String(entry.dropFirst(3)) : nil
        }
    }

    @Test("entropy-tunnel.toml(5) has an entry for every key of ConfigFile.knownKeys")
    func everyKeyDescribed() throws {
        let described = Set(describedKeys(try page))
        for key in ConfigFile.knownKeys {
            #expect(described.contains(key), "docs/man/entropy-tunnel.toml.5 has no `.TP` / `.B \(key)` entry: describe its type, range, default and meaning")
        }
    }

    @Test("entropy-tunnel.toml(5) describes no key the reader does not know")
    func noUnknownKey() throws {
        // The sink's values (kernel, rngd, fifo) are entries too, nested under `sink`.
        let known = Set(ConfigFile.knownKeys + ConfigFile.sinkNames)
        for key in describedKeys(try page) where key.allSatisfy({ $0.isLowercase || $0 == "_" }) {
            #expect(known.contains(key), "docs/man/entropy-tunnel.toml.5 describes '\(key)', which is not in ConfigFile.knownKeys")
        }
    }
}
