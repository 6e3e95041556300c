/// The iteration order of a libstdc++ `std::unordered_set<std::string>` into
/// which distinct keys were inserted one by one, reproduced from their hashes.
///
/// PyTorch's writer folds its record-name hashes in the iteration order of
/// such a set (`files_written_`), so the serialization id depends on it.
/// libstdc++'s `_Hashtable` keeps every node on one singly linked list; each
/// bucket stores the node *before* its first node (the list head's
/// "before-begin" sentinel for the bucket that starts the list):
///
/// - Inserting into a non-empty bucket puts the node right after that
///   bucket's "before" node, i.e. first in the bucket.
/// - Inserting into an empty bucket puts the node at the very front of the
///   list; the bucket that used to start the list now has the new node as
///   its "before" node.
/// - Before an insertion that would pass the rehash threshold
///   (`_Prime_rehash_policy`, maximum load factor 1.0), all nodes are
///   rehashed into a new bucket array by walking the old list front to back,
///   each node going to the front of the list when its new bucket is empty
///   and right after the bucket's "before" node otherwise.
///
/// The bucket counts a set grows through are therefore fixed: 1 (empty),
/// then 13 at the first insertion, then at each insertion that makes the
/// count exceed the bucket count, the first prime of libstdc++'s
/// `__prime_list` at or above twice the count (``bucketCountsAfterFirst``).
package struct LibstdcxxUnorderedSetOrder {
    /// No node: an empty bucket, or the end of the list.
    private static let none = -2
    /// The list's before-begin sentinel, as a bucket's "before" node.
    private static let beforeBegin = -1

    /// The bucket counts a set reaches by insertion, after the single bucket
    /// of an empty set: `_M_next_bkt(12)` gives 13 from the small-size table;
    /// each later one is `lower_bound(__prime_list, 2 * previous)` in
    /// libstdc++'s 64-bit prime table (libstdc++-v3/src/shared/hashtable-aux.cc).
    /// The last one is past the most entries a zip archive from miniz can hold.
    package static let bucketCountsAfterFirst: [Int] = [
        13, 29, 59, 127, 257, 541, 1109, 2357, 5087, 10273, 20753, 42043, 85229,
        172_933, 351_061, 712_697, 1_447_153, 2_938_679, 5_967_347, 12_117_689,
        24_607_243, 49_969_847, 101_473_717, 206_062_531, 418_451_333, 849_749_479,
        1_725_587_117, 3_504_151_727, 8_589_934_583,
    ]

    /// The hash code of each node, by insertion index.
    package private(set) var hashes: [UInt64] = []
    /// The node after each node on the list, by insertion index.
    private var next: [Int] = []
    /// The first node of the list (`_M_before_begin._M_nxt`).
    private var head = none
    /// Each bucket's "before" node; a single empty bucket for an empty set.
    private var buckets: [Int] = [none]
    /// Which entry of ``bucketCountsAfterFirst`` the bucket count is; -1 while it is 1.
    private var growthStep = -1

    /// An empty set: one bucket, no node.
    package init() {}

    /// The number of keys inserted.
    package var count: Int { hashes.count }

    /// The current bucket count (`bucket_count()`).
    package var bucketCount: Int { buckets.count }

    /// Inserts a key, known to be absent from the set, by its hash code.
    package mutating func insert(hash: UInt64) {
        // _Prime_rehash_policy::_M_need_rehash with one insertion: the
        // threshold is the bucket count (load factor 1.0), and 0 before the
        // first insertion, when the set grows to 13 buckets at once.
        let threshold = growthStep < 0 ? 0 : buckets.count
        if count + 1 > threshold {
            growthStep += 1
            let step = min(growthStep, Self.bucketCountsAfterFirst.count - 1)
            rehash(bucketCount: Self.bucketCountsAfterFirst[step])
        }
        let node = hashes.count
        hashes.append(hash)
        next.append(Self.none)
        let bucket = Int(hash % UInt64(buckets.count))
        let before = buckets[bucket]
        if before != Self.none {
            // _M_insert_bucket_begin, non-empty bucket: first in its bucket.
            if before == Self.beforeBegin {
                next[node] = head
                head = node
            } else {
                next[node] = next[before]
                next[before] = node
            }
        } else {
            // Empty bucket: front of the whole list; the bucket that started
            // the list now starts after the new node.
            next[node] = head
            head = node
            let following = next[node]
            if following != Self.none {
                buckets[bucketIndex(of: following)] = node
            }
            buckets[bucket] = Self.beforeBegin
        }
    }

    /// The insertion indices of the nodes in iteration order (`begin()` to `end()`).
    package func iterationOrder() -> [Int] {
        var order: [Int] = []
        order.reserveCapacity(hashes.count)
        var node = head
        while node != Self.none {
            order.append(node)
            node = next[node]
        }
        return order
    }

    /// The bucket of `node` in the current bucket array.
    private func bucketIndex(of node: Int) -> Int {
        Int(hashes[node] % UInt64(buckets.count))
    }

    /// `_M_rehash_aux` for unique keys: rebuilds the list and the buckets
    /// by walking the old list from its front.
    private mutating func rehash(bucketCount: Int) {
        var newBuckets = [Int](repeating: Self.none, count: bucketCount)
        var node = head
        head = Self.none
        var bucketOfHead = 0
        while node != Self.none {
            let following = next[node]
            let bucket = Int(hashes[node] % UInt64(bucketCount))
            let before = newBuckets[bucket]
            if before == Self.none {
                next[node] = head
                head = node
                newBuckets[bucket] = Self.beforeBegin
                if next[node] != Self.none {
                    newBuckets[bucketOfHead] = node
                }
                bucketOfHead = bucket
            } else if before == Self.beforeBegin {
                next[node] = head
                head = node
            } else {
                next[node] = next[before]
                next[before] = node
            }
            node = following
        }
        buckets = newBuckets
    }
}
