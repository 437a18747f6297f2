extension Setting {
    /// Where a setting's value lands in a `RunConfiguration`: how to set it, read it back,
    /// compare two configurations and copy it from one to the other (what a reload applies).
    /// Made from a key path for plain fields; the few settings that build a compound value
    /// (hosts, the health tests) spell the four out.
    struct Binding: Sendable {
        let set: @Sendable (inout RunConfiguration, SettingValue) throws(TunnelError) -> Void
        let get: @Sendable (RunConfiguration) -> SettingValue?
        let differs: @Sendable (RunConfiguration, RunConfiguration) -> Bool
        let copy: @Sendable (inout RunConfiguration, RunConfiguration) -> Void

        /// A field of type `T`, converted from and to the setting's value.
        static func field<T: Equatable & Sendable>(
            _ path: any WritableKeyPath<RunConfiguration, T> & Sendable,
            from: @escaping @Sendable (SettingValue) -> T?,
            to: @escaping @Sendable (T) -> SettingValue?
        ) -> Binding {
            Binding(
                set: { configuration, value throws(TunnelError) in
                    guard let field = from(value) else { preconditionFailure("\(value) does not fit \(path)") }
                    configuration[keyPath: path] = field
                },
                get: { to($0[keyPath: path]) },
                differs: { $0[keyPath: path] != $1[keyPath: path] },
                copy: { $0[keyPath: path] = $1[keyPath: path] })
        }

        static func seconds(_ path: any WritableKeyPath<RunConfiguration, Duration> & Sendable) -> Binding {
            field(path, from: { if case .seconds(let d) = $0 { d } else { nil } }, to: { .seconds($0) })
        }

        static func integer(_ path: any WritableKeyPath<RunConfiguration, Int> & Sendable) -> Binding {
            field(path, from: { if case .integer(let n) = $0 { n } else { nil } }, to: { .integer($0) })
        }

        /// A size kept as a number of bytes.
        static func bytes(_ path: any WritableKeyPath<RunConfiguration, Int> & Sendable) -> Binding {
            field(path, from: { if case .size(let s) = $0 { s.bytes } else { nil } }, to: { .size(ByteSize(bytes: $0)) })
        }

        static func size(_ path: any WritableKeyPath<RunConfiguration, ByteSize> & Sendable) -> Binding {
            field(path, from: { if case .size(let s) = $0 { s } else { nil } }, to: { .size($0) })
        }

        static func string(_ path: any WritableKeyPath<RunConfiguration, String> & Sendable) -> Binding {
            field(path, from: { if case .string(let s) = $0 { s } else { nil } }, to: { .string($0) })
        }

        /// A string whose absence (nil) is the default.
        static func optionalString(_ path: any WritableKeyPath<RunConfiguration, String?> & Sendable) -> Binding {
            field(path, from: { if case .string(let s) = $0 { .some(s) } else { nil } }, to: { $0.map { .string($0) } })
        }

        static func strings(_ path: any WritableKeyPath<RunConfiguration, [String]> & Sendable) -> Binding {
            field(path, from: { if case .strings(let list) = $0 { list } else { nil } }, to: { .strings($0) })
        }

        /// One of an enumeration's raw values.
        static func choice<T: RawRepresentable & Equatable & Sendable>(
            _ path: any WritableKeyPath<RunConfiguration, T> & Sendable
        ) -> Binding where T.RawValue == String {
            field(path, from: { if case .string(let s) = $0 { T(rawValue: s) } else { nil } }, to: { .string($0.rawValue) })
        }

        /// One of an enumeration's raw values, or nil (the default depends on other settings).
        static func optionalChoice<T: RawRepresentable & Equatable & Sendable>(
            _ path: any WritableKeyPath<RunConfiguration, T?> & Sendable
        ) -> Binding where T.RawValue == String {
            field(path, from: { if case .string(let s) = $0, let t = T(rawValue: s) { .some(t) } else { nil } },
                  to: { $0.map { .string($0.rawValue) } })
        }
    }
}
