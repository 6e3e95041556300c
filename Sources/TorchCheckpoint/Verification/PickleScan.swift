import TorchPickle
import TorchZip

/// One pickle ``Verification`` found in a file, and the globals and opcodes
/// it names, walked without building anything.
public struct ScannedPickle: Sendable {
    /// Where the pickle is: `the file`, `record 'archive/data.pkl'`,
    /// `tar member 'pickle'`, `the .npy array's data`.
    public let location: String
    /// The byte offset where the pickle starts, within its location.
    public let offset: Int
    /// Whether `torch.load` reads this pickle: a zip checkpoint's `data.pkl`
    /// (the copy PyTorch's zip reader finds), the five pickles that begin a
    /// legacy file. Pickles elsewhere (another record, a pickle after the
    /// ones torch reads, a tar member) are listed too, since other tools
    /// (`pickle.load`, joblib, a careless script) may run them.
    public let isReadByTorch: Bool
    /// Every global it names (`GLOBAL`, `INST`, `STACK_GLOBAL`), as `module.name`, in order of first use.
    public let globals: [String]
    /// The globals outside `weights_only`'s allowlist.
    public let unsafeGlobals: [String]
    /// Opcodes `weights_only`'s unpickler refuses, with the byte of their first use.
    public let refusedOpcodes: [(name: String, offset: Int)]
    /// Why the walk stopped before `STOP`, when it did (a damaged pickle, or
    /// bytes that only begin like one).
    public let error: String?
}

/// Finds every pickle a file holds, as scanners such as picklescan and
/// `torch.serialization.get_unsafe_globals_in_checkpoint` do, and more: the
/// pickles at the start of the file back to back (a legacy file, a bare or
/// text pickle, a pickle in front of a zip), every record of a zip structure
/// anywhere in the file (read leniently: no prefix folder, false encryption
/// flags and central directory names that lie do not hide a record), every
/// member of a tar archive, and the object array of a `.npy` file.
enum PickleScan {
    /// How many pickles are walked back to back in one place at most.
    static let maxPicklesPerLocation = 1_000
    /// How much of a deflated record is inflated first to look for a pickle;
    /// while a pickle runs on past what was inflated, 16 times more, up to 1 GiB.
    static let firstInflation = 64 << 10
    static let maxInflation = 1 << 30
    /// How many bytes all the records of one file may inflate to, together.
    static let inflationBudget: Int = 4 << 30

    static func pickles(in bytes: UnsafeRawBufferPointer, torchReadsRecordAt: Int?) -> [ScannedPickle] {
        var found: [ScannedPickle] = []
        let kind = FormatSniffer.sniff(bytes)
        let startsAsZip = bytes.count >= 4 && bytes.loadUnaligned(as: UInt32.self) == UInt32(0x0403_4B50).littleEndian
        // The file's own pickles: torch.load reads the first five of a legacy file.
        if !startsAsZip, case .tar = kind {} else if !startsAsZip {
            let isLegacy = if case .legacyPickle = kind { true } else { false }
            found += walk(bytes, location: "the file", from: 0, backToBack: true, readByTorch: isLegacy ? 5 : 1,
                          reportFirst: true, pickleNamed: false)
        }
        // Every record of a zip structure (entries that share their data are scanned once).
        var inflated = 0
        var scanned = Set<[Int]>()
        for record in LooseZip.records(in: bytes)
        where scanned.insert([record.dataOffset, record.compressedSize, Int(record.method)]).inserted {
            var location = "record '\(record.name)'"
            if let local = record.localName { location += " (its local header says '\(local)')" }
            let named = [record.name, record.localName ?? ""].contains { name in
                let lower = name.lowercased()
                return lower.hasSuffix(".pkl") || lower.hasSuffix(".pickle") || lower.hasSuffix(".npy")
            }
            let readByTorch = startsAsZip && record.headerOffset == torchReadsRecordAt
            func unreadable(_ why: String) {
                if named || readByTorch {
                    found.append(ScannedPickle(location: location, offset: 0, isReadByTorch: readByTorch, globals: [],
                                               unsafeGlobals: [], refusedOpcodes: [], error: why))
                }
            }
            // Inflated a little at first: most records are tensor data, which no walk goes far into.
            var limit = record.method == 0 ? Int.max : firstInflation
            while true {
                guard inflated < inflationBudget else {
                    unreadable("not scanned: the records before it inflated to \(inflationBudget >> 30) GiB, the scanning budget")
                    break
                }
                do {
                    let more = try LooseZip.withContents(of: record, in: bytes, limit: min(limit, maxInflation), truncating: true) { data in
                        if record.method != 0 { inflated += data.count }
                        // A .npy record of objects (in a .npz) holds its pickle after its header.
                        let start = npyObjectData(data) ?? 0
                        // A pickle that runs on past what was inflated (not bytes that merely begin like
                        // one, which fail within a few opcodes): inflate more and walk again.
                        let cut = data.count == limit && record.method != 0 && limit < maxInflation
                        if cut, start < data.count {
                            let first = Verification.scan(data, at: start)
                            if first.ranOut, named || readByTorch || first.walked >= 16 { return true }
                        }
                        found += walk(data, location: location, from: start, backToBack: false, readByTorch: readByTorch ? 1 : 0,
                                      reportFirst: named, pickleNamed: named)
                        return false
                    }
                    guard more else { break }
                    limit *= 16
                } catch {
                    unreadable("cannot read the record: \(error)")
                    break
                }
            }
        }
        // Every member of a tar archive.
        if case .tar = kind, let tar = try? TarArchive(bytes) {
            for member in tar.members {
                let data = UnsafeRawBufferPointer(rebasing: bytes[member.dataOffset ..< member.dataOffset + member.size])
                found += walk(data, location: "tar member '\(member.name)'", from: 0, backToBack: true, readByTorch: 0,
                              reportFirst: member.name == "pickle" || member.name == "sys_info", pickleNamed: false)
            }
        }
        // A numpy .npy file of objects holds a pickle after its header.
        if let start = npyObjectData(bytes) {
            found += walk(bytes, location: "the .npy array's data", from: start, backToBack: false, readByTorch: 0,
                          reportFirst: true, pickleNamed: true)
        }
        return found
    }

