// The fuzzer's entry: `entropy-tunnel-fuzz TARGET [libFuzzer flags and corpus directories]`
// (or the target in $ENTROPY_TUNNEL_FUZZ_TARGET).
// Top-level code, not @main: SwiftPM renames an executable's entry point, and libFuzzer's own
// main() is not linked when the program calls LLVMFuzzerRunDriver itself.
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's callback type: one input, return 0 (non-zero values are reserved).
typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

/// `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t))`,
/// from the libFuzzer that `-sanitize=fuzzer` links in.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: FuzzCallback
) -> Int32

/// Where the target's name is passed to the child processes of libFuzzer's -fork mode, which
/// re-run this program with libFuzzer's flags only.
let targetVariable = "ENTROPY_TUNNEL_FUZZ_TARGET"

var arguments = CommandLine.arguments
if arguments.count >= 2, arguments[1] == "--list" {
    print(FuzzTarget.allCases.map(\.rawValue).joined(separator: "\n"))
    exit(0)
}
let target: FuzzTarget
if arguments.count >= 2, let named = FuzzTarget(rawValue: arguments[1]) {
    target = named
    arguments.remove(at: 1)
    setenv(targetVariable, named.rawValue, 1)
} else if let inherited = getenv(targetVariable).flatMap({ FuzzTarget(rawValue: String(cString: $0)) }) {
    target = inherited
} else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
    let usage = "usage: \(arguments[0]) \(names) [libFuzzer flags] [corpus dirs]\n       \(arguments[0]) --list\n"
    _ = write(2, usage, usage.utf8.count)
    exit(2)
}

// libFuzzer sees the program name and everything after the target's name.
var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
var argc = Int32(cArguments.count - 1)
let status = cArguments.withUnsafeMutableBufferPointer { buffer in
    var argv = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv, target.callback)
}
exit(status)
