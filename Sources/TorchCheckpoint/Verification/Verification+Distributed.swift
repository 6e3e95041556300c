import TorchPickle
import TorchZip

extension Verification {
    /// Verifies a distributed checkpoint's directory: `.metadata` decodes and
    /// describes chunks that tile each tensor, every chunk and object is where
    /// it says, each `torch.save` archive inside is whole (CRC-32, libzip), and
    /// every pickle (the metadata's and each archive's) is scanned.
    ///
    /// `torch.load` does not read a directory; `dcp.load` reads `.metadata`
    /// with `pickle.load` and each object with `torch.load(weights_only=False)`,
    /// so the report's ``VerificationReport/refusedFormat`` says so, and its
    /// globals are what those calls would import.
    static func verifyDistributed(directory: String, progress: ProgressHandler?) -> VerificationReport {
        var report = VerificationReport()
        report.refusedFormat = """
            a distributed checkpoint (a directory): torch.load does not read it; dcp.load reads its .metadata with \
            pickle.load and its objects with torch.load(weights_only=False), no allowlist applied
            """
        if let metadata = try? MappedFile(path: directory + "/.metadata") {
            report.pickles += PickleScan.pickles(in: metadata.bytes, torchReadsRecordAt: nil).map {
                $0.relocated(to: ".metadata", readByTorch: true)
            }
        }
        do {
            let dcp = try DistributedCheckpoint(directory: directory)
            var places: [(key: String, location: DistributedCheckpointMetadata.Location, expected: Int?)] = []
            for item in dcp.metadata.items {
                switch item.kind {
                case .tensor(let t):
                    places += t.chunks.compactMap { c in
                        dcp.metadata.location(of: c, in: item.key).map { (item.key, $0, t.dtype.byteCount(forElements: c.elementCount)) }
                    }
                    // Each chunk's archive must hold the chunk: its dtype and shape, its storage's bytes.
                    for chunk in t.chunks where chunk.elementCount > 0 {
                        do { _ = try dcp.chunkTensor(key: item.key, chunk, dtype: t.dtype) } catch {
                            report.problems.append("\(error)")
                        }
                    }
                case .object:
                    if let l = dcp.metadata.location(ofObject: item.key) { places.append((item.key, l, nil)) }
                }
            }
            let total = places.reduce(Int64(0)) { sum, place in
                let (s, overflow) = sum.addingReportingOverflow(Int64(place.location.length))
                return overflow ? .max : s
            }
            let meter = ProgressMeter(total: total, handler: progress)
            for (key, location, expected) in places {
                defer { meter.advance(by: location.length) }
                let place = "\(location.relativePath) bytes \(location.offset)..<\(location.offset &+ location.length) (key '\(key)')"
                let bytes: MappedFile
                do { bytes = try dcp.stream(location, key: key, expectedBytes: expected) } catch {
                    report.problems.append("\(error)")
                    continue
                }
                let inner = verify(file: bytes)
                report.problems += inner.problems.map { "\(place): \($0)" }
                report.warnings += inner.warnings.map { "\(place): \($0)" }
                report.pickles += inner.pickles.map { $0.relocated(to: "\(place), \($0.location)", readByTorch: $0.isReadByTorch) }
            }
        } catch {
            report.problems.append("\(error)")
        }
        report.summarizePickles()
        return report
    }
}

extension ScannedPickle {
    /// The same findings, at another location.
    func relocated(to location: String, readByTorch: Bool) -> ScannedPickle {
        ScannedPickle(location: location, offset: offset, isReadByTorch: readByTorch, globals: globals,
                      unsafeGlobals: unsafeGlobals, refusedOpcodes: refusedOpcodes, error: error)
    }
}

extension Verification {
    /// Verifies a Hugging Face sharded set (its directory or index): the index
    /// parses, every shard it names is there and whole (each verified as a file
    /// of its own), and each shard holds exactly the tensors the index maps to it.
    /// The verdict is the shards': `transformers` loads each `.bin` shard with
    /// `torch.load(weights_only=True)`, and safetensors shards hold no pickle.
    static func verifySharded(path: String, progress: ProgressHandler?) -> VerificationReport {
        var report = VerificationReport()
        let set: ShardedCheckpoint
        do { set = try ShardedCheckpoint(path: path) } catch {
            report.problems.append("\(error)")
            report.refusedFormat = "the sharded set's index cannot be read: \(error)"
            return report
        }
        for shard in set.shards {
            let shardPath = set.directory + "/" + shard
            // A shard is a regular file: opened as one, never as a directory or an index again.
            let file: MappedFile
            do { file = try MappedFile(path: shardPath) } catch {
                report.problems.append("\(set.indexPath): \(shard): the index names this shard, which cannot be opened: \(error.message)")
                continue
            }
            defer { file.closeDescriptor() }
            let inner = verify(file: file)
            report.problems += inner.problems.map { "\(shard): \($0)" }
            report.warnings += inner.warnings.map { "\(shard): \($0)" }
            report.pickles += inner.pickles.map { $0.relocated(to: "\(shard), \($0.location)", readByTorch: $0.isReadByTorch) }
            if let refused = inner.refusedFormat, report.refusedFormat == nil { report.refusedFormat = "\(shard): \(refused)" }
            if inner.isIntact {
                do { _ = try set.open(shard) } catch { report.problems.append("\(error)") }
            }
        }
        report.summarizePickles()
        return report
    }
}
