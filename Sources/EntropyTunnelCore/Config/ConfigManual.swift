/// entropy-tunnel.toml(5), the config file's manual page, written from the one table of settings
/// (`Settings.all`), so the page cannot drift from the reader or the flags.
public enum ConfigManual {
    /// The page as roff (man(7) macros).
    public static func roff(version: String, date: String) -> String {
        var out: [String] = [
            ".TH ENTROPY\\-TUNNEL.TOML 5 \"\(date)\" \"entropy-tunnel \(version)\" \"File Formats\"",
            ".SH NAME",
            "entropy-tunnel.toml \\- configuration file of entropy-tunnel run",
            ".SH SYNOPSIS",
            ".I \(ConfigFile.defaultPath)",
            ".SH DESCRIPTION",
            "The settings of",
            ".BR entropy-tunnel\\ run ,",
            "the daemon that",
            ".B entropy-tunnel.service",
            "runs, in TOML. Every setting is optional; a flag on the command line with the same name",
            "(the key with underscores turned into dashes) wins over the file. An unknown key or a bad",
            "value stops the daemon with exit status 78 and a message naming the file, the line and the",
            "key. After editing, run",
            ".B systemctl reload entropy-tunnel",
            "to apply the keys marked \"applied by a reload\" without dropping a healthy connection",
            "whose host is still listed; a file that no longer reads is logged and the running settings",
            "stay. The other keys take",
            ".BR systemctl\\ restart\\ entropy-tunnel ;",
            "a reload names them in the journal.",
            ".PP",
            "A commented example with every key is installed as",
            ".IR /usr/share/doc/entropy-tunnel/examples/config.toml ;",
            ".B entropy-tunnel install",
            "writes the keys it was given.",
            ".SH SETTINGS",
        ]
        for setting in Settings.all {
            out.append(".TP")
            out.append(".B \(escape(setting.key)) = \(escape(example(setting)))")
            var facts = [typeText(setting)]
            if case .choice = setting.kind {} else if let range = setting.rangeText { facts.append(range) }
            facts.append(setting.defaultText.map { "default: \($0)" } ?? "no default")
            facts.append("flag: \(setting.flag)")
            facts.append(setting.reload == .live ? "applied by a reload" : "needs a restart")
            out.append("(" + escape(facts.joined(separator: "; ")) + ")")
            out.append(escape(setting.summary))
        }
        out += [
            ".SH FILES",
            ".TP",
            ".I \(ConfigFile.defaultPath)",
            "this file",
            ".TP",
            ".I /etc/entropy-tunnel/id_ed25519, /etc/entropy-tunnel/known_hosts",
            "the client key and the pinned host keys",
            ".SH SEE ALSO",
            ".BR entropy-tunnel (1),",
            ".BR entropy-tunnel.run (1),",
            ".BR systemd.exec (5)",
        ]
        return out.joined(separator: "\n") + "\n"
    }

    /// A value to show after `key =`: the default, or an example.
    static func example(_ setting: Setting) -> String {
        setting.defaultTOML ?? setting.example.value ?? "..."
    }

    static func typeText(_ setting: Setting) -> String {
        switch setting.kind {
        case .hosts: return "a string or an array of strings"
        case .text: return "a string"
        case .path: return "an absolute path"
        case .file: return "an absolute path of a file"
        case .integer: return "an integer"
        case .seconds: return "seconds, an integer or a decimal number"
        case .size: return "a size: a string with a K, M or G suffix, or a number of bytes"
        case .number: return "a number"
        case .probability: return "a probability"
        case .choice(let names): return "one of " + names.map { "\"\($0)\"" }.joined(separator: ", ")
        case .words: return "an array of strings"
        case .group: return "a group name"
        }
    }

    /// Text safe in roff: backslashes and double quotes (which end macro arguments) escaped, no
    /// line starting with a control character.
    public static func escape(_ text: String) -> String {
        var s = ""
        for c in text {
            switch c {
            case "\\": s += "\\e"
            case "\n": s += " "
            case "\"": s += "\\(dq"
            default: s.append(c)
            }
        }
        if s.hasPrefix(".") || s.hasPrefix("'") { s = "\\&" + s }
        return s
    }
}
