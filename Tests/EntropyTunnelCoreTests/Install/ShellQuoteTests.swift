import EntropyTunnelCore
import Foundation
import Testing

/// `ShellQuote`: the commands install and keys print for a person to paste into a shell.
struct ShellQuoteTests {
    @Test("ShellQuote: safe words stay bare, everything else is single-quoted with '\\'' for quotes", arguments: [
        ("rng.example", "rng.example"), ("192.0.2.7", "192.0.2.7"), ("entropy-tunnel@vm", "entropy-tunnel@vm"),
        ("", "''"), ("a b", "'a b'"), ("it's", #"'it'\''s'"#), ("$HOME", "'$HOME'"), ("[::1]:22", "'[::1]:22'"),
        ("10.0.0.*", "'10.0.0.*'"), ("~root", "'~root'"), ("a\nb", "'a\nb'"), ("'", #"''\'''"#),
    ])
    func shellQuote(_ word: String, _ quoted: String) throws {
        #expect(ShellQuote.quote(word) == quoted)
        // sh reads it back as the same single word.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "printf '%s' " + ShellQuote.quote(word)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: output, as: UTF8.self) == word)
    }
}
