import ArgumentParser
import TorchCheckpoint

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert between safetensors and PyTorch checkpoints, both ways.",
        discussion: """
            The direction follows IN's content. From safetensors, OUT is exactly what \
            torch.save(safetensors.torch.load_file(IN), OUT) writes: a plain dict, one storage per \
            tensor (the file's __metadata__ is not carried, as load_file drops it). From a \
            checkpoint, tensors are named by their path (a state dict's keys as they are, nested \
            values joined with '.'), plain values go to __metadata__, and tensors that share a \
            storage are refused unless --duplicate-shared writes each as its own copy.

            Examples:
              pth convert model.safetensors pytorch_model.bin
              pth convert model.pth model.safetensors --duplicate-shared
            """
    )

    @Argument(help: "The file to convert (.safetensors, or a checkpoint).")
    var input: String

    @Argument(help: "Where to write the result (written atomically).")
    var output: String

    @Flag(help: "Write tensors that share a storage (tied weights, views) as separate copies, and say which.")
    var duplicateShared = false

    func run() throws {
        do {
            if let source = try? SafetensorsFile(path: input) {
                try Conversion.checkpoint(from: source, to: output)
            } else {
                let checkpoint = try Checkpoint(path: input)
                // A TorchScript archive converts its module's state_dict.
                let value = checkpoint.torchScript?.stateDictValue ?? checkpoint.root
                let report = try Conversion.safetensors(from: value, to: output, duplicateSharedTensors: duplicateShared)
                var stderr = StandardError()
                for group in report.duplicatedTensors {
                    print("pth: note: \(group.joined(separator: ", ")) shared a storage; each was written as its own copy", to: &stderr)
                }
            }
        } catch {
            fail("\(error)")
        }
    }
}
