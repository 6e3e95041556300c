// The Swift side of tools/benchmark.py: times one case in-process, several
// runs, and prints one JSON object with the times (seconds), the bytes the
// case processed, and the process's peak resident memory.
//
// usage: pth-bench CASE FILE [RUNS]   (or pth-bench save OUT TENSORS ELEMENTS [RUNS])
//
// Cases:
//   open        Checkpoint(path:) and every tensor's metadata (dtype, shape,
//               stride, storage offset); no tensor data is read. Also reports
//               how much of the file's mapping is resident in this process
//               (`mapped_rss_bytes`, from /proc/self/smaps), to show that.
//   read        open, then read every byte of every storage (a 64-bit XOR
//               fold, so the reads cannot be optimised away).
//   copy        open, then copy every tensor's elements into a Swift array
//               (`[Float]` for float32, `scalars(as:)`).
//   st-open     SafetensorsFile(path:) and every tensor's metadata.
//   st-read     st-open, then read every tensor's bytes (XOR fold).
//   pickle      decode FILE as one pickle with the pickle machine alone.
//   pickle-walk the same, then read every value (lists and dicts of plain
//               data fill themselves from the decoded pickle when read).
//   inspect     what `pth inspect` does: open and compute the tree's totals.
//   save        build TENSORS float32 tensors of ELEMENTS elements each in
//               Swift memory, then Checkpoint.save them as a state dict to OUT.
//   rewrite     open FILE and write it back (Checkpoint.write, pth rewrite) to FILE.rewrite.pth.
//   resave      open FILE and Checkpoint.save its value to FILE.resave.pth.
//   dcp-convert FILE is a distributed checkpoint's directory: open it and write
//               what dcp_to_torch_save writes, to FILE.pth (what `pth convert
//               DIR out.pth` does), once per run.
import Foundation
import TorchCheckpoint

#if canImport(Glibc)
import Glibc
#endif

/// A /proc file's text (their size reads as 0, so they are read to the end).
func procText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// This process's peak resident memory: VmHWM (Linux), which starts afresh
/// at exec, where ru_maxrss would include the parent's; ru_maxrss elsewhere.
func peakRSS() -> Int {
    if let status = procText("/proc/self/status"),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
        return kib * 1024
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
}

/// Resident bytes of this process's mappings of `path` (Linux /proc/self/smaps).
func mappedRSS(of path: String) -> Int? {
    guard let smaps = procText("/proc/self/smaps") else { return nil }
    let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    var total = 0
    var inFile = false
    for line in smaps.split(separator: "\n") {
        if let first = line.first, first.isHexDigit, line.contains("-") && line.split(separator: " ").count >= 5 {
            inFile = line.hasSuffix(real)
        } else if inFile, line.hasPrefix("Rss:") {
            total += (Int(line.split(separator: " ")[1]) ?? 0) * 1024
        }
    }
    return total
}

/// Reads every byte: a 64-bit XOR fold the optimiser cannot drop.
func xorFold(_ raw: RawBytes) -> UInt64 {
    raw.withUnsafeBytes { b in
        let words = b.count / 8
        var x: UInt64 = 0
        if let base = b.baseAddress, words > 0 {
            // Mapped storages start 64-byte aligned in files torch wrote; loadUnaligned keeps any other file safe.
            for i in 0..<words { x ^= base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
        }
        for i in (words * 8)..<b.count { x ^= UInt64(b[i]) }
        return x
    }
}

struct Result: Encodable {
    var times: [Double] = []
    var bytes = 0
    var tensors = 0
    var peak_rss_bytes = 0
    var mapped_rss_bytes: Int?
    /// A warm-up run's time, kept out of `times` (the save case).
    var first: Double?
    var check: String = ""
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("pth-bench: \(message)\n".utf8))
    exit(2)
}

let args = CommandLine.arguments
guard args.count >= 3 else { fail("usage: pth-bench open|read|copy|pickle|inspect FILE [RUNS] | save OUT TENSORS ELEMENTS [RUNS]") }
let kind = args[1]
let path = args[2]
var result = Result()

