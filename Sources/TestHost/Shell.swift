import Foundation

/// Runs helper programs (ssh-keygen, useradd) for the harness and the tests.
public enum Shell {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// The signal that ended the program, when it died by one (then `status` is that number).
        public var signal: Int32?
    }

    /// Runs `program` (looked up on PATH) and throws unless it exits 0.
    @discardableResult
    public static func run(_ program: String, _ arguments: String...) throws -> Result {
        try run(program, arguments)
    }

    @discardableResult
    public static func run(_ program: String, _ arguments: [String], input: Data? = nil) throws -> Result {
        let result = try capture(program, arguments, input: input)
        guard result.status == 0 else {
            throw HarnessError("\(program) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result
    }

    /// Runs `program` and returns its status and output, whatever the status.
    public static func capture(_ program: String, _ arguments: [String], input: Data? = nil,
                               environment: [String: String]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        // stderr on a thread of its own, not a global queue: in a full test run the blocking
        // tests can hold every pool thread, and the read (and this call) would wait for one.
        let errData = StderrReader(err.fileHandleForReading)
        if let input {
            inPipe.fileHandleForWriting.write(input)
            try inPipe.fileHandleForWriting.close()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.wait(), as: UTF8.self),
                      signal: process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil)
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class StderrReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()   // written by the thread before `done` is signalled

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    /// Waits for the end of the pipe; returns what was read.
    func wait() -> Data {
        done.wait()
        return data
    }
}
