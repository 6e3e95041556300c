import Foundation
import Testing
import TorchZip

/// A thread-safe log of what injected system calls saw.
final class CallLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []
    private var counters: [String: Int] = [:]

    func append(_ entry: String) {
        lock.lock(); defer { lock.unlock() }
        entries.append(entry)
    }

    /// Increments and returns the count of `key`.
    func next(_ key: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        counters[key, default: 0] += 1
        return counters[key]!
    }

    var all: [String] {
        lock.lock(); defer { lock.unlock() }
        return entries
    }
}

@Suite("Atomic file sink: the destination is the old file or the whole new one")
struct AtomicFileSinkTests {
    /// A directory holding `model.pth` with `previous` in it.
    static func directoryWithPreviousFile(_ previous: [UInt8] = Array("previous".utf8)) throws -> (directory: String, destination: String) {
        let directory = try makeTemporaryDirectory()
        let destination = directory + "/model.pth"
        try Data(previous).write(to: URL(fileURLWithPath: destination))
        return (directory, destination)
    }

    static func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    static func listing(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// The system calls, with unnamed temporary files (Linux's O_TMPFILE) or,
    /// as on other systems, without.
    static func calls(unnamed: Bool) -> FileSystemCalls {
        var calls = FileSystemCalls.system
        if !unnamed { calls.openUnnamed = { _, _ in -EOPNOTSUPP } }
        return calls
    }

    #if os(Linux)
    static let modes = [true, false]
    #else
    static let modes = [false]
    #endif

    @Test("commit replaces the destination, leaves no temporary file, and gives a normal new file's mode",
          arguments: modes)
    func commit(unnamed: Bool) throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sink = try AtomicFileSink(destination: destination, calls: Self.calls(unnamed: unnamed))
        #expect(sink.isUnnamed == unnamed)
        if unnamed {
            // Nothing in the directory but the old file until the commit.
            #expect(sink.temporaryPath == nil)
            #expect(Self.listing(directory) == ["model.pth"])
        } else {
            let temporary = try #require(sink.temporaryPath)
            #expect(temporary.hasPrefix(directory + "/.model.pth."))
            #expect(Self.listing(directory).count == 2)
        }
        try [UInt8](repeating: 7, count: 100).withUnsafeBytes { try sink.write($0) }
        try [UInt8](repeating: 8, count: 1 << 20).withUnsafeBytes { try sink.write($0) }
        #expect(sink.position == 100 + (1 << 20))
        #expect(Self.contents(destination) == Array("previous".utf8))
        try sink.commit()
        #expect(sink.temporaryPath == nil)
        #expect(Self.contents(destination) == [UInt8](repeating: 7, count: 100) + [UInt8](repeating: 8, count: 1 << 20))
        #expect(Self.listing(directory) == ["model.pth"])

        // Same mode as a file created the usual way, with the process's umask.
        let reference = directory + "/reference"
        #expect(FileManager.default.createFile(atPath: reference, contents: nil))
        let mode = try FileManager.default.attributesOfItem(atPath: destination)[.posixPermissions] as? Int
        let referenceMode = try FileManager.default.attributesOfItem(atPath: reference)[.posixPermissions] as? Int
        #expect(mode != nil && mode == referenceMode)
        #expect(zipError { try [UInt8]([1]).withUnsafeBytes { try sink.write($0) } }?.code == .io)
    }

