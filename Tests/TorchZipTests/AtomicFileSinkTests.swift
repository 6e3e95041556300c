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

    /// Megabytes of deterministic bytes, made quickly: ``pattern(_:seed:)``'s
    /// first 64 KiB, repeated.
    static func megabytes(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
        let block = pattern(1 << 16, seed: seed)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count { bytes.append(contentsOf: block.prefix(count - bytes.count)) }
        return bytes
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

    @Test("writeback starts behind the writes, in order, on whole MiB, 16 MiB or more each, and ends before the file closes")
    func writeBehind() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = CallLog()
        var calls = FileSystemCalls.system
        let realClose = calls.close
        calls.startWriteback = { descriptor, offset, count in
            // A slow start: the close must still wait for it.
            usleep(20_000)
            log.append("writeback \(offset) \(count)")
            return 0
        }
        calls.close = { descriptor in
            log.append("close")
            return realClose(descriptor)
        }
        let sink = try AtomicFileSink(destination: directory + "/out", calls: calls)
        let mib = 1 << 20
        let chunks = Array(repeating: 3 * mib, count: 13) + [100]
        var expected: [UInt8] = []
        for (index, count) in chunks.enumerated() {
            let bytes = Self.megabytes(count, seed: UInt8(index))
            expected += bytes
            try bytes.withUnsafeBytes { try sink.write($0) }
        }
        try sink.commit()
        // The first is due at 18 MiB (the first multiple of 3 MiB past 16); the next once the
        // first is done and 16 MiB more are in (36 or 39 MiB, or none if the first is still running).
        let starts = log.all.filter { $0.hasPrefix("writeback") }.map { $0.split(separator: " ").dropFirst().map { Int($0)! } }
        #expect((1...2).contains(starts.count))
        #expect(starts.first == [0, 18 * mib])
        var next = 0
        for start in starts {
            #expect(start[0] == next && start[1] >= 16 * mib && (start[0] + start[1]) % mib == 0 && start[0] + start[1] <= 39 * mib)
            next = start[0] + start[1]
        }
        let firstClose = try #require(log.all.firstIndex(of: "close"))
        #expect(log.all.lastIndex { $0.hasPrefix("writeback") }.map { $0 < firstClose } == true)
        #expect(Self.contents(directory + "/out") == expected)
    }

    @Test("one writeback start at a time: while one runs none is queued, and the next covers all written since")
    func oneWritebackAtATime() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = CallLog()
        let (gate, returned) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        var calls = FileSystemCalls.system
        calls.startWriteback = { _, offset, count in
            log.append("writeback \(offset) \(count)")
            gate.wait()
            returned.signal()
            return 0
        }
        let sink = try AtomicFileSink(destination: directory + "/out", calls: calls)
        let mib = 1 << 20
        let chunk = Self.megabytes(16 * mib)
        for _ in 0 ..< 4 {
            try chunk.withUnsafeBytes { try sink.write($0) }
        }
        // The first start (0, 16 MiB) is held at the gate: the three due after it were not queued.
        gate.signal()
        returned.wait()
        usleep(10_000)  // the queue clears the flag just after the call returns
        try Self.megabytes(mib).withUnsafeBytes { try sink.write($0) }
        gate.signal()
        try sink.commit()
        #expect(log.all == ["writeback 0 \(16 * mib)", "writeback \(16 * mib) \(49 * mib)"])
    }

    @Test("small files start no writeback; writes after the last start are left to the kernel")
    func noWriteBehindForSmallFiles() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = CallLog()
        var calls = FileSystemCalls.system
        calls.startWriteback = { _, offset, count in
            log.append("writeback \(offset) \(count)")
            return 0
        }
        let sink = try AtomicFileSink(destination: directory + "/out", calls: calls)
        try Self.megabytes((16 << 20) - 1).withUnsafeBytes { try sink.write($0) }
        try sink.commit()
        #expect(log.all.isEmpty)
    }

    @Test("a writeback start that fails changes nothing: it is only advice, and the file is whole")
    func writeBehindFails() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var calls = FileSystemCalls.system
        calls.startWriteback = { _, _, _ in -EIO }
        let sink = try AtomicFileSink(destination: destination, calls: calls)
        let bytes = Self.megabytes(20 << 20, seed: 9)
        try bytes.withUnsafeBytes { try sink.write($0) }
        try sink.commit()
        #expect(Self.contents(destination) == bytes)
    }

    #if os(Linux)
    @Test("the replaced file is held across the rename and freed after it, on another thread")
    func replacedFileFreedAfterRename() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var status = stat()
        try #require(stat(destination, &status) == 0)
        let oldInode = status.st_ino
        let log = CallLog()
        final class Committer: @unchecked Sendable { var thread: pthread_t? }
        let committer = Committer()
        var calls = FileSystemCalls.system
        // Every size held, so that a small file shows it.
        let realHold = FileSystemCalls.holdLargeFile(minimumBytes: 0)
        let (realRename, realClose) = (calls.rename, calls.close)
        calls.holdInode = { path in
            let handle = realHold(path)
            var held = stat()
            // The handle is on the old file itself (its inode), not a copy of its name.
            log.append(fstat(handle, &held) == 0 && held.st_ino == oldInode ? "hold old \(handle)" : "hold other")
            return handle
        }
        calls.rename = { from, to in
            log.append("rename")
            return realRename(from, to)
        }
        calls.close = { descriptor in
            let here = committer.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? true
            log.append("close \(descriptor) \(here ? "here" : "elsewhere")")
            return realClose(descriptor)
        }
        let sink = try AtomicFileSink(destination: destination, calls: calls)
        try [UInt8](repeating: 3, count: 10).withUnsafeBytes { try sink.write($0) }
        committer.thread = pthread_self()
        try sink.commit()
        #expect(Self.contents(destination) == [UInt8](repeating: 3, count: 10))
        let hold = try #require(log.all.first { $0.hasPrefix("hold") })
        #expect(hold.hasPrefix("hold old "))
        let handle = hold.split(separator: " ").last.map(String.init) ?? ""
        // Closed on a background queue: wait for it, a few seconds at most. (The temporary file's
        // descriptor, closed before the rename, may have had the same number.)
        func released() -> Bool {
            let entries = log.all
            guard let renamed = entries.firstIndex(of: "rename"), let held = entries.firstIndex(of: hold) else { return false }
            return held < renamed && entries[(renamed + 1)...].contains("close \(handle) elsewhere")
        }
        let deadline = Date().addingTimeInterval(5)
        while !released(), Date() < deadline { usleep(1000) }
        #expect(released(), "\(log.all)")
    }

    @Test("what is held: nothing for a new destination or a small file; a failed rename closes the held handle at once")
    func holdWithoutRename() throws {
        let (directory, destination) = try Self.directoryWithPreviousFile()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The system's rule: a file under 64 MiB is not held (ECANCELED), a missing one cannot be (ENOENT).
        let system = try #require(FileSystemCalls.system.holdInode)
        #expect(system(destination) == -ECANCELED)
        #expect(system(directory + "/missing.pth") == -ENOENT)
        #expect(FileSystemCalls.holdLargeFile(minimumBytes: 0)(directory) == -ECANCELED)  // not a regular file

        let log = CallLog()
        var calls = FileSystemCalls.system
        let (realHold, realClose) = (FileSystemCalls.holdLargeFile(minimumBytes: 0), calls.close)
        calls.holdInode = { path in
            let handle = realHold(path)
            log.append("hold \(handle)")
            return handle
        }
        calls.rename = { _, _ in -EACCES }
        calls.close = { descriptor in
            log.append("close \(descriptor)")
            return realClose(descriptor)
        }
        let sink = try AtomicFileSink(destination: destination, calls: calls)
        #expect(zipError { try sink.commit() }?.code == .io)
        let entries = log.all
        let holdIndex = try #require(entries.lastIndex { $0.hasPrefix("hold") })
        let handle = try #require(Int32(entries[holdIndex].split(separator: " ")[1]))
        #expect(handle >= 0)
        #expect(entries[(holdIndex + 1)...].contains("close \(handle)"))
        #expect(Self.contents(destination) == Array("previous".utf8))
        #expect(Self.listing(directory) == ["model.pth"])
    }
    #endif
}
