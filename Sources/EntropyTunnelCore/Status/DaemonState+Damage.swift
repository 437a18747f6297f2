/// Whether a state file can be believed before anything is computed from it: `status` reads a
/// file that anyone with access to /run could have written, and a time of 1e300 or a NaN must
/// make it "damaged" (exit 4), never a trap in a conversion.
extension DaemonState {
    /// The latest time a state file may hold: 9999-12-31 23:59:59 UTC.
    public static let latestTime = 253_402_300_799.0
    /// The largest magnitude of any number in it: integers stay exact in a Double.
    public static let largestNumber = 9_007_199_254_740_992.0
    /// The largest pid Linux hands out (`pid_max` is at most 2^22).
    public static let largestPID: Int64 = 1 << 22

    /// Why `state` is not a state file `run` could have written (one short phrase naming the
    /// member), or nil when every number is finite and in range and the main members have
    /// their types.
    public static func damage(in state: JSONValue) -> String? {
        guard case .object = state else { return "not a JSON object" }
        if let problem = numbers(state, path: "") { return problem }
        let required: [(String, Kind)] = [("running", .bool), ("pid", .integer), ("started_at", .time)]
        for (key, kind) in required {
            guard let value = state[key] else { return "\(key) is missing" }
            if let problem = check(value, kind, path: key) { return problem }
        }
        let optional: [(String, Kind)] = [
            ("version", .string), ("stopped_at", .time), ("updated", .time), ("sink", .string), ("mode", .string),
            ("kernel_interval", .interval), ("current", .object), ("hosts", .array), ("connections", .count),
            ("bytes_delivered", .count), ("last_bytes_at", .time), ("kernel", .object), ("reserve", .object),
            ("rngd", .object), ("health_windows", .object), ("last_error", .object),
        ]
        for (key, kind) in optional {
            guard let value = state[key], value != .null else { continue }
            if let problem = check(value, kind, path: key) { return problem }
        }
        if let pid = state["pid"]?.int, !(0...largestPID).contains(pid) { return "pid \(pid) is out of range" }
        if let pid = state["rngd"]?["pid"]?.int, !(0...largestPID).contains(pid) { return "rngd.pid \(pid) is out of range" }
        for (key, kind) in [("host", Kind.string), ("since", .time), ("bytes", .count), ("host_key", .string), ("client_key", .string)] {
            guard let value = state["current"]?[key], value != .null else { continue }
            if let problem = check(value, kind, path: "current." + key) { return problem }
        }
        for (index, host) in (state["hosts"]?.array ?? []).enumerated() {
            guard case .object = host else { return "hosts[\(index)] is not an object" }
            for (key, kind) in [("host", Kind.string), ("state", .string), ("retry_at", .time), ("last_error", .string), ("last_error_at", .time)] {
                guard let value = host[key], value != .null else { continue }
                if let problem = check(value, kind, path: "hosts[\(index)].\(key)") { return problem }
            }
        }
        return nil
    }

    private enum Kind {
        case bool, integer, count, time, interval, string, object, array
    }

    /// A member that must have `kind`.
    private static func check(_ value: JSONValue, _ kind: Kind, path: String) -> String? {
        switch (kind, value) {
        case (.bool, .bool), (.string, .string), (.object, .object), (.array, .array):
            return nil
        case (.integer, .int):
            return nil
        case (.count, _):
            guard let n = value.int else { return "\(path) is not a whole number" }
            return n >= 0 ? nil : "\(path) is negative"
        case (.time, _):
            guard let t = value.double else { return "\(path) is not a time" }
            return t >= 0 && t <= latestTime ? nil : "\(path) (\(t)) is not a time between 1970 and 9999"
        case (.interval, _):
            guard let t = value.double else { return "\(path) is not a number" }
            return t > 0 && t <= 1e7 ? nil : "\(path) (\(t)) is out of range"
        default:
            return "\(path) has the wrong type"
        }
    }

    /// The first number anywhere in `value` that is not finite or too large to be exact.
    private static func numbers(_ value: JSONValue, path: String) -> String? {
        switch value {
        case .double(let d):
            if !d.isFinite { return "\(path.isEmpty ? "a number" : path) is not finite" }
            if abs(d) > largestNumber { return "\(path.isEmpty ? "a number" : path) (\(d)) is out of range" }
        case .int(let n):
            if n.magnitude > UInt64(largestNumber) { return "\(path.isEmpty ? "a number" : path) (\(n)) is out of range" }
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                if let problem = numbers(element, path: "\(path)[\(i)]") { return problem }
            }
        case .object(let members):
            for (key, member) in members {
                if let problem = numbers(member, path: path.isEmpty ? key : "\(path).\(key)") { return problem }
            }
        default:
            break
        }
        return nil
    }
}
