import Foundation

/// Runs the built `pth` binary and captures what it prints.
struct PthCommand {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> String { packageRoot.appendingPathComponent("fixtures/\(name)").path }

    /// The `pth` executable next to the test bundle (SwiftPM builds it because the tests depend on it).
    static let executable: URL = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("pth")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/pth")
    }()

    static func run(_ arguments: String...) throws -> Result {
        try run(arguments)
    }

    /// Whether the tests run under AddressSanitizer (tools/sanitizers.sh sets
    /// `ASAN_OPTIONS`): its shadow memory reserves terabytes of address space,
    /// so no address-space limit can be set there.
    static let underAddressSanitizer = ProcessInfo.processInfo.environment["ASAN_OPTIONS"] != nil

    /// Runs the built `pth` under resource limits (`ulimit -v` and `-t` of
    /// a shell that then becomes `pth`): going past them kills it with a signal.
    /// Under AddressSanitizer only the CPU-time limit applies.
    static func run(_ arguments: [String], addressSpaceMiB: Int, cpuSeconds: Int) throws -> Result {
        let memory = underAddressSanitizer ? "" : "ulimit -v \(addressSpaceMiB * 1024) && "
        return try run(["-c", memory + "ulimit -t \(cpuSeconds) && exec \"$0\" \"$@\"", executable.path] + arguments,
                       executable: URL(fileURLWithPath: "/bin/sh"))
    }

    /// Runs the built `pth` with `arguments`, and `environment` added to this process's.
    static func run(_ arguments: [String], environment: [String: String] = [:], executable: URL = executable) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting, so a large output cannot fill the pipe and block.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}
