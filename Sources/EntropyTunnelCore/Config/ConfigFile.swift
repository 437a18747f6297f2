import Logging

/// The daemon's configuration file, `/etc/entropy-tunnel/config.toml`: one flat TOML table whose
/// snake_case keys mirror the `run` options (command-line flags win over the file).
///
/// Read in one pass by `TOMLDocument`, each value checked by its row of `Settings`. Every
/// problem is reported as `PATH:LINE: what is wrong with 'key'`, so an administrator can jump
/// straight to the line.
public enum ConfigFile {
    /// The default location of the file.
    public static let defaultPath = "/etc/entropy-tunnel/config.toml"

    /// Settings by key, each read and checked; a key that is absent means "not given" (the
    /// default, or the flag, applies). What the config file holds, what the flags hold, and the
    /// two overlaid.
    public struct Values: Sendable, Equatable {
        private var entries: [String: SettingValue] = [:]
        /// The line of each value read from a file, for messages about it.
        private var lines: [String: Int] = [:]

        public init() {}

        /// The value of `setting`, nil when not given.
        public subscript(setting: Setting) -> SettingValue? {
            get { entries[setting.key] }
            set { entries[setting.key] = newValue }
        }

        /// Whether nothing is given.
        public var isEmpty: Bool { entries.isEmpty }

        /// Equal when the same settings have the same values (wherever they were read).
        public static func == (a: Values, b: Values) -> Bool { a.entries == b.entries }

        /// Entropy hosts in order of preference, as written (`host = "a"` or
        /// `host = ["a:2222", "b"]`): the one setting every command needs before a
        /// configuration exists. `hostSpecs` applies `port` to those that name none.
        public var hosts: [String]? {
            get { if case .strings(let names) = self[Settings.host] { names } else { nil } }
            set { self[Settings.host] = newValue.map { .strings($0) } }
        }

        /// `hosts` parsed, with `port` (or its default) for those that name no port of their own.
        public var hostSpecs: [HostSpec]? {
            let port: Int
            if case .integer(let n) = self[Settings.port] ?? Settings.port.defaultValue { port = n } else { port = 22 }
            return hosts?.compactMap { try? HostSpec(parsing: $0, defaultPort: port) }
        }

        /// The log level given, for logging set up before the configuration is built.
        public var logLevel: Logger.Level? {
            if case .string(let name) = self[Settings.logLevel] { Logger.Level(rawValue: name) } else { nil }
        }

        /// These values with every value that `overrides` sets replacing this one's: the command line
        /// over the config file.
        public func overlaid(with overrides: Values) -> Values {
            var merged = self
            for (key, value) in overrides.entries {
                merged.entries[key] = value
                merged.lines[key] = overrides.lines[key]
            }
            return merged
        }

        /// `error` as `SOURCE:LINE: message` when `setting` was read from the file `source`.
        func located(_ error: TunnelError, at setting: Setting, source: String) -> TunnelError {
            guard let line = lines[setting.key], source.hasPrefix("/") || source.hasSuffix(".toml") else { return error }
            return TunnelError(error.code, "\(source):\(line): \(error.message)", errno: error.errno)
        }

        mutating func set(_ value: SettingValue, of setting: Setting, line: Int) {
            entries[setting.key] = value
            lines[setting.key] = line
        }
    }

    /// Every key the file may hold, in the order of the example file.
    public static let knownKeys = Settings.all.map(\.key)

    /// Whether `name` can be a group name (what `groupadd` accepts): no path or shell surprises.
    public static func isGroupName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 32 && !name.hasPrefix("-") &&
            name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") ||
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ||
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(TunnelError) -> Values {
        let text: String
        do throws(TunnelError) {
            text = try FileSystem.read(path, limit: TOMLDocument.sizeLimit + 1)
        } catch {
            throw TunnelError(.configuration,
                              "cannot read configuration file \(path): \(error.errno.map { "\($0)" } ?? error.message); " +
                              "create it (see install/config.toml.example) or pass --config with another path",
                              errno: error.errno)
        }
        return try parse(text, path: path)
    }

    /// Parses `text`; `path` is only used in messages.
    public static func parse(_ text: String, path: String) throws(TunnelError) -> Values {
        let document = try TOMLDocument(parsing: text, path: path)
        var values = Values()
        for entry in document.entries {
            guard let setting = Settings.named(entry.key) else {
                throw TunnelError(.configuration,
                                  "\(path):\(entry.line): unknown key '\(TOMLValue.printable(entry.key, limit: 64))' " +
                                  "(known keys: \(knownKeys.joined(separator: ", ")))")
            }
            do throws(TunnelError) {
                values.set(try setting.read(entry.value, from: .file), of: setting, line: entry.line)
            } catch {
                throw TunnelError(.configuration, "\(path):\(entry.line): \(error.message)")
            }
        }
        return values
    }
}