    /// The pickles at `offset` of `bytes`: the first, and (`backToBack`)
    /// those that follow it while each ends with `STOP`. A pickle is reported
    /// when torch reads it, when it names a global, when it is complete and
    /// refuses an opcode, or when it is the first and begins like a pickle.
    static func walk(_ bytes: UnsafeRawBufferPointer, location: String, from start: Int, backToBack: Bool, readByTorch: Int,
                     reportFirst: Bool, pickleNamed: Bool) -> [ScannedPickle] {
        var found: [ScannedPickle] = []
        var offset = start
        var index = 0
        while offset < bytes.count, index < maxPicklesPerLocation {
            let scan = Verification.scan(bytes, at: offset)
            let torchReads = index < readByTorch
            // Bytes that only begin like a pickle (a PNG's, a .npy header's) are not reported as one.
            let begins = bytes[offset] == 0x80 || pickleNamed || scan.end != nil || !scan.globals.isEmpty
            let worthReporting = (torchReads && begins) || !scan.globals.isEmpty || (scan.end != nil && !scan.refused.isEmpty)
                || (index == 0 && reportFirst && begins)
            if worthReporting {
                var seen = Set<String>()
                let globals = scan.globals.filter { seen.insert($0).inserted }
                var refusedSeen = Set<String>()
                let refused = scan.refused.filter { refusedSeen.insert($0.0).inserted }.map { (name: $0.0, offset: $0.1) }
                found.append(ScannedPickle(location: location, offset: offset, isReadByTorch: torchReads, globals: globals,
                                           unsafeGlobals: globals.filter { !WeightsOnlyAllowlist.globals.contains($0) },
                                           refusedOpcodes: refused, error: scan.error.map { "\($0)" }))
            }
            guard backToBack, let end = scan.end, end > offset else { break }
            offset = end
            index += 1
        }
        if index == maxPicklesPerLocation, var last = found.popLast() {
            last = ScannedPickle(location: last.location, offset: last.offset, isReadByTorch: last.isReadByTorch, globals: last.globals,
                                 unsafeGlobals: last.unsafeGlobals, refusedOpcodes: last.refusedOpcodes,
                                 error: "scanning stopped after \(maxPicklesPerLocation) pickles back to back")
            found.append(last)
        }
        return found
    }

    /// Where the data of a `.npy` file of Python objects (dtype `O`, stored as a pickle) begins.
    static func npyObjectData(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, magic.indices.allSatisfy({ bytes[$0] == magic[$0] }) else { return nil }
        let major = bytes[6]
        let (lengthBytes, headerLength): (Int, Int)
        if major == 1 {
            lengthBytes = 2
            headerLength = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        } else {
            guard bytes.count >= 12 else { return nil }
            lengthBytes = 4
            headerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        let start = 8 + lengthBytes
        guard headerLength <= bytes.count - start else { return nil }
        let header = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start ..< start + headerLength]), as: UTF8.self)
        guard header.contains("'|O'") || header.contains("'O'") else { return nil }
        return start + headerLength
    }
}
