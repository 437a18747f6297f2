import EntropyTunnelCore
import Testing

/// The project's own reader of the config file's TOML subset: what it reads (with lines and
/// columns), what it refuses by name, and that no input makes it trap.
struct TOMLDocumentTests {
    func parse(_ text: String) throws(TunnelError) -> TOMLDocument { try TOMLDocument(parsing: text, path: "c.toml") }

    func value(_ text: String) throws -> TOMLValue {
        try #require(try parse("k = \(text)\n").entries.first).value
    }

    @Test("values of every kind the subset has", arguments: [
        ("\"a b\"", TOMLValue.string("a b")), ("'C:\\path'", .string("C:\\path")), ("\"\"", .string("")),
        ("\"tab\\there \\\"q\\\" \\\\ \\u00e9\\U0001F600\"", .string("tab\there \"q\" \\ é😀")),
        ("\"é\"", .string("é")), ("42", .integer(42)), ("+7", .integer(7)), ("-3", .integer(-3)), ("0", .integer(0)),
        ("1_000", .integer(1000)), ("0x1F", .integer(31)), ("0o17", .integer(15)), ("0b101", .integer(5)),
        ("9223372036854775807", .integer(.max)), ("2.5", .float(2.5)), ("-0.5", .float(-0.5)), ("1e-12", .float(1e-12)),
        ("6.02E+23", .float(6.02e23)), ("1_0.0_1", .float(10.01)), ("inf", .float(.infinity)), ("-inf", .float(-.infinity)),
        ("true", .boolean(true)), ("false", .boolean(false)), ("[]", .array([])), ("[\"a\", 'b']", .array([.string("a"), .string("b")])),
        ("[1, 2.5, true]", .array([.integer(1), .float(2.5), .boolean(true)])),
    ])
    func values(text: String, expected: TOMLValue) throws {
        #expect(try value(text) == expected, "\(text)")
    }

    @Test("nan reads as a float (every setting with a range refuses it)")
    func nan() throws {
        guard case .float(let d) = try value("nan") else { Issue.record("not a float"); return }
        #expect(d.isNaN)
    }

    @Test("lines and columns of every value; comments, blank lines, CRLF, a BOM and multi-line arrays")
    func positions() throws {
        let text = "\u{FEFF}# top\r\n\r\nport = 22 # c\r\n  user = \"é\"\r\nhost = [\r\n  \"a\", # first\r\n\r\n  'b',\r\n]\r\nwindow=\"32K\""
        let document = try parse(text)
        #expect(document.entries.map(\.key) == ["port", "user", "host", "window"])
        #expect(document.entries.map(\.line) == [3, 4, 5, 10])
        #expect(document.entries.map(\.column) == [8, 10, 8, 8])
        #expect(document["host"]?.value == .array([.string("a"), .string("b")]))
        #expect(document["user"]?.value == .string("é"))
        #expect(try parse("").entries.isEmpty && parse("\n\n# only a comment").entries.isEmpty)
    }

    @Test("quoted keys are keys")
    func quotedKeys() throws {
        let document = try parse("\"window\" = 1\n'sink' = \"fifo\"\n")
        #expect(document.entries.map(\.key) == ["window", "sink"])
    }

