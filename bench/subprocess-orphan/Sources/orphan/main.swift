// Starts `sleep 300` the way a supervisor would with swift-subprocess (its own process group,
// a teardown sequence), prints the child's PID and waits to be killed.
import Subprocess
#if canImport(Glibc)
import Glibc
#endif

var options = PlatformOptions()
options.processGroupID = 0
options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(1))]
_ = try await Subprocess.run(
    .path("/bin/sleep"), arguments: ["300"], platformOptions: options,
    input: .none, output: .discarded, error: .discarded
) { execution in
    let line = "child \(execution.processIdentifier.value)\n"
    _ = line.withCString { write(1, $0, strlen($0)) }
    try await Task.sleep(for: .seconds(300))
}
