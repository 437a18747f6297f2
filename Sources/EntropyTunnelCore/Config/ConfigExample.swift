/// The commented example config, written from the table of settings (`Settings.all`): what
/// `entropy-tunnel config example` prints, the text a new config file starts from, and
/// `install/config.toml.example` (a test checks that file is this text, byte for byte).
public enum ConfigExample {
    /// The file's introduction.
    static let preamble = """
        # /etc/entropy-tunnel/config.toml: settings of `entropy-tunnel run` (the entropy-tunnel.service).
        #
        # Every setting is optional and shown commented out with its default. Remove the leading '#'
        # to change one. Options given on the command line win over this file. An unknown key or a bad
        # value stops the service with a message naming this file, the line and the key:
        #   journalctl -u entropy-tunnel
        # After editing: systemctl reload entropy-tunnel applies the hosts and connection settings without
        # dropping a healthy connection (the journal names keys that need systemctl restart entropy-tunnel).

        """

    /// The width of a section heading line.
    static let width = 92

    /// The example file's text.
    public static let text: String = {
        var out = preamble
        for setting in Settings.all {
            if let section = setting.example.section {
                let heading = "# --- \(section) "
                out += "\n" + heading + String(repeating: "-", count: max(3, width - heading.count)) + "\n"
            }
            if !setting.example.comment.isEmpty {
                out += "\n"
                for line in expand(setting.example.comment, for: setting).split(separator: "\n", omittingEmptySubsequences: false) {
                    out += line.isEmpty ? "#\n" : "# \(line)\n"
                }
            }
            out += "#\(setting.key) = \(setting.defaultTOML ?? setting.example.value ?? "...")\n"
        }
        return out
    }()

    /// `comment` with `{range}` (this setting's range) and `{range:KEY}` (another's) filled in.
    static func expand(_ comment: String, for setting: Setting) -> String {
        var text = comment.replacing("{range}", with: setting.rangeText ?? "")
        while let start = text.firstRange(of: "{range:"), let end = text[start.upperBound...].firstIndex(of: "}") {
            let key = String(text[start.upperBound..<end])
            text.replaceSubrange(start.lowerBound...end, with: Settings.named(key)?.rangeText ?? key)
        }
        return text
    }
}