    @Test("valid TOML outside the subset is refused by name, with its line", arguments: [
        ("a = 1\n[tunnel]\n", 2, "unknown section or key 'tunnel'"),
        ("[[hosts]]\n", 1, "arrays of tables ([[...]]) are not part of this file's format"),
        ("host = {a = 1}\n", 1, "inline tables ({...}) are not part of this file's format"),
        ("a.b = 1\n", 1, "dotted keys (a.b = ...) are not part of this file's format"),
        ("\n\nt = 1979-05-27\n", 3, "dates and times (1979-05-27) are not part of this file's format"),
        ("t = 1979-05-27T07:32:00Z\n", 1, "dates and times"), ("t = 07:32:00\n", 1, "dates and times"),
        ("s = \"\"\"a\"\"\"\n", 1, "multi-line strings"), ("s = '''a'''\n", 1, "multi-line strings"),
        ("a = [[\"x\"]]\n", 1, "arrays inside arrays are not part of this file's format"),
    ])
    func outsideTheSubset(text: String, line: Int, message: String) {
        let error = #expect(throws: TunnelError.self) { try parse(text) }
        #expect(error?.code == .configuration)
        #expect(error?.message.hasPrefix("c.toml:\(line): ") == true && error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test("malformed text is a syntax error naming the line and what is wrong", arguments: [
        ("a = \"x\n", 1, "a string is not closed on its line"), ("a = 'x", 1, "a string is not closed"),
        ("a =\n", 1, "a value is missing"), ("a\n", 1, "expected '=' and a value after the key 'a'"), ("= 1\n", 1, "a key is missing"),
        ("a = 1 2\n", 1, "unexpected '2' after the value"), ("a = rng.example\n", 1, "is not a value: quote strings"),
        ("a = 01\n", 1, "not a number"), ("a = 1__0\n", 1, "not a number"), ("a = 1.\n", 1, "not a number"), ("a = .5\n", 1, "not a number"),
        ("a = 1e\n", 1, "not a number"), ("a = 99999999999999999999\n", 1, "the integer 99999999999999999999 is too large"),
        ("a = True\n", 1, "True is not a value"), ("a = \"\\q\"\n", 1, "unknown escape \\'q'"),
        ("a = \"\\u12\"\n", 1, "needs 4 hex digits"), ("a = \"\\uD800\"\n", 1, "names no Unicode character"),
        ("a = \"x\u{07}\"\n", 1, "control character byte 0x7 in a string"), ("# \u{1B}[2J\n", 1, "control character byte 0x1b in a comment"),
        ("a = [1 2]\n", 1, "array values must be separated by ','"), ("a = [,]\n", 1, "',' without a value"),
        ("\na = [\n1,\n", 4, "the array opened on line 2 is not closed"), ("a = [}\n", 1, "'}' cannot start a value"),
        ("[é]\n", 1, "cannot start a key"), ("a = 1\ra = 2\n", 1, "a carriage return without a line feed"),
        ("a = 1\nb = 2\na = 3\n", 3, "'a' is set twice (also on line 1)"),
    ])
    func malformed(text: String, line: Int, message: String) {
        let error = #expect(throws: TunnelError.self) { try parse(text) }
        #expect(error?.message.hasPrefix("c.toml:\(line): ") == true && error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test("a file larger than 1 MiB is refused whole")
    func huge() {
        let text = "# " + String(repeating: "x", count: TOMLDocument.sizeLimit) + "\n"
        let error = #expect(throws: TunnelError.self) { try parse(text) }
        #expect(error?.message.contains("larger than 1 MiB") == true)
    }

    @Test("a file of 1 MiB of keys or of one array parses in linear time: no quadratic search on hostile input")
    func largeInputsAreLinear() throws {
        var keys = ""
        var n = 0
        while keys.utf8.count < TOMLDocument.sizeLimit - 32 { keys += "k\(n) = \(n)\n"; n += 1 }
        let array = "a = [" + String(repeating: "\"x\", ", count: (TOMLDocument.sizeLimit - 16) / 5) + "]\n"
        for text in [keys, array] {
            let start = ContinuousClock.now
            let document = try parse(text)
            let elapsed = ContinuousClock.now - start
            print("parsed \(text.utf8.count) bytes (\(document.entries.count) keys) in \(elapsed)")
            #expect(elapsed < .seconds(5), "\(elapsed)")
        }
    }

    @Test("the example config with every key set: parse time per run (printed), and far below a millisecond")
    func exampleParseTime() throws {
        let text = ConfigExample.text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("#") && $0.dropFirst().contains(" = ") && !$0.hasPrefix("# ") ? String($0.dropFirst()) : String($0) }
            .joined(separator: "\n")
        let runs = 2000
        let start = ContinuousClock.now
        for _ in 0..<runs { _ = try ConfigFile.parse(text, path: "c.toml") }
        let each = (ContinuousClock.now - start) / runs
        print("ConfigFile.parse of the example with every key set (\(text.utf8.count) bytes): \(each) per parse")
        #expect(each < .milliseconds(1), "\(each)")
    }

    @Test("messages show a key's or value's control characters escaped, never raw")
    func printableMessages() {
        let error = #expect(throws: TunnelError.self) { try ConfigFile.parse("\"a\\u001b[2Jb\" = 1\n", path: "c.toml") }
        #expect(error?.message.contains("'a\\u{1b}[2Jb'") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("\u{1B}") == false)
    }

    @Test("random and mutated text never traps: it parses or fails with PATH:LINE")
    func noTrap() {
        var generator = SplitMix(seed: 20)
        let pieces = ["host", " = ", "\"", "'", "[", "]", ",", "\n", "\r\n", "#", "1", "_", ".", "e", "-", "+", "0x", "{", "}",
                      "\\", "u", "é", "\u{0}", "\t", "inf", "nan", "true", "1979-05-27", ":", "\"\"\"", "a.b", "\u{FEFF}"]
        for _ in 0..<20_000 {
            var text = ""
            for _ in 0..<Int(generator.next() % 24) { text += pieces[Int(generator.next() % UInt64(pieces.count))] }
            do {
                _ = try parse(text)
            } catch {
                #expect(error.message.hasPrefix("c.toml:"), "\(text.debugDescription): \(error.message)")
            }
        }
    }
}
