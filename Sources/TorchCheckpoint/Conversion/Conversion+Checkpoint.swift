extension Conversion {
    /// The object a file converts from, recognised by content: for a
    /// checkpoint (zip, legacy, tar) what `torch.load` returns; for a
    /// TorchScript archive its module's `state_dict()` (tensors detached, as
    /// `state_dict` gives them); for a safetensors
    /// file the dict `safetensors.torch.load_file` returns. Tensors view the
    /// mapped file; nothing is copied.
    ///
    /// - Throws: the ``CheckpointError`` of opening it as a checkpoint when it
    ///   is not a safetensors file either.
    public static func sourceValue(at path: String) throws -> Value {
        if let safetensors = try? SafetensorsFile(path: path) { return .dict(stateDict(of: safetensors)) }
        let checkpoint = try Checkpoint(path: path)
        guard let torchScript = checkpoint.torchScript else { return checkpoint.root }
        return .dict(stateDict(of: torchScript))
    }

    /// `torch.jit.load(f).state_dict()`: each parameter and buffer detached (a
    /// plain tensor, requires_grad False), and `_metadata` with `{'version': 1}`
    /// for every module, depth first (a scripted module's `_version` is
    /// `nn.Module`'s, whatever its original class said).
    static func stateDict(of torchScript: TorchScriptArchive) -> PyDict {
        let dict = PyDict(kind: .orderedDict)
        for (name, tensor) in torchScript.stateDict { dict[name] = .tensor(tensor.detached()) }
        let metadata = PyDict(kind: .orderedDict)
        func visit(_ module: TorchScriptModule, prefix: String) {
            let local = PyDict()
            local.set(.int(1), forInternedKey: "version")
            metadata[prefix] = .dict(local)
            for (name, child) in module.submodules { visit(child, prefix: prefix.isEmpty ? name : prefix + "." + name) }
        }
        visit(torchScript.module, prefix: "")
        dict.setAttribute("_metadata", .dict(metadata))
        return dict
    }

    /// Converts any file this library reads into a checkpoint: the object
    /// (``sourceValue(at:)``) transformed as `options` say, then written as
    /// `torch.save` writes it, in the format `saveOptions` asks for.
    ///
    /// Byte for byte, the zip output is `torch.save(obj, path)` of the same
    /// object transformed in Python, for example
    /// `torch.save(torch.load(src, map_location="cpu")["model_state_dict"], path)`:
    /// storages are numbered afresh in the order the pickle meets them, as
    /// `torch.save` numbers them. A legacy file (`SaveOptions.format =
    /// .legacy`) is what `torch.save(..., _use_new_zipfile_serialization=False)`
    /// writes but for the storage keys, which PyTorch takes from memory
    /// addresses (see ``SaveOptions/legacyStorageKey``).
    ///
    /// The write is atomic: on any error the file at `path` is unchanged.
    public static func checkpoint(from source: String, to path: String, options: ConversionOptions = .init(),
                                  saveOptions: SaveOptions = .init()) throws {
        let value = try transform(try sourceValue(at: source), options: options)
        try Checkpoint.save(value, to: path, options: saveOptions)
    }
}
