import Foundation
import Testing
import TorchCheckpoint

/// A write killed midway leaves the previous file as it was.
@Suite("Interrupted writes")
struct InterruptedWriteTests {
    /// What OUT holds before each write. Computed: LeakSanitizer reports a
    /// heap-backed static `let` of the test bundle as leaked.
    static var previous: Data { Data("the previous file".utf8) }

    /// A scratch directory holding `source`, a state dict of `tensors`
    /// float32 tensors of `bytesEach` bytes, and `out`, holding ``previous``.
    static func scratch(source: String, tensors: Int, bytesEach: Int, out: String) throws -> EveryFixtureTests.Scratch {
        let scratch = try EveryFixtureTests.Scratch()
        let sd = PyDict(kind: .orderedDict)
        for i in 0..<tensors {
            sd["layer\(i).weight"] = .tensor(try Tensor(bytes: [UInt8](repeating: UInt8(i + 1), count: bytesEach),
                                                        dtype: .float32, shape: [bytesEach / 4]))
        }
        try Checkpoint.save(.dict(sd), to: scratch.path(source))
        try previous.write(to: URL(fileURLWithPath: scratch.path(out)))
        return scratch
    }

    @Test("pth rewrite killed mid-write: the previous OUT is intact, and (Linux) no temporary file is left")
    func killed() throws {
        // A 512 MiB checkpoint, so the rewrite takes long enough to be interrupted.
        let scratch = try Self.scratch(source: "big.pth", tensors: 8, bytesEach: 64 << 20, out: "out.pth")
        defer { withExtendedLifetime(scratch) {} }
        let dir = scratch.url
        let big = scratch.path("big.pth"), out = scratch.path("out.pth")

        let process = Process()
        process.executableURL = PthCommand.executable
        process.arguments = ["rewrite", big, out]
        try process.run()
        // Wait until the temporary file has data in it, then kill the process.
        let deadline = Date().addingTimeInterval(20)
        var sawPartial = false
        while Date() < deadline && process.isRunning {
            if let size = try Self.temporaryFileSize(of: process.processIdentifier, in: dir.path, besides: ["big.pth", "out.pth"]),
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
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Self.previous)
        #if os(Linux)
        // The temporary file had no name (O_TMPFILE): the kernel freed it with the process.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["big.pth", "out.pth"])
        #endif
    }

    /// The size of the file `pid` is writing in `directory`: a named
    /// temporary file there, or (Linux) an unnamed one the process has open,
    /// which /proc/PID/fd shows as `DIRECTORY/#INODE (deleted)`.
    static func temporaryFileSize(of pid: Int32, in directory: String, besides names: Set<String>) throws -> Int? {
        if let tmp = try FileManager.default.contentsOfDirectory(atPath: directory).first(where: { !names.contains($0) }) {
            return try? FileManager.default.attributesOfItem(atPath: directory + "/" + tmp)[.size] as? Int
        }
        #if os(Linux)
        let fds = "/proc/\(pid)/fd"
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + fd),
                  target.hasPrefix(directory + "/#") || (target.hasPrefix(directory + "/") && target.hasSuffix("(deleted)")) else { continue }
            var info = stat()
            if stat(fds + "/" + fd, &info) == 0 { return Int(info.st_size) }
        }
        #endif
        return nil
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
        // 4 MiB of tensors; the limit allows some 100 KiB.
        let scratch = try Self.scratch(source: "source.pth", tensors: 4, bytesEach: 1 << 20, out: "out")
        defer { withExtendedLifetime(scratch) {} }
        let dir = scratch.url
        let source = scratch.path("source.pth"), out = scratch.path("out")

        let result = try Self.runWithFileSizeLimit(blocks: 200, command + [source, out])
        #expect(result.status == 1, "\(result.status): \(result.stderr)")
        #expect(result.stderr.contains("File too large"), "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Self.previous)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["out", "source.pth"])

        // Without the limit, the same command succeeds, also synced to the disk.
        let unlimited = try PthCommand.run(command + [source, out])
        #expect(unlimited.status == 0, "\(unlimited.stderr)")
        let written = try Data(contentsOf: URL(fileURLWithPath: out))
        let durable = try PthCommand.run(command + ["--durable", source, out])
        #expect(durable.status == 0, "\(durable.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == written)
    }
}
