/// Quoting for the commands entropy-tunnel prints for an administrator to paste into a shell
/// (`keys authorize --key ...`, `ssh-keygen -R ...`, `keys trust ...`).
///
/// POSIX single-quote style, as Python's `shlex.quote`: a word made only of characters no shell
/// treats specially stays as it is; anything else is wrapped in single quotes, and each single
/// quote inside becomes `'\''` (close, escaped quote, reopen). The empty word is `''`.
public enum ShellQuote {
    /// The characters that never need quoting in sh, bash, dash or zsh.
    static func isSafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": return true
        case "_", "@", "%", "+", "=", ":", ",", ".", "/", "-": return true
        default: return false
        }
    }

    /// `word` as one shell word.
    public static func quote(_ word: String) -> String {
        if !word.isEmpty && word.unicodeScalars.allSatisfy(isSafe) { return word }
        return "'" + word.replacing("'", with: #"'\''"#) + "'"
    }

    /// `words` as one command line: each quoted, separated by spaces.
    public static func command(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }
}
