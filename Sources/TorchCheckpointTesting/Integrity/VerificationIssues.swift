import TorchCheckpoint

/// The failures of a file's verification, each as one message.
enum VerificationIssues {
    /// The damage found: one message per problem.
    static func damage(_ report: VerificationReport, path: String) -> [String] {
        report.problems.map { problem in
            // Most problems name the file already.
            let text = problem.hasPrefix(path + ": ") ? String(problem.dropFirst(path.count + 2)) : problem
            return "'\(path)' is damaged: \(text)"
        }
    }

    /// Why `torch.load(path, weights_only=True)` would refuse the file: one
    /// message per reason (the format, each unsafe global, each refused
    /// opcode, each damaged pickle it reads); none when it would load it.
    static func weightsOnly(_ report: VerificationReport, path: String) -> [String] {
        guard !report.weightsOnlyAccepts else { return [] }
        let refuses = "torch.load('\(path)', weights_only=True) would refuse the file"
        var messages: [String] = []
        if let format = report.refusedFormat { messages.append("\(refuses): \(format)") }
        for pickle in report.pickles where pickle.isReadByTorch {
            let place = "the pickle in \(pickle.location)"
            for global in pickle.unsafeGlobals {
                messages.append("\(refuses): \(place) names \(global), outside weights_only's allowlist")
            }
            for opcode in pickle.refusedOpcodes {
                messages.append("\(refuses): \(place) uses \(opcode.name) (byte \(opcode.offset)), an opcode weights_only refuses")
            }
            if let error = pickle.error { messages.append("\(refuses): \(place) is damaged: \(error)") }
        }
        if messages.isEmpty { messages.append(refuses) }
        return messages
    }
}
