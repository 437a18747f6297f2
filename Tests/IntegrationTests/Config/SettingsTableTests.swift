import ArgumentParser
import TestHost
import EntropyTunnelCore
import entropy_tunnel
import Foundation
import Testing

/// The one table of settings (`Settings.all`) against everything that must agree with it: the
/// flags and their help, the config reader, the code's defaults, the example config file.
struct SettingsTableTests {
    static let repository = URL(fileURLWithPath: #filePath.components(separatedBy: "/Tests/")[0])

    @Test("keys and flags are unique; the config reader knows exactly the table's keys, in its order")
    func keys() {
        let keys = Settings.all.map(\.key)
        #expect(Set(keys).count == keys.count)
        #expect(ConfigFile.knownKeys == keys)
        #expect(Set(Settings.all.map(\.flag)).count == keys.count)
    }

    @Test("run --help shows every setting's flag with the table's summary and default, each default once")
    func help() {
        let help = EntropyTunnelCommand.helpMessage(for: RunCommand.self, columns: 10_000)
        // The OPTIONS section: an entry starts at a line "  --flag"; longer flags continue on
        // the next lines.
        let options = help.components(separatedBy: "OPTIONS:").last ?? ""
        var entries: [String] = []
        for line in options.split(separator: "\n") {
            if line.hasPrefix("  -") { entries.append(String(line)) } else if !entries.isEmpty { entries[entries.count - 1] += " " + line.trimmingCharacters(in: .whitespaces) }
        }
        for setting in Settings.all {
            let line = entries.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(setting.flag + " ") }
            guard let line else {
                Issue.record("run --help lacks \(setting.flag)")
                continue
            }
            #expect(line.contains(setting.summary.prefix(40)), "\(setting.flag): \(line)")
            if let defaultText = setting.defaultText {
                #expect(line.contains("(default: \(defaultText))"), "\(setting.flag): \(line)")
                #expect(line.components(separatedBy: "(default:").count == 2, "default shown twice: \(line)")
            }
        }
    }

    @Test("the table's defaults are the code's defaults: writing them in a file changes nothing")
    func defaultsAgree() throws {
        let base = try RunConfiguration(ConfigFile.parse("host = \"rng\"\n", path: "x"), source: "x")
        for setting in Settings.all {
            guard let toml = setting.defaultTOML else { continue }
            let values = try ConfigFile.parse("host = \"rng\"\n\(setting.key) = \(toml)\n", path: "x")
            let configuration = try RunConfiguration(values, source: "x")
            #expect("\(configuration)" == "\(base)", "\(setting.key) = \(toml) is not the default")
        }
    }

    @Test("the example config shows every setting, in the table's order, with the table's default")
    func exampleAgrees() throws {
        let text = try String(contentsOf: Self.repository.appendingPathComponent("install/config.toml.example"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        var lastIndex = -1
        for setting in Settings.all {
            let index = lines.firstIndex { $0.hasPrefix("#\(setting.key) = ") }
            guard let index else {
                Issue.record("the example lacks #\(setting.key) = ...")
                continue
            }
            #expect(index > lastIndex, "\(setting.key) is out of the table's order in the example")
            lastIndex = index
            if let toml = setting.defaultTOML {
                #expect(lines[index] == "#\(setting.key) = \(toml)", "example: \(lines[index]), table: \(toml)")
            }
        }
    }

    @Test("every flag rejects what the config reader rejects, naming the flag and the range", arguments: Settings.all.filter {
        switch $0.kind {
        case .integer, .seconds, .size, .number, .probability: return true
        default: return false
        }
    }.map(\.key))
    func rangesAgree(key: String) throws {
        let setting = try #require(Settings.named(key))
        let tooBig: String
        switch setting.kind {
        case .integer(let r): tooBig = "\(r.upperBound + 1)"
        case .seconds(let r), .number(let r): tooBig = "\(r.upperBound * 2)"
        case .size(let r): tooBig = "\(r.upperBound * 2)"
        case .probability: tooBig = "0.5"
        default: return
        }
        let command: [String] = ["run", "--host", "h", setting.flag, tooBig]
        do {
            _ = try EntropyTunnelCommand.parseAsRoot(command)
            Issue.record("\(command) was accepted")
        } catch {
            let message = EntropyTunnelCommand.message(for: error)
            #expect(message.contains(setting.flag), "\(message)")
        }
        #expect(throws: TunnelError.self, "\(key) = \(tooBig) in a file") {
            _ = try ConfigFile.parse("\(key) = \(tooBig)\n", path: "x")
        }
    }
}

/// entropy-tunnel.toml(5), written from the table.
struct ConfigManualTests {
    @Test("the config file's manual page names every setting with its default and renders without a warning")
    func manualPage() throws {
        let page = ConfigManual.roff(version: "0.1.0", date: "2026-11-24")
        for setting in Settings.all {
            #expect(page.contains(".B \(setting.key) = "), "the page lacks \(setting.key)")
            if let defaultText = setting.defaultText {
                #expect(page.contains("default: \(ConfigManual.escape(defaultText))"), "\(setting.key)")
            }
        }
        let path = NSTemporaryDirectory() + "entropy-tunnel.toml.5"
        try page.writeReplacing(toFile: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/man") {
            _ = try? Shell.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "man-db", "groff-base")
        }
        let result = try Shell.capture("/bin/sh", ["-c", "man --warnings -l '\(path)' 2>&1 >/dev/null"])
        #expect(result.status == 0 && result.stdout.isEmpty, "man --warnings: \(result.stdout)")
        let rendered = try Shell.capture("/bin/sh", ["-c", "MANWIDTH=100 man -l '\(path)' 2>/dev/null"])
        #expect(rendered.stdout.contains("kernel_interval = 60"), "\(rendered.stdout.prefix(400))")
    }
}
