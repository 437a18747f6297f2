import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a FIFO the tunnel owns, without blocking: opened O_RDONLY|O_NONBLOCK once it exists.
final class FIFOReader {
    let fd: Int32
    private(set) var total = 0
    private(set) var received: [UInt8] = []

    init?(path: String, within seconds: Double = 10) {
        var fd: Int32 = -1
        waitUntil(seconds) {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFIFO else { return false }
            fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            return fd >= 0
        }
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Reads until `count` more bytes arrived or `seconds` passed; returns how many arrived.
    /// Keeps the bytes (for content checks) when `keep` is set.
    @discardableResult
    func read(_ count: Int, within seconds: Double, keep: Bool = false) -> Int {
        var got = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(seconds)
        while got < count {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { break }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(min(remaining, 1) * 1000) + 1)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, count - got)) }
            if n > 0 {
                got += n
                if keep { received += buffer[0..<n] }
            }
        }
        total += got
        return got
    }

    /// Reads and discards whatever is queued now; returns how much that was.
    @discardableResult
    func drain() -> Int {
        var got = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            got += n
        }
        total += got
        return got
    }

    /// Waits until the writer has filled the pipe: at least 32K queued, and no more for 0.5 s
    /// (the writer gets no event to wait for). A full pipe holds less than its 64K when writes
    /// and reads did not fall on page boundaries: its 16 pages are taken, some partly (58,880
    /// bytes was seen once), so "at least 60K" is not what full means.
    func waitUntilFull(within seconds: Double) -> Bool {
        var level = -1
        var since = Date()
        return waitUntil(seconds) {
            let now = queued
            if now != level { (level, since) = (now, Date()) }
            return level >= 32 << 10 && Date().timeIntervalSince(since) >= 0.5
        }
    }

    /// Bytes queued in the pipe (FIONREAD), without reading them.
    var queued: Int {
        var n: Int32 = 0
        _ = ioctl(fd, UInt(FIONREAD), &n)
        return Int(n)
    }
}

/// A log line of the tunnel: its timestamp and text.
struct LogLine {
    let time: Date
    let text: String
}

/// Parses the tunnel's stderr log (lines start with an ISO-8601 UTC timestamp).
func logLines(_ log: String) -> [LogLine] {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return log.split(separator: "\n").compactMap { line in
        guard let space = line.firstIndex(of: " "), let date = formatter.date(from: String(line[..<space])) else { return nil }
        return LogLine(time: date, text: String(line[space...].dropFirst()))
    }
}

/// The value of `key=` in a log line, if present.
func logValue(_ line: String, _ key: String) -> String? {
    guard let range = line.range(of: " \(key)=") else { return nil }
    var value = line[range.upperBound...]
    if value.hasPrefix("\"") {
        value = value.dropFirst()
        return String(value.prefix { $0 != "\"" })
    }
    return String(value.prefix { $0 != " " })
}

/// PIDs of the live children of `parent` whose command name is `name`.
func childPIDs(of parent: Int32, named name: String) -> [Int32] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap(Int32.init).filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return false }
        let comm = stat[stat.index(after: open)..<close]
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return comm == name && fields.count > 2 && fields[0] != "Z" && Int32(fields[1]) == parent
    }
}

/// User plus system CPU seconds a process has used so far.
func cpuSeconds(of pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
    let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Whether a process exists (and is not a zombie).
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
}
