import ArgumentParser
import EntropyTunnelCore
import Foundation
import Testing
import entropy_tunnel

/// Every setting said once: its row in `Settings`, the flag that the table checks, the field its
/// value lands in and the code that uses it. Nothing else names it.
struct SettingsSaidOnceTests {
    static let repository = #filePath.components(separatedBy: "/Tests/")[0]

    /// The lines of Swift code (comments and string literals left out) under `directories` of
    /// Sources/ that name `words`, as `FILE:LINE`.
    static func sites(naming words: [String], in directories: [String]) throws -> [String] {
        var found: [String] = []
        for directory in directories {
            let root = repository + "/Sources/" + directory
            guard let files = FileManager.default.enumerator(atPath: root) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
                var inMultiLineString = false
                for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    // The lines of a multi-line string literal are text (help, messages), not code.
                    let quotes = line.components(separatedBy: "\"\"\"").count - 1
                    let wasInString = inMultiLineString
                    if quotes % 2 == 1 { inMultiLineString.toggle() }
                    if wasInString || quotes > 0 && inMultiLineString { continue }
                    let code = codePart(String(line))
                    if words.contains(where: code.contains) { found.append("\(directory)/\(file):\(index + 1)") }
                }
            }
        }
        return found
    }

    /// `line` without its comment and the contents of its string literals.
    static func codePart(_ line: String) -> String {
        var out = ""
        var inString = false
        var previous: Character = " "
        for c in line {
            if inString {
                if c == "\"" && previous != "\\" { inString = false; out.append(c) }
            } else if c == "\"" {
                inString = true
                out.append(c)
            } else if c == "/" && previous == "/" {
                out.removeLast()
                break
            } else {
                out.append(c)
            }
            previous = c
        }
        return out
    }

    @Test("data_timeout is named only by its row, its flag and the field it lands in: 0 other sites in the config, install, status and command-line code")
    func dataTimeoutSites() throws {
        let words = ["data_timeout", "dataTimeout", "data-timeout"]
        let layers = ["EntropyTunnelCore/Config", "EntropyTunnelCore/Install", "EntropyTunnelCore/Status", "EntropyTunnelCore/Systemd",
                      "EntropyTunnelCore/Check", "entropy-tunnel"]
        let sites = try Self.sites(naming: words, in: layers)
        let allowed = ["EntropyTunnelCore/Config/Settings.swift", "EntropyTunnelCore/Config/TunnelOptions.swift",
                       "entropy-tunnel/ConnectionArguments.swift"]
        let others = sites.filter { site in !allowed.contains { site.hasPrefix($0 + ":") } }
        print("data_timeout: \(sites.count) sites, \(others.count) outside its row, flag and field: \(sites)")
        #expect(others.isEmpty, "\(others)")
        // What is allowed: the row (and its place in the table's list), the flag, the field.
        #expect(Set(sites.map { $0.components(separatedBy: ":")[0] }).count <= allowed.count, "\(sites)")
        // The scanner sees code: the row is found, a comment is not.
        #expect(sites.contains { $0.hasPrefix("EntropyTunnelCore/Config/Settings.swift:") })
        #expect(Self.codePart("x // dataTimeout") == "x " && Self.codePart("f(\"data_timeout\")") == "f(\"\")")
    }

    @Test("every option of run named after a setting is its flag, and every setting of the table has one")
    func flagsMatchTable() throws {
        let run = try #require(try EntropyTunnelCommand.parseAsRoot(["run", "--host", "h"]) as? RunCommand)
        var keys: [String] = []
        for mirror in [Mirror(reflecting: run.connection), Mirror(reflecting: run.daemon)] {
            for child in mirror.children {
                guard let label = child.label else { continue }
                let key = RunCommand.settingKey(property: label)
                guard key != "config" else { continue }
                #expect(Settings.flagged(key) != nil, "run's option \(label) is not a setting of the table")
                keys.append(key)
            }
        }
        #expect(keys.sorted() == Settings.commandLine.map(\.key).sorted())
    }

    /// A value of `setting`'s kind that is not its default.
    static func sample(_ setting: Setting) -> String {
        switch setting.kind {
        case .hosts: return "a.example:2200"
        case .text: return "x"
        case .path: return "/x"
        case .file: return "/x/f"
        case .integer(let r): return "\(r.lowerBound)"
        case .seconds(let r): return "\(r.upperBound.shortDescription)"
        case .size(let r): return "\(r.lowerBound)"
        case .number(let r): return "\(r.upperBound.shortDescription)"
        case .choice(let names): return names.last ?? ""
        case .probability: return "1e-20"
        case .words: return "-a b"
        case .group: return "g"
        }
    }

    @Test("every setting reaches the configuration through its flag, and through its key in a file")
    func everySettingLands() throws {
        let base = try RunConfiguration(ConfigFile.parse("host = \"h\"\n", path: "/x.toml"), source: "/x.toml")
        for setting in Settings.commandLine {
            let value = Self.sample(setting)
            let arguments = setting.isHosts ? ["run", "--host", value] : ["run", "--host", "h", setting.flag, value]
            let run = try #require(try EntropyTunnelCommand.parseAsRoot(arguments) as? RunCommand, "\(arguments)")
            let flagged = try RunConfiguration(run.daemon.applied(to: run.connection.values), source: "the command line")
            #expect("\(flagged)" != "\(base)", "\(setting.flag) \(value) changed nothing")
            guard !setting.commandLineOnly else { continue }
            let toml: String
            switch setting.kind {
            case .hosts, .text, .path, .file, .choice, .group: toml = "\"\(value)\""
            case .words: toml = "[\"-a\", \"b\"]"
            default: toml = value
            }
            let file = setting.isHosts ? "host = \(toml)\n" : "host = \"h\"\n\(setting.key) = \(toml)\n"
            let filed = try RunConfiguration(ConfigFile.parse(file, path: "/x.toml"), source: "/x.toml")
            #expect("\(filed)" == "\(flagged)", "\(setting.key) = \(toml) differs from \(setting.flag) \(value)")
        }
    }
}

extension Setting {
    var isHosts: Bool { if case .hosts = kind { true } else { false } }
}
