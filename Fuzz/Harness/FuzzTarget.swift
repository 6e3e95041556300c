import Foundation
import TorchCheckpoint
import TorchPickle

/// What a fuzz target does with one input, shared by the libFuzzer driver
/// (`pth-fuzz`, built by `tools/fuzz.sh`) and the test suite, which replays
/// every saved input in `fixtures/fuzz/<target>/`.
///
/// The contract is the library's: an input is read, or refused with one of the
/// library's typed errors. A crash, a hang, unbounded memory or any other
/// error is a finding.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The zip container: directory, local headers, every record's bytes, CRC-32.
    case zip
    /// The pickle machine alone, then the encoder on what it built, and the disassembler.
    case pickle
    /// A whole file as `pth inspect` and `pth verify` read it: format
    /// detection, every format's reader, every tensor's bytes hashed, records
    /// checked; then written back as `pth rewrite` does, and read again to
    /// the same listing; and the safetensors reader.
    case checkpoint
    /// `pth verify` on a whole file: the decode, every CRC, libzip's opinion,
    /// and the scan for every pickle anywhere in it (lenient zip records,
    /// tar members, pickles back to back, .npy object arrays); then the report.
    case verify

    /// How the input ended.
    public enum Outcome: Sendable {
        /// Read to the end.
        case read
        /// Refused with a typed error.
        case refused(any Error)
    }

    /// An error that is none of the library's typed errors.
    public struct UntypedError: Error, CustomStringConvertible {
        /// The error as thrown.
        public let error: any Error
        public var description: String { "untyped error \(type(of: error)): \(error)" }
    }

    /// Runs the target on one input.
    ///
    /// - Throws: ``UntypedError`` when the input was refused with an error
    ///   that is not one of the library's own.
    public func run(_ input: UnsafeRawBufferPointer) throws(UntypedError) -> Outcome {
        do {
            switch self {
            case .zip: try Self.zip(input)
            case .pickle: try Self.pickle(input)
            case .checkpoint: try Self.checkpoint(input)
            case .verify:
                let report = Verification.verify(file: try MappedFile(copying: input, path: "fuzz.pth"))
                _ = report.text(for: "fuzz.pth") + report.json
            }
            return .read
        } catch let e as ZipError {
            return .refused(e)
        } catch let e as PickleError {
            return .refused(e)
        } catch let e as CheckpointError {
            return .refused(e)
        } catch let e as SafetensorsError {
            return .refused(e)
        } catch let e as TorchScriptError {
            return .refused(e)
        } catch let e as TensorError {
            // A tensor's data that cannot be had (a storage read when listed).
            return .refused(e)
        } catch {
            throw UntypedError(error: error)
        }
    }

    /// Runs the target on one input.
    public func run(_ input: [UInt8]) throws(UntypedError) -> Outcome {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out as a value.
        try input.withUnsafeBytes { raw in Result { () throws(UntypedError) in try run(raw) } }.get()
    }

    static func zip(_ input: UnsafeRawBufferPointer) throws {
        let archive = try ZipArchive(file: try MappedFile(copying: input, path: "fuzz.zip"))
        for entry in archive.entries {
            let bytes = try archive.bytes(of: entry)
            _ = bytes.withUnsafeBytes { raw in raw.reduce(0, &+) }
            try? archive.verifyCRC(of: entry)
        }
        _ = archive.prefix
    }

    static func pickle(_ input: UnsafeRawBufferPointer) throws {
        _ = Disassembler.disassemble(input, memoReferences: true)
        let decoded = try Unpickler().decode(input)
        _ = Listing.walk(decoded.value).count
        let version = min(max(decoded.protocolVersion, 2), 5)
        let encoded = try PickleEncoder(protocolVersion: version, provenance: decoded.provenance).encode(decoded.value)
        // What the encoder writes, the machine reads.
        _ = try encoded.withUnsafeBytes { raw throws(PickleError) in try Unpickler().decode(raw) }
        // What the fast path reads (plain data, and the globals and calls of torch.save's
        // state dicts), the full machine reads the same.
        let plain = PlainDecoder(input: input, position: 0, options: .init())
        guard let fast = plain.run() else { return }
        var options = UnpicklerOptions()
        options.usesPlainDecoder = false
        let full: Unpickler.Decoded
        do {
            full = try Unpickler(options: options).decode(input)
        } catch {
            fatalError("the fast path read a pickle the full machine refuses: \(error)")
        }
        let fastWalk = Listing.walk(fast.value).map { "\($0)" }, fullWalk = Listing.walk(full.value).map { "\($0)" }
        if fast.end != full.end || fast.protocolVersion != full.protocolVersion || fastWalk != fullWalk
            || fast.globals != full.globals
            || (try? PickleEncoder(protocolVersion: version, provenance: full.provenance).encode(full.value)) != encoded {
            fatalError("the fast path and the full machine read this pickle differently")
        }
    }

    static func checkpoint(_ input: UnsafeRawBufferPointer) throws {
        let file = try MappedFile(copying: input, path: "fuzz.pth")
        do {
            let checkpoint = try Checkpoint(file: file)
            // Views larger than their storage are hashed up to 16 MiB in all: within the
            // fuzzer's per-input time, and still past every small view a mutation makes.
            let listing = Listing.json(try Listing.entries(of: checkpoint, expandedViewLimit: Self.expandedViewLimit))
            // What the fast path read (a state dict's tensors, storages and
            // OrderedDicts among them), the full machine reads the same.
            var fullOptions = LoadOptions()
            fullOptions.unpickler.usesPlainDecoder = false
            let full: Checkpoint
            do {
                full = try Checkpoint(file: file, options: fullOptions)
            } catch {
                fatalError("the fast path read a checkpoint the full machine refuses: \(error)")
            }
            let fullListing = Listing.json(try Listing.entries(of: full, expandedViewLimit: Self.expandedViewLimit))
            if fullListing != listing || full.globals != checkpoint.globals || full.storages.map(\.key) != checkpoint.storages.map(\.key) {
                fatalError("the fast path and the full machine read this checkpoint differently:\n\(listing)\n---\n\(fullListing)")
            }
            _ = Inspection(checkpoint).render()
            try checkpoint.verifyRecords()
            // Written back, it reads as the same objects: what the writer
            // writes, the reader reads, whatever the input was.
            defer { try? FileManager.default.removeItem(atPath: writeBackPath) }
            do {
                try checkpoint.write(to: writeBackPath)
            } catch {
                return
            }
            let again = Listing.json(try Listing.entries(of: try Checkpoint(path: writeBackPath), expandedViewLimit: Self.expandedViewLimit))
            if again != listing {
                fatalError("written back, the checkpoint lists differently:\n\(listing)\n---\n\(again)")
            }
        } catch CheckpointError.unrecognizedFormat {
            let safetensors = try SafetensorsFile(file: file)
            _ = Inspection.render(safetensors: safetensors)
            for (_, tensor) in safetensors.tensors { _ = try Listing.record(tensor, expandedViewLimit: Self.expandedViewLimit) }
        }
    }

    /// The listing's budget for views larger than their storage, in the checkpoint target.
    static let expandedViewLimit = 16 << 20

    /// Where the checkpoint target writes what it read, one file per process.
    static let writeBackPath = FileManager.default.temporaryDirectory.appendingPathComponent("pth-fuzz-\(ProcessInfo.processInfo.processIdentifier).pth").path
}
