/// Where UTF-8 first breaks, as Rust's `str::from_utf8` judges it (no
/// overlong forms, no surrogates, nothing above U+10FFFF) and reports it
/// (`Utf8Error`): the index of the first byte of the bad sequence, and the
/// number of bytes that make it invalid, nil when the input ends inside it.
/// Returns nil when all of `bytes` is valid.
func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> (index: Int, length: Int?)? {
    var i = 0
    let n = bytes.count
    while i < n {
        let b = bytes[i]
        if b < 0x80 {
            i += 1
            continue
        }
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch b {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return (i, 1)
        }
        for k in 1..<length {
            guard i + k < n else { return (i, nil) }
            let range: ClosedRange<UInt8> = k == 1 ? low...high : 0x80...0xBF
            guard range.contains(bytes[i + k]) else { return (i, k) }
        }
        i += length
    }
    return nil
}