    @Test("abandon, or dropping the sink without commit, removes the temporary file and keeps the old one",
          arguments: modes)
    func abandon(unnamed: Bool) throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sink = try AtomicFileSink(destination: destination, calls: Self.calls(unnamed: unnamed))
        try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try sink.write($0) }
        sink.abandon()
        #expect(Self.listing(directory) == ["model.pth"])
        #expect(Self.contents(destination) == Array("previous".utf8))
        #expect(zipError { try sink.commit() }?.code == .io)

        do {
            let dropped = try AtomicFileSink(destination: destination, calls: Self.calls(unnamed: unnamed))
            try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try dropped.write($0) }
            #expect(Self.listing(directory).count == (unnamed ? 1 : 2))
        }
        #expect(Self.listing(directory) == ["model.pth"])
        #expect(Self.contents(destination) == Array("previous".utf8))
    }

    #if os(Linux)
    @Test("an unnamed file that cannot be given a name at commit (linkat fails) is dropped; the old file stays")
    func linkFails() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var calls = FileSystemCalls.system
        calls.link = { _, _ in -EIO }
        let sink = try AtomicFileSink(destination: destination, calls: calls)
        #expect(sink.isUnnamed)
        try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try sink.write($0) }
        let error = zipError { try sink.commit() }
        #expect(error?.code == .io)
        #expect(error?.message.contains("linkat") == true, "\(String(describing: error))")
        #expect(Self.listing(directory) == ["model.pth"])
        #expect(Self.contents(destination) == Array("previous".utf8))
    }

    @Test("a name taken at commit draws another")
    func linkNameTaken() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = CallLog()
        var calls = FileSystemCalls.system
        let realLink = calls.link
        calls.link = { descriptor, path in
            log.next("link") <= 2 ? -EEXIST : realLink(descriptor, path)
        }
        let sink = try AtomicFileSink(destination: destination, calls: calls)
        try [UInt8](repeating: 3, count: 10).withUnsafeBytes { try sink.write($0) }
        try sink.commit()
        #expect(log.next("link") == 4)
        #expect(Self.contents(destination) == [UInt8](repeating: 3, count: 10))
        #expect(Self.listing(directory) == ["model.pth"])
    }
    #endif

    @Test("commit syncs to the disk only when asked: .atomic (the default) renames, .durable fsyncs file and directory too")
    func durability() throws {
        for durability in [AtomicFileSink.Durability.atomic, .durable] {
            let (directory, destination) = try Self.directoryWithPreviousFile()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            final class Count: @unchecked Sendable { var syncs = 0 }
            let count = Count()
            var calls = FileSystemCalls.system
            let system = calls.fsync
            calls.fsync = { count.syncs += 1; return system($0) }
            let sink = try AtomicFileSink(destination: destination, durability: durability, calls: calls)
            try [UInt8](repeating: 7, count: 10).withUnsafeBytes { try sink.write($0) }
            try sink.commit()
            #expect(count.syncs == (durability == .durable ? 2 : 0))
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination)) == Data(repeating: 7, count: 10))
            #expect(Self.listing(directory) == [URL(fileURLWithPath: destination).lastPathComponent])
        }
    }

    @Test("with .durable, a failed fsync at commit removes the temporary file and keeps the old one")
    func fsyncFails() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var calls = FileSystemCalls.system
        calls.fsync = { _ in -EIO }
        let sink = try AtomicFileSink(destination: destination, durability: .durable, calls: calls)
        try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try sink.write($0) }
        let error = zipError { try sink.commit() }
        #expect(error?.code == .io)
        #expect(error?.message.contains("fsync") == true)
        #expect(Self.listing(directory) == ["model.pth"])
        #expect(Self.contents(destination) == Array("previous".utf8))
    }

    @Test("a failed rename (the destination is a directory) removes the temporary file and leaves the directory")
    func renameFails() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let destination = directory + "/model.pth"
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: false)
        try Data([1]).write(to: URL(fileURLWithPath: destination + "/inside"))
        let sink = try AtomicFileSink(destination: destination)
        try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try sink.write($0) }
        let error = zipError { try sink.commit() }
        #expect(error?.code == .io)
        #expect(error?.message.contains("rename") == true)
        #expect(Self.listing(directory) == ["model.pth"])
        #expect(Self.listing(destination) == ["inside"])
    }

    @Test("a destination in a missing directory cannot be opened")
    func missingDirectory() {
        let error = zipError { try AtomicFileSink(destination: "/nonexistent-\(UUID().uuidString)/model.pth") }
        #expect(error?.code == .cannotOpen)
    }

    @Test("small writes are gathered; large ones go straight to the file after a flush")
    func buffering() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = CallLog()
        var calls = FileSystemCalls.system
        let realWrite = calls.write
        calls.write = { descriptor, bytes in
            log.append("write \(bytes.count)")
            return realWrite(descriptor, bytes)
        }
        let sink = try AtomicFileSink(destination: directory + "/out", calls: calls, bufferCapacity: 16)
        for count in [5, 5, 5, 5, 20, 3] {
            try [UInt8](repeating: UInt8(count), count: count).withUnsafeBytes { try sink.write($0) }
        }
        #expect(log.all == ["write 15", "write 5", "write 20"])
        try sink.commit()
        #expect(log.all == ["write 15", "write 5", "write 20", "write 3"])
        let expected = [5, 5, 5, 5, 20, 3].flatMap { [UInt8](repeating: UInt8($0), count: $0) }
        #expect(Self.contents(directory + "/out") == expected)
    }

    @Test("interrupted and short writes are continued")
    func shortWrites() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = CallLog()
        var calls = FileSystemCalls.system
        let realWrite = calls.write
        calls.write = { descriptor, bytes in
            switch log.next("write") {
            case 1: return -Int(EINTR)
            default: return realWrite(descriptor, UnsafeRawBufferPointer(rebasing: bytes.prefix(7)))
            }
        }
        let sink = try AtomicFileSink(destination: directory + "/out", calls: calls, bufferCapacity: 4)
        let payload = (0 ..< 50).map { UInt8($0) }
        try payload.withUnsafeBytes { try sink.write($0) }
        try sink.commit()
        #expect(Self.contents(directory + "/out") == payload)
    }

    @Test("a writer whose sink fails mid-archive leaves the old file in place")
    func writerWithFailingFile() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = CallLog()
        var calls = FileSystemCalls.system
        let realWrite = calls.write
        calls.write = { descriptor, bytes in
            log.next("write") >= 3 ? -Int(EIO) : realWrite(descriptor, bytes)
        }
        let sink = try AtomicFileSink(destination: destination, calls: calls, bufferCapacity: 64)
        let writer = try PyTorchZipWriter(sink: sink, prefix: "model")
        var failure: ZipError?
        for index in 0 ..< 10 where failure == nil {
            failure = zipError { try writer.writeRecord("data/\(index)", bytes: [UInt8](repeating: 1, count: 100)) }
        }
        #expect(failure?.code == .io)
        #expect(zipError { try writer.finish() }?.code == .writerClosed)
        #expect(zipError { try sink.commit() }?.code == .io)
        #expect(Self.listing(directory) == ["model.pth"])
        #expect(Self.contents(destination) == Array("previous".utf8))
    }

    /// A file of 300 numbered bytes to copy from, open for reading.
    static func sourceFile(in directory: String) throws -> (bytes: [UInt8], descriptor: Int32) {
        let bytes = (0 ..< 300).map { UInt8($0 % 251) }
        let path = directory + "/source.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        return (bytes, descriptor)
    }

    @Test("bytes of another file are appended after the buffered ones, copied by the kernel (copy_file_range)")
    func appendCopying() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (source, descriptor) = try Self.sourceFile(in: directory)
        defer { close(descriptor) }
        let log = CallLog()
        var calls = FileSystemCalls.system
        let realCopy = try #require(calls.copyRange)
        calls.copyRange = { log.append("copy"); return realCopy($0, $1, $2, $3) }
        let sink = try AtomicFileSink(destination: destination, calls: calls)
        try [UInt8]([1, 2, 3]).withUnsafeBytes { try sink.write($0) }
        let copied = try sink.append(copying: 200, of: descriptor, at: 50)
        try [UInt8]([9]).withUnsafeBytes { try sink.write($0) }
        #expect(sink.position == 204)
        try sink.commit()
        #expect(log.all == ["copy"])
        #if os(Linux)
        #expect(copied == 200)
        #expect(Self.contents(destination) == [1, 2, 3] + Array(source[50 ..< 250]) + [9])
        #endif
    }

    @Test("what the kernel does not copy, the caller writes: the file is the same")
    func appendCopyingInPart() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (source, descriptor) = try Self.sourceFile(in: directory)
        defer { close(descriptor) }
        var calls = FileSystemCalls.system
        let realCopy = try #require(calls.copyRange)
        // The kernel copies 70 bytes, then cannot go on (as between file systems on an old kernel).
        calls.copyRange = { realCopy($0, $1, $2, min($3, 70)) }
        let sink = try AtomicFileSink(destination: destination, calls: calls)
        let copied = try sink.append(copying: 200, of: descriptor, at: 50)
        #if os(Linux)
        #expect(copied == 70)
        #endif
        try Array(source[(50 + copied) ..< 250]).withUnsafeBytes { try sink.write($0) }
        try sink.commit()
        #expect(Self.contents(destination) == Array(source[50 ..< 250]))
    }

    @Test("a copy that fails with an I/O error removes the temporary file and keeps the old one")
    func appendCopyingFails() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, descriptor) = try Self.sourceFile(in: directory)
        defer { close(descriptor) }
        var calls = FileSystemCalls.system
        calls.copyRange = { _, _, _, _ in (0, EIO) }
        let sink = try AtomicFileSink(destination: destination, calls: calls)
        #expect(zipError { _ = try sink.append(copying: 200, of: descriptor, at: 0) }?.code == .io)
        #expect(zipError { try sink.commit() }?.code == .io)
        #expect(Self.listing(directory) == ["model.pth", "source.bin"])
        #expect(Self.contents(destination) == Array("previous".utf8))
    }
}
