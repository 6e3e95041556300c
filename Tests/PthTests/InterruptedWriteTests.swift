import Foundation
import Testing
import TorchCheckpoint

/// A write killed midway leaves the previous file as it was.
@Suite("Interrupted writes")
struct InterruptedWriteTests {
    @Test("pth rewrite killed mid-write: the previous OUT is intact")
    func killed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A 512 MiB checkpoint, so the rewrite takes long enough to be interrupted.
        let big = dir.appendingPathComponent("big.pth").path
        let sd = PyDict(kind: .orderedDict)
        for i in 0..<8 {
            sd["layer\(i).weight"] = .tensor(try Tensor(bytes: [UInt8](repeating: UInt8(i), count: 64 << 20), dtype: .float32, shape: [16 << 20]))
        }
        try Checkpoint.save(.dict(sd), to: big)
        let out = dir.appendingPathComponent("out.pth").path
        let previous = Data("the previous file".utf8)
        try previous.write(to: URL(fileURLWithPath: out))

        let process = Process()
        process.executableURL = PthCommand.executable
        process.arguments = ["rewrite", big, out]
        try process.run()
        // Wait until the temporary file has data in it, then kill the process.
        let deadline = Date().addingTimeInterval(20)
        var sawPartial = false
        while Date() < deadline && process.isRunning {
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            if let tmp = names.first(where: { $0 != "big.pth" && $0 != "out.pth" }),
               let size = try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(tmp).path)[.size] as? Int,
               size > 1 << 20 {
                sawPartial = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(1000)
        }
        process.waitUntilExit()
        #expect(sawPartial, "the write finished before it could be interrupted")
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == previous)
    }

    /// Runs `pth` with a file-size limit (`ulimit -f`, in blocks of 512 bytes
    /// or more) and SIGXFSZ ignored: a write past the limit fails with EFBIG,
    /// as a write to a full disk fails with ENOSPC.
    static func runWithFileSizeLimit(blocks: Int, _ arguments: [String]) throws -> PthCommand.Result {
        try PthCommand.run(["-c", "trap '' XFSZ && ulimit -f \(blocks) && exec \"$0\" \"$@\"", PthCommand.executable.path] + arguments,
                           executable: URL(fileURLWithPath: "/bin/sh"))
    }

    @Test("a write that fails midway (a file-size limit, as a full disk) leaves the previous OUT intact and no temporary file",
          arguments: [["rewrite"], ["convert"], ["convert", "--format", "legacy"], ["convert", "--format", "safetensors"]])
    func fullDisk(_ command: [String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 4 MiB of tensors; the limit allows some 100 KiB.
        let source = dir.appendingPathComponent("source.pth").path
        let sd = PyDict(kind: .orderedDict)
        for i in 0..<4 {
            sd["layer\(i).weight"] = .tensor(try Tensor(bytes: [UInt8](repeating: UInt8(i + 1), count: 1 << 20), dtype: .float32, shape: [1 << 18]))
        }
        try Checkpoint.save(.dict(sd), to: source)
        let out = dir.appendingPathComponent("out").path
        let previous = Data("the previous file".utf8)
        try previous.write(to: URL(fileURLWithPath: out))

        let result = try Self.runWithFileSizeLimit(blocks: 200, command + [source, out])
        #expect(result.status == 1, "\(result.status): \(result.stderr)")
        #expect(result.stderr.contains("File too large"), "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == previous)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["out", "source.pth"])

        // Without the limit, the same command succeeds.
        let unlimited = try PthCommand.run(command + [source, out])
        #expect(unlimited.status == 0, "\(unlimited.stderr)")
    }
}
