extension String {
    /// The lines of the text, split at "\n" and at "\r\n" (one Character in Swift, so splitting
    /// at "\n" alone would leave a CRLF file as one line).
    package var lines: [String] {
        split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
    }
}
