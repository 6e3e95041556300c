import Foundation

/// Writes `bytes` to a new file in the temporary directory and returns its path.
func temporaryFile(_ bytes: [UInt8], suffix: String = ".zip") throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("TorchZipTests-\(UUID().uuidString)\(suffix)")
    try Data(bytes).write(to: url)
    return url.path
}

/// Removes the file at `path`, ignoring errors.
func removeFile(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
