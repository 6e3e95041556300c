import ArgumentParser

/// A size on the command line: a number of bytes, with an optional binary
/// unit (`1073741824`, `512MiB`, `4GiB`, `1TiB`; `K`, `M`, `G`, `T` and
/// `KB`… mean the same powers of 1024).
struct ByteSize: ExpressibleByArgument, CustomStringConvertible {
    let bytes: Int

    init(_ bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let text = argument.filter { !$0.isWhitespace }
        let digits = text.prefix { $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let unit = text.dropFirst(digits.count).lowercased()
        let shift: Int
        switch unit {
        case "", "b": shift = 0
        case "k", "kb", "kib": shift = 10
        case "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        case "t", "tb", "tib": shift = 40
        case "p", "pb", "pib": shift = 50
        default: return nil
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow else { return nil }
        bytes = value
    }

    var description: String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(bytes)"
    }

    static let expandedViewLimitHelp = ArgumentHelp(
        "The most logical bytes to read from a view larger than its storage (expand's stride 0, an overlapping as_strided).",
        valueName: "SIZE")
}