do {
    switch kind {
    case "open", "read", "copy", "inspect":
        let runs = args.count > 3 ? Int(args[3]) ?? 5 : 5
        for run in 0..<runs {
            let start = now()
            let checkpoint = try Checkpoint(path: path)
            var tensors = 0
            var metadata = 0
            var fold: UInt64 = 0
            var bytes = 0
            switch kind {
            case "open":
                for (_, t) in checkpoint.tensors {
                    tensors += 1
                    metadata &+= t.shape.count &+ t.stride.count &+ t.storageOffset &+ t.dtype.itemSize
                }
            case "inspect":
                let text = Inspection(checkpoint).render()
                tensors = checkpoint.tensors.count
                bytes = text.utf8.count
            case "read":
                for storage in checkpoint.storages {
                    let raw = try storage.bytes()
                    bytes += raw.count
                    fold ^= xorFold(raw)
                }
                tensors = checkpoint.tensors.count
            case "copy":
                for (_, t) in checkpoint.tensors {
                    tensors += 1
                    if t.dtype == .float32 {
                        let values: [Float] = try t.scalars()
                        bytes += values.count * 4
                        fold &+= UInt64(values.count)
                    } else {
                        let values = try t.contiguousBytes()
                        bytes += values.count
                    }
                }
            default: break
            }
            // Stop the clock before the checkpoint is freed (the Python side
            // deletes its object after timing too).
            withExtendedLifetime(checkpoint) {
                result.times.append(now() - start)
                if run == runs - 1, kind == "open" { result.mapped_rss_bytes = mappedRSS(of: path) }
            }
            result.tensors = tensors
            result.bytes = bytes
            result.check = "\(metadata ^ Int(truncatingIfNeeded: fold))"
        }
    case "st-open", "st-read":
        let runs = args.count > 3 ? Int(args[3]) ?? 5 : 5
        for _ in 0..<runs {
            let start = now()
            let file = try SafetensorsFile(path: path)
            var metadata = 0
            var fold: UInt64 = 0
            var bytes = 0
            for (_, t) in file.tensors {
                metadata &+= t.shape.count &+ t.dtype.itemSize
                if kind == "st-read" {
                    let raw = try t.storageBytes()
                    bytes += raw.count
                    fold ^= xorFold(raw)
                }
            }
            result.times.append(now() - start)
            result.tensors = file.tensors.count
            result.bytes = bytes
            result.check = "\(metadata ^ Int(truncatingIfNeeded: fold))"
        }
    case "pickle", "pickle-walk":
        let runs = args.count > 3 ? Int(args[3]) ?? 5 : 5
        // Every value read: lists and dicts decoded from plain data fill themselves when read.
        func walk(_ value: Value) -> Int {
            var count = 0
            var stack = [value]
            while let v = stack.popLast() {
                count += 1
                switch v {
                case .list(let l): stack.append(contentsOf: l.items)
                case .tuple(let t): stack.append(contentsOf: t.items)
                case .dict(let d):
                    stack.append(contentsOf: d.keys)
                    stack.append(contentsOf: d.values)
                case .string(let s): count &+= s.utf8.count & 1
                default: break
                }
            }
            return count
        }
        // One copy of the file in memory, as the Python side holds one.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for _ in 0..<runs {
            let start = now()
            let value = try bytes.withUnsafeBytes { try Unpickler().load($0) }
            let values = kind == "pickle-walk" ? walk(value) : 0
            withExtendedLifetime(value) { result.times.append(now() - start) }
            result.check = "\(value.typeName) \(values)"
            result.bytes = bytes.count
        }
    case "save":
        guard args.count >= 5, let count = Int(args[3]), let elements = Int(args[4]) else { fail("save OUT TENSORS ELEMENTS [RUNS]") }
        let runs = args.count > 5 ? Int(args[5]) ?? 5 : 5
        // Built once, like the Python side's tensors: the case times the save.
        let dict = PyDict(kind: .orderedDict)
        for i in 0..<count {
            let values = [Float](unsafeUninitializedCapacity: elements) { buffer, n in
                for j in 0..<elements { buffer[j] = Float(i &+ j) }
                n = elements
            }
            dict["layer\(i).weight"] = .tensor(try Tensor(scalars: values, shape: [elements]))
        }
        // One warm-up save first, timed but kept out of the median, as on the Python side.
        for run in 0...runs {
            let start = now()
            try Checkpoint.save(.dict(dict), to: path)
            if run == 0 { result.first = now() - start } else { result.times.append(now() - start) }
        }
        result.tensors = count
        result.bytes = count * elements * 4
    case "rewrite", "resave":
        // rewrite: Checkpoint.write(to:), the file written back as it is (pth rewrite);
        // resave: Checkpoint.save of what was read (a .pth converted to a new .pth).
        // Stored records are copied by the kernel in both.
        let runs = args.count > 3 ? Int(args[3]) ?? 5 : 5
        let out = path + ".\(kind).pth"
        for _ in 0..<runs {
            let start = now()
            let checkpoint = try Checkpoint(path: path)
            if kind == "rewrite" { try checkpoint.write(to: out) } else { try Checkpoint.save(checkpoint.root, to: out) }
            result.times.append(now() - start)
            result.tensors = checkpoint.storages.count
            result.bytes = checkpoint.storages.reduce(0) { $0 + $1.byteCount }
        }
        try? FileManager.default.removeItem(atPath: out)
    case "dcp-convert":
        let runs = args.count > 3 ? Int(args[3]) ?? 5 : 5
        let out = path + ".pth"
        for _ in 0..<runs {
            let start = now()
            let checkpoint = try Checkpoint(path: path)
            try Checkpoint.save(checkpoint.root, to: out)
            result.times.append(now() - start)
            result.tensors = checkpoint.storages.count
            result.bytes = checkpoint.storages.reduce(0) { $0 + $1.byteCount }
        }
    default:
        fail("unknown case \(kind)")
    }
} catch {
    fail("\(kind) \(path): \(error)")
}
result.peak_rss_bytes = peakRSS()
let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
print(String(decoding: try encoder.encode(result), as: UTF8.self))
