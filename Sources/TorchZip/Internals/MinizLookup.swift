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
    /// Entry names, as bytes.
    private let names: [[UInt8]]
    /// Entry indices in miniz's sorted order; only when two names collide.
    private let sorted: [Int]
    /// Entry index by name with ASCII case folded; when no two names collide,
    /// miniz's binary search finds exactly this entry, so a hash lookup
    /// replaces sorting (100,000 records: sorting them was a tenth of opening).
    private let folded: [[UInt8]: Int]
    /// Whether two names are equal with ASCII case ignored.
    let hasCollisions: Bool

    init(names: [[UInt8]]) {
        self.names = names
        var folded: [[UInt8]: Int] = [:]
        folded.reserveCapacity(names.count)
        var collide = false
        for (i, name) in names.enumerated() where folded.updateValue(i, forKey: Self.folded(name)) != nil {
            collide = true
            break
        }
        self.hasCollisions = collide
        self.folded = collide ? [:] : folded
        self.sorted = collide ? Self.heapSorted(names) : []
    }

    /// The name with ASCII upper case folded to lower case.
    static func folded(_ name: [UInt8]) -> [UInt8] {
        guard name.contains(where: { (0x41...0x5A).contains($0) }) else { return name }
        return name.map(lowered)
    }

    /// The index of the entry miniz finds for `name`, or nil.
    func locate(_ name: [UInt8]) -> Int? {
        guard hasCollisions else { return folded[Self.folded(name)] }
        var low = 0, high = sorted.count - 1
        while low <= high {
            let middle = low + (high - low) / 2
            let order = Self.compare(names[sorted[middle]], name)
            if order == 0 { return sorted[middle] }
            if order < 0 { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }

    static func lowered(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }

    /// Case-insensitive byte order; on a common prefix the shorter name is smaller.
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
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
