/// A string compared and hashed by its UTF-8 bytes, as Rust compares `String`s.
///
/// Swift's `String` equality is Unicode canonical equivalence, under which
/// `"é"` and `"e\u{301}"` are equal; safetensors (and Python) keep them apart.
struct ByteKey: Hashable, Comparable {
    let bytes: [UInt8]
    init(_ text: String) { bytes = Array(text.utf8) }
    static func < (a: ByteKey, b: ByteKey) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}
