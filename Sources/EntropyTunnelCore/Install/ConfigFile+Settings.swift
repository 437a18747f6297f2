extension ConfigFile.Values {
    /// The values that are set, as config-file keys and TOML values, in the order of the table of
    /// settings (the example file's): what `install` writes for the options it was given
    /// (defaults stay implicit). A single host is not among them: `Installer` writes the host.
    public var settings: [(key: String, value: Installer.ConfigValue)] {
        Settings.all.compactMap { setting in
            guard let value = self[setting] else { return nil }
            if setting.isHosts, case .strings(let names) = value, names.count < 2 { return nil }
            return (setting.key, Installer.ConfigValue(value))
        }
    }
}

extension Installer.ConfigValue {
    /// A setting's value as `install` writes it: whole seconds and plain byte counts as integers,
    /// sizes with a suffix as strings (`"64K"`).
    init(_ value: SettingValue) {
        switch value {
        case .string(let s): self = .string(s)
        case .strings(let list): self = .strings(list)
        case .integer(let n): self = .int(n)
        case .seconds(let d):
            let s = d.seconds
            self = s == s.rounded() && s < 1e9 ? .int(Int(s)) : .double(s)
        case .size(let size): self = size.description.last?.isNumber == false ? .string(size.description) : .int(size.bytes)
        case .number(let d): self = .double(d)
        }
    }
}
