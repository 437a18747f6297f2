import ArgumentParser
import EntropyTunnelCore
import Logging

extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension SinkKind: ExpressibleByArgument {}
extension ConnectionMode: ExpressibleByArgument {}

extension Setting {
    /// The flag's help, from the table: summary, range, default (hidden for command-line-only
    /// settings, which are for tests).
    var argumentHelp: ArgumentHelp {
        ArgumentHelp(helpText, valueName: valueName, visibility: commandLineOnly ? .hidden : .default)
    }
}

/// An `@Option` whose value a setting of the table can read.
protocol SettingFlag {
    /// The value given, as the config file would hold it; nil when the flag was not given.
    var givenValue: TOMLValue? { get }
}

extension Option: SettingFlag {
    var givenValue: TOMLValue? { TOMLValue(flag: wrappedValue) }
}

extension TOMLValue {
    /// A parsed flag value as the config file would hold it: numbers as numbers, sizes as byte
    /// counts, choices as their names, a repeated flag as an array; nil for an absent flag.
    init?(flag value: Any) {
        switch value {
        case let d as Double: self = .float(d)
        case let n as Int: self = .integer(n)
        case let size as ByteSize: self = .integer(size.bytes)
        case let s as String: self = .string(s)
        case let list as [String]:
            guard !list.isEmpty else { return nil }
            self = .array(list.map(TOMLValue.string))
        case let choice as any RawRepresentable:
            guard let name = choice.rawValue as? String else { return nil }
            self = .string(name)
        default:
            return nil
        }
    }
}

extension ParsableArguments {
    /// The options of these arguments that are settings of the table and were given: each
    /// option's property is named after its setting's key (`dataTimeout` for `data_timeout`), so
    /// no option needs a line of its own to reach the configuration. (Call it on parsed
    /// arguments only: an unparsed `Option` has no value.)
    package var givenSettings: [(setting: Setting, value: TOMLValue)] {
        Mirror(reflecting: self).children.compactMap { child in
            guard let label = child.label, let flag = child.value as? any SettingFlag,
                  let setting = Settings.flagged(Self.settingKey(property: label)), let value = flag.givenValue else { return nil }
            return (setting, value)
        }
    }

    /// The settings given, read and checked as the config file's are.
    func settingValues() throws(TunnelError) -> ConfigFile.Values {
        var values = ConfigFile.Values()
        for (setting, value) in givenSettings { values[setting] = try setting.read(value, from: .flag) }
        return values
    }

    /// Refuses a value the table refuses, naming the flag (exit 64, as other usage errors).
    func validateSettings() throws {
        do throws(TunnelError) {
            _ = try settingValues()
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// `data_timeout` for the property `_dataTimeout` (the wrapper's storage).
    package static func settingKey(property label: String) -> String {
        var key = ""
        for c in label.drop(while: { $0 == "_" }) {
            if c.isUppercase { key += "_" + c.lowercased() } else { key.append(c) }
        }
        return key
    }
}
