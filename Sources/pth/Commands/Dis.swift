import ArgumentParser
import TorchCheckpoint

struct Dis: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Disassemble a checkpoint's pickle, as Python's pickletools.dis prints it.",
        discussion: """
            Prints every opcode with its byte offset, argument and nesting, the same text \
            pickletools.dis prints. For a zip checkpoint the pickle is data.pkl unless --record \
            names another record (constants.pkl of a TorchScript archive, for instance). Any other \
            file is read as a pickle stream from its first byte; with --all, the pickles that follow \
            it are disassembled too (a legacy checkpoint is five pickles, then its storages). \
            Nothing is executed; a damaged pickle is disassembled up to the damage, which is named.

            Exit status: 0 when the pickle was disassembled (a damaged one included: the damage \
            is in the output); 1 when the file cannot be opened, its zip container is damaged, or \
            it has no such record.

            Examples:
              pth dis model.pth
              pth dis --memo model.pth | grep BINGET
              pth dis --record constants.pkl scripted.pt
              pth dis --all legacy.pth
            """
    )

    @Argument(help: "The checkpoint (or pickle file).")
    var file: String

    @Option(help: "The record of a zip checkpoint to disassemble.")
    var record = "data.pkl"

    @Flag(help: "Say, for each memo GET, where the object it reads was stored.")
    var memo = false

    @Flag(help: "For a pickle stream, also disassemble the pickles that follow the first.")
    var all = false

    func run() throws {
        let mapped: MappedFile
        do {
            mapped = try MappedFile(path: file)
        } catch {
            fail("\(file): cannot open: \(error.message)")
        }
        let bytes = mapped.bytes
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B {
            do {
                let archive = try ZipArchive(file: mapped)
                guard let entry = archive.record(record) else {
                    fail("\(file): no record '\(archive.prefix)/\(record)'; records: \(archive.recordNames.joined(separator: ", "))")
                }
                let text = try archive.bytes(of: entry).withUnsafeBytes { Disassembler.disassemble($0, memoReferences: memo) }
                print(text, terminator: "")
            } catch {
                fail("\(file): \(error)")
            }
            return
        }
        var offset = 0
        var index = 0
        repeat {
            if all { print("pickle \(index) at byte \(offset):") }
            print(Disassembler.disassemble(bytes, at: offset, memoReferences: memo), terminator: "")
            let (operations, error) = PickleOperations(bytes, at: offset).collect()
            guard error == nil, let stop = operations.last else { break }
            offset = stop.offset + 1
            index += 1
        } while all && offset < bytes.count && bytes[offset] == 0x80
    }
}
