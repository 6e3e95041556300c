import ArgumentParser
import TorchCheckpoint

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert between checkpoint formats and safetensors; select, cast and relocate on the way.",
        discussion: """
            IN is any file pth reads (zip, legacy, tar, a TorchScript archive's state_dict, \
            safetensors), recognised by content. OUT is safetensors when it ends in .safetensors, \
            otherwise a checkpoint in the zip format; --format says so explicitly.

            A checkpoint OUT is what torch.save writes for the object torch.load gives (for \
            safetensors IN, the dict safetensors.torch.load_file gives; its __metadata__ is not \
            carried), after the options below, byte for byte: --format legacy writes \
            _use_new_zipfile_serialization=False's format, with storage keys 0, 1, … where torch \
            uses memory addresses. A safetensors OUT names tensors by their path (a state dict's \
            keys as they are, nested values joined with '.'), keeps plain values as __metadata__, \
            and refuses tensors that share a storage unless --duplicate-shared writes each as its \
            own copy.

            The options apply in this order, each as the Python it names:
              --select KEY        obj = obj[KEY], once per level of nesting
              --map-location DEV  torch.load(IN, map_location=DEV)
              --dtype TYPE        t.to(TYPE) for each floating-point tensor t

            A decimal KEY also finds an int key or a list index (--select \
            optimizer_state_dict --select state --select 0). DEV is cpu or a device with its \
            index (cuda:0). A cast gives each tensor its own storage, as to() does, so tensors \
            that shared one no longer do; NaNs and rounding come out as PyTorch's.

            A view larger than its storage (expand's stride 0, an overlapping as_strided: a few \
            bytes in IN can stand for terabytes) stays a view in a checkpoint OUT. A safetensors \
            OUT, which has no strides, and --dtype write its elements one by one: a view over \
            --expanded-view-limit logical bytes (1GiB by default) is refused, naming the tensor, \
            before anything is written.

            A progress bar shows on stderr while tensor data is written, when stderr is a \
            terminal (PTH_PROGRESS=always|never overrides). OUT is written atomically; --durable also syncs it to the disk.

            Examples:
              pth convert model.safetensors pytorch_model.bin
              pth convert model.pth model.safetensors --duplicate-shared
              pth convert old_legacy.pth new.pth
              pth convert model.pth model_for_torch_1_5.pth --format legacy
              pth convert ckpt.pth model.pth --select model_state_dict --dtype bfloat16
              pth convert gpu_checkpoint.pth cpu.pth --map-location cpu
              pth convert checkpoints/step-1000 model.pth            (a distributed checkpoint)
              pth convert model.pth hf_model --format sharded --max-shard-size 2GB
              pth convert checkpoint.pth checkpoints/step-0 --format dcp

            IN may also be a directory: a distributed checkpoint (what dcp_to_torch_save \
            reads, converted tensor by tensor) or a Hugging Face sharded set (or its \
            *.index.json). --format sharded writes OUT as a directory holding a sharded set, \
            split, named and indexed as huggingface_hub.save_torch_state_dict does. \
            --format dcp writes OUT as a distributed checkpoint, as torch_save_to_dcp does \
            (--zstd: compressed as with FileSystemWriter(_extensions=[ZStandard()])).
            """
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case zip, legacy, safetensors, sharded, dcp
    }

    enum ShardType: String, ExpressibleByArgument, CaseIterable {
        case safetensors, bin
    }

    enum FloatingPointType: String, ExpressibleByArgument, CaseIterable {
        case float16, bfloat16, float32, float64

        var dtype: DType {
            switch self {
            case .float16: .float16
            case .bfloat16: .bfloat16
            case .float32: .float32
            case .float64: .float64
            }
        }
    }

    @Argument(help: "The file to convert (a checkpoint of any format, or .safetensors).")
    var input: String

    @Argument(help: "Where to write the result (written atomically).")
    var output: String

    @Option(help: "The output format (default: safetensors for a .safetensors OUT, else zip).")
    var format: OutputFormat?

    @Option(name: .customLong("select"), help: ArgumentHelp("Convert only obj[KEY]; repeat for nested keys.", valueName: "KEY"))
    var selection: [String] = []

    @Option(help: ArgumentHelp("Cast floating-point tensors to this type.", valueName: "TYPE"))
    var dtype: FloatingPointType?

    @Option(help: ArgumentHelp("Move every storage to this device, as torch.load's map_location.", valueName: "DEV"))
    var mapLocation: String?

    @Flag(help: "Sync OUT to the disk before exiting (fsync of the file and its directory).")
    var durable = false

    @Flag(help: "Write tensors that share a storage (tied weights, views) as separate copies, and say which (safetensors OUT).")
    var duplicateShared = false

    @Option(help: ByteSize.expandedViewLimitHelp)
    var expandedViewLimit = ByteSize(Tensor.defaultExpandedViewLimit)

    @Option(help: ArgumentHelp("The largest shard (--format sharded), as huggingface_hub reads it: 5GB, 500MB, or bytes.", valueName: "SIZE"))
    var maxShardSize = "5GB"

    @Option(help: "The shards' files (--format sharded): safetensors (model-…safetensors) or bin (pytorch_model-…bin, torch.save).")
    var shardType: ShardType = .safetensors

    @Flag(help: "Compress every item with zstd (--format dcp), as torch's ZStandard extension does.")
    var zstd = false

    func validate() throws {
        if zstd && resolvedFormat != .dcp {
            throw ValidationError("--zstd applies to --format dcp only")
        }
        if resolvedFormat == .sharded, ShardedCheckpoint.parseSize(maxShardSize) == nil {
            throw ValidationError("--max-shard-size '\(maxShardSize)': give bytes or a number with TB, GB, MB or KB")
        }
        if duplicateShared && resolvedFormat != .safetensors {
            throw ValidationError("--duplicate-shared applies to a safetensors OUT only (a checkpoint keeps shared storages shared)")
        }
    }

    var resolvedFormat: OutputFormat { format ?? (output.hasSuffix(".safetensors") ? .safetensors : .zip) }

    func run() throws {
        var options = ConversionOptions()
        options.selection = selection
        options.floatingPointType = dtype?.dtype
        options.mapLocation = mapLocation
        options.expandedViewLimit = expandedViewLimit.bytes
        let bar = ProgressBar(label: "converting")
        defer { bar?.finish() }
        do {
            let value = try Conversion.transform(try Conversion.sourceValue(at: input), options: options)
            let durability: AtomicFileSink.Durability = durable ? .durable : .atomic
            switch resolvedFormat {
            case .safetensors:
                let report = try Conversion.safetensors(from: value, to: output, duplicateSharedTensors: duplicateShared,
                                                        expandedViewLimit: expandedViewLimit.bytes, durability: durability)
                var stderr = StandardError()
                for group in report.duplicatedTensors {
                    print("pth: note: \(group.joined(separator: ", ")) shared a storage; each was written as its own copy", to: &stderr)
                }
            case .dcp:
                var dcpOptions = DistributedCheckpoint.WriteOptions()
                dcpOptions.compressed = zstd
                try DistributedCheckpoint.save(value, to: output, options: dcpOptions)
            case .sharded:
                let report = try Conversion.sharded(from: value, to: output, format: shardType == .bin ? .torchSave : .safetensors,
                                                    maxShardSize: ShardedCheckpoint.parseSize(maxShardSize) ?? 5_000_000_000)
                var stderr = StandardError()
                if !report.skippedValues.isEmpty {
                    print("pth: note: \(report.skippedValues.count) value(s) that are not tensors were left out: "
                          + report.skippedValues.prefix(8).joined(separator: ", ") + (report.skippedValues.count > 8 ? ", …" : ""), to: &stderr)
                }
                print("\(output): \(report.split.filenameToTensors.count) shard(s), \(report.split.totalSize) bytes", to: &stderr)
            case .zip, .legacy:
                var save = SaveOptions()
                save.format = resolvedFormat == .legacy ? .legacy : .zip
                save.progress = bar?.handler
                save.durability = durability
                try Checkpoint.save(value, to: output, options: save)
            }
        } catch {
            bar?.finish()
            fail("\(error)")
        }
    }
}
