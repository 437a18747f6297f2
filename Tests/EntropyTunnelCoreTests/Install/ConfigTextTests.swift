import EntropyTunnelCore
import Testing

/// Line-wise edits of a config file: one line per key, everything else kept.
struct ConfigTextTests {
    @Test("an active line is replaced in place, its trailing comment kept; an unchanged value leaves the text as it was")
    func replaces() throws {
        var text = ConfigText("# top\nhost = \"a\"   # lab\n\nwindow = \"8K\"\n", path: "/c")
        #expect(try text.set("host", "[\"b\", \"a\"]") == "\"a\"")
        #expect(text.text == "# top\nhost = [\"b\", \"a\"]   # lab\n\nwindow = \"8K\"\n")
        let before = text
        #expect(try text.set("window", "\"8K\"") == "\"8K\"")
        #expect(text == before)
    }

    @Test("a missing key goes under its commented example line, else at the end")
    func inserts() throws {
        var text = ConfigText("#window = \"64K\"\n# more\n", path: "/c")
        #expect(try text.set("window", "\"16K\"") == nil)
        #expect(try text.set("user", "\"rng\"") == nil)
        #expect(text.text == "#window = \"64K\"\nwindow = \"16K\"\n# more\nuser = \"rng\"\n")
    }

    @Test("keys are matched whole: 'fifo' is not 'fifo_size'; a '#' inside a string is not a comment")
    func wholeKeys() throws {
        var text = ConfigText("fifo_size = \"64K\"\nremote_command = \"dd # x\"\n", path: "/c")
        #expect(try text.set("fifo", "\"/run/f\"") == nil)
        #expect(try text.set("remote_command", "\"cat\"") == "\"dd # x\"")
        #expect(text.text == "fifo_size = \"64K\"\nremote_command = \"cat\"\nfifo = \"/run/f\"\n")
    }

    @Test("a value broken over lines is refused with its line, and nothing changes")
    func multiLine() throws {
        var text = ConfigText("# x\nhost = [\n  \"a\",\n]\n", path: "/etc/c.toml")
        let before = text
        #expect(throws: TunnelError.self) { try text.set("host", "\"b\"") }
        do { try text.set("host", "\"b\"") } catch { #expect(error.message.hasPrefix("/etc/c.toml:2: 'host' spans several lines")) }
        #expect(text == before)
    }

    @Test("the example with values set by ConfigText reads back as a config with exactly those values")
    func exampleFilledIn() throws {
        var text = ConfigText(ConfigExample.text, path: "/c")
        try text.set("host", "[\"a.example\", \"b.example:2222\"]")
        try text.set("window", "\"16K\"")
        let values = try ConfigFile.parse(text.text, path: "/c")
        #expect(values.hosts == ["a.example", "b.example:2222"])
        #expect(values.settings.map(\.key) == ["host", "window"])
        #expect(text.lines.count == ConfigText(ConfigExample.text, path: "/c").lines.count + 2)
    }
}
