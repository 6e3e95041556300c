#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuzzHarness

#if FUZZING
// Built by tools/fuzz.sh with libFuzzer (`--sanitize=fuzzer`), which brings
// `main`: the target comes from PTH_FUZZ_TARGET (zip, pickle or checkpoint).
private let target: FuzzTarget = {
    let name = getenv("PTH_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("PTH_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue)), not '\(name)'")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    do {
        _ = try target.run(input)
    } catch {
        // A finding: libFuzzer saves the input that got here.
        fatalError("\(error)")
    }
    return 0
}
#else
/// Replays inputs without libFuzzer: `pth-fuzz TARGET FILE...` prints how
/// each ended (what a crash's input does, under a debugger or sanitizer).
@main
struct PthFuzz {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            print("usage: pth-fuzz {\(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|"))} FILE...")
            exit(2)
        }
        var untyped = 0
        for path in arguments.dropFirst() {
            guard let handle = fopen(path, "rb") else { print("\(path): cannot open"); untyped += 1; continue }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&chunk, 1, chunk.count, handle)
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            fclose(handle)
            do {
                switch try target.run(bytes) {
                case .read: print("\(path): read")
                case .refused(let error): print("\(path): refused: \(error)")
                }
            } catch {
                print("\(path): \(error)")
                untyped += 1
            }
        }
        exit(untyped == 0 ? 0 : 1)
    }
}
#endif
