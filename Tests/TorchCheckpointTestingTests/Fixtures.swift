import Foundation

/// The fixtures folder of the repository.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}
