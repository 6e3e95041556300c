/// Which entry PyTorch's zip reader finds for a name when several entries
/// share it (a hostile or badly merged archive).
///
/// PyTorch reads archives with miniz, which does not search the central
/// directory in order: it sorts the entries by name, ASCII case ignored, with
/// an (unstable) heap sort, and binary-searches that order. With duplicate
/// names, the copy found is neither the first nor the last but the one the
/// search lands on, and a name that differs only in case is found as well.
/// This type reproduces that choice, so that a reader and a verifier see the
/// record `torch.load` reads (checked against torch 2.15 by the tests).
struct MinizLookup: Sendable {
    /// Entry names, as bytes with ASCII case folded, one after another.
    private let folded: [UInt8]
    /// Where each entry's folded name starts in ``folded``; one more at the end.
    private let starts: [Int]
    /// Entry indices in miniz's sorted order; only when two names collide.
    private let sorted: [Int]
    /// Entry index + 1 by folded name, open addressing (0: empty), when no
    /// two names collide: miniz's binary search then finds exactly this entry,
    /// so a hash lookup replaces sorting (100,000 records: sorting them was a
    /// tenth of opening). One buffer for all names, not an array per name;
    /// hashed with Swift's `Hasher`, seeded per process, so names a file
    /// chose cannot be made to pile up in one run of slots.
    private let table: [Int32]
    /// The table's size minus one (a power of two).
    private let mask: Int
    /// Whether two names are equal with ASCII case ignored.
    let hasCollisions: Bool

    init(entries: [ZipEntry]) {
        var total = 0
        for i in entries.indices { total += entries[i].name.utf8.count }
        var starts: [Int] = []
        starts.reserveCapacity(entries.count + 1)
        let folded = [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            count = 0
            for i in entries.indices {
                starts.append(count)
                var name = entries[i].name
                name.withUTF8 { utf8 in
                    let n = min(utf8.count, total - count)
                    for j in 0..<n { buffer[count + j] = Self.lowered(utf8[j]) }
                    count += n
                }
            }
        }
        starts.append(folded.count)
        let names = entries
        var capacity = 16
        while capacity < 2 * names.count { capacity <<= 1 }
        var table = [Int32](repeating: 0, count: capacity)
        let mask = capacity - 1
        var collide = false
        folded.withUnsafeBytes { bytes in
            // Every name's hash first, reading the names in order; then the
            // table, comparing a name's bytes only with a name of the same hash.
            var hashes: [Int] = []
            hashes.reserveCapacity(starts.count - 1)
            for i in 0..<(starts.count - 1) { hashes.append(Self.hash(UnsafeRawBufferPointer(rebasing: bytes[starts[i]..<starts[i + 1]]))) }
            for i in 0..<(starts.count - 1) {
                var slot = hashes[i] & mask
                while table[slot] != 0 {
                    let j = Int(table[slot]) - 1
                    if hashes[j] == hashes[i], UnsafeRawBufferPointer(rebasing: bytes[starts[i]..<starts[i + 1]])
                        .elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[starts[j]..<starts[j + 1]])) {
                        collide = true
                        return
                    }
                    slot = (slot + 1) & mask
                }
                table[slot] = Int32(i + 1)
            }
        }
        self.folded = folded
        self.starts = starts
        self.mask = mask
        self.hasCollisions = collide
        self.table = collide ? [] : table
        self.sorted = collide ? Self.heapSorted(names.map { Array($0.name.utf8) }) : []
    }

    /// Calls `body` with each entry's index and its name, ASCII case folded, in order.
    func forEachFoldedName(_ body: (Int, UnsafeBufferPointer<UInt8>) -> Void) {
        folded.withUnsafeBufferPointer { bytes in
            for i in 0..<(starts.count - 1) { body(i, UnsafeBufferPointer(rebasing: bytes[starts[i]..<starts[i + 1]])) }
        }
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return hasher.finalize()
    }

    /// The name with ASCII upper case folded to lower case.
    static func folded(_ name: [UInt8]) -> [UInt8] {
        guard name.contains(where: { (0x41...0x5A).contains($0) }) else { return name }
        return name.map(lowered)
    }

    /// The index of the entry miniz finds for `name`, or nil.
    func locate(_ name: [UInt8]) -> Int? {
        let key = Self.folded(name)
        return folded.withUnsafeBytes { bytes -> Int? in
            key.withUnsafeBytes { key -> Int? in
                if !hasCollisions {
                    var slot = Self.hash(key) & mask
                    while table[slot] != 0 {
                        let j = Int(table[slot]) - 1
                        if key.elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[starts[j]..<starts[j + 1]])) { return j }
                        slot = (slot + 1) & mask
                    }
                    return nil
                }
                var low = 0, high = sorted.count - 1
                while low <= high {
                    let middle = low + (high - low) / 2
                    let j = sorted[middle]
                    let order = Self.compare(UnsafeRawBufferPointer(rebasing: bytes[starts[j]..<starts[j + 1]]), key)
                    if order == 0 { return j }
                    if order < 0 { low = middle + 1 } else { high = middle - 1 }
                }
                return nil
            }
        }
    }

    static func lowered(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }

    /// Case-insensitive byte order; on a common prefix the shorter name is smaller.
    static func compare(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Int {
        for (x, y) in zip(a, b) {
            let l = Int(lowered(x)), r = Int(lowered(y))
            if l != r { return l - r }
        }
        return a.count - b.count
    }

    /// Entry indices after miniz's heap sort: a max-heap built from the last
    /// parent down to the root, then the largest moved to the end repeatedly.
    static func heapSorted(_ names: [[UInt8]]) -> [Int] {
        var indices = Array(names.indices)
        let size = indices.count
        guard size > 1 else { return indices }
        func less(_ a: Int, _ b: Int) -> Bool { compare(names[a], names[b]) < 0 }
        func siftDown(_ start: Int, _ end: Int) {
            var root = start
            while true {
                var child = 2 * root + 1
                guard child < end else { return }
                if child + 1 < end, less(indices[child], indices[child + 1]) { child += 1 }
                guard less(indices[root], indices[child]) else { return }
                indices.swapAt(root, child)
                root = child
            }
        }
        var start = (size - 2) / 2
        while true {
            siftDown(start, size)
            if start == 0 { break }
            start -= 1
        }
        var end = size - 1
        while end > 0 {
            indices.swapAt(end, 0)
            siftDown(0, end)
            end -= 1
        }
        return indices
    }
}
