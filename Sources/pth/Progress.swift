#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TorchCheckpoint

/// A progress bar on standard error for long operations, drawn only when
/// standard error is a terminal: a piped or redirected run prints nothing
/// extra. `PTH_PROGRESS=always` draws it anyway and `PTH_PROGRESS=never`
/// never; the first is how the end-to-end tests see the bar, through the
/// binary as a user runs it, without a pseudo-terminal.
///
/// Fed by the library's ``ProgressHandler``; redraws at most ten times a
/// second (and always at 100%), and ``finish()`` clears the line.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let width: Int
    private var lastDraw: UInt64 = 0
    private var drawn = false
    private var lastCompleted: Int64 = -1

    /// A bar labelled `label`, or nil when nothing should be drawn.
    init?(label: String, environment: [String: String] = ProgressBar.environment) {
        switch environment["PTH_PROGRESS"] {
        case "always": break
        case "never": return nil
        default: guard isatty(2) != 0 else { return nil }
        }
        self.label = label
        self.width = 24
    }

    /// The handler to give the library.
    var handler: ProgressHandler { { [self] completed, total in update(completed: completed, total: total) } }

    func update(completed: Int64, total: Int64) {
        let now = Self.milliseconds()
        let final = completed >= total
        guard final ? completed != lastCompleted : now &- lastDraw >= 100 || !drawn else { return }
        lastDraw = now
        lastCompleted = completed
        drawn = true
        var stderr = StandardError()
        print("\r" + Self.line(label: label, completed: completed, total: total, width: width) + "\u{1B}[K",
              terminator: "", to: &stderr)
    }

    /// Clears the bar's line, when anything was drawn.
    func finish() {
        guard drawn else { return }
        var stderr = StandardError()
        print("\r\u{1B}[K", terminator: "", to: &stderr)
        drawn = false
    }

    /// One line of the bar: `converting [#########---------]  42%  1.2 MiB / 2.9 MiB`.
    static func line(label: String, completed: Int64, total: Int64, width: Int) -> String {
        let fraction = total > 0 ? min(max(Double(completed) / Double(total), 0), 1) : 1
        let filled = Int(fraction * Double(width))
        let percent = String(Int(fraction * 100))
        return "\(label) [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            + String(repeating: " ", count: 3 - percent.count) + percent + "%  "
            + bytes(completed) + " / " + bytes(total)
    }

    /// A byte count with a binary unit and one decimal: `512 B`, `1.5 KiB`, `3.0 GiB`.
    static func bytes(_ count: Int64) -> String {
        if count < 1024 { return "\(count) B" }
        var value = Double(count)
        var unit = 0
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    static var environment: [String: String] {
        guard let value = getenv("PTH_PROGRESS") else { return [:] }
        return ["PTH_PROGRESS": String(cString: value)]
    }

    private static func milliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
