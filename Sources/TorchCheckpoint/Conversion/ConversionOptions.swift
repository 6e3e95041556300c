/// What a conversion does to the object on its way from one file to
/// another, in this order: pick a sub-object, move every storage to one
/// device, cast floating-point tensors. Each step is what the equivalent
/// Python does to the object `torch.load` returns, so saving the result
/// writes what `torch.save` writes for the transformed object.
///
/// ```swift
/// var options = ConversionOptions()
/// options.selection = ["model_state_dict"]
/// options.floatingPointType = .bfloat16
/// options.mapLocation = "cpu"
/// try Conversion.checkpoint(from: "checkpoint.ckpt", to: "model.bf16.pth", options: options)
/// ```
public struct ConversionOptions: Sendable {
    /// The keys to follow from the root to the value to convert, one per
    /// level: `["model_state_dict"]` is `obj["model_state_dict"]`, and
    /// `["optimizer_state_dict", "state", "0"]` is
    /// `obj["optimizer_state_dict"]["state"][0]`. A step names a dict's `str`
    /// key; failing that, a decimal step names a dict's `int` key, or the
    /// index of a list or tuple item. Empty: the whole object.
    ///
    /// A path of separate steps, rather than one string with separators:
    /// state-dict keys contain dots (`encoder.layers.0.weight`), and any
    /// character may appear in a key.
    public var selection: [String] = []

    /// The type floating-point tensors are cast to (float16, bfloat16,
    /// float32 or float64), each as `tensor.to(dtype)`; nil keeps every type.
    /// Other tensors (integer, bool, complex, quantized) are kept as they are.
    ///
    /// `to` makes a new tensor with its own storage, so tensors that shared
    /// a storage (views, tied weights) no longer do; one tensor object
    /// reached twice is cast once and stays one object. Dicts, lists and
    /// tuples are walked; the values of objects this library does not
    /// rebuild (``PyObject``) and of sets are kept as they are.
    public var floatingPointType: DType?

    /// The location every storage is moved to, as `torch.load(f,
    /// map_location=...)` with a device string: `cpu` or a device with its
    /// index (`cuda:0`). Storages on the meta device stay there, as in
    /// PyTorch. Nil keeps each storage's own location tag.
    public var mapLocation: String?

    /// No selection, no cast, no relocation: the object as loaded.
    /// The most logical bytes a view larger than its storage (a stride-0
    /// dimension from `expand`, an overlapping `as_strided`) may take where
    /// the conversion writes its elements out one by one: a cast, or a
    /// safetensors file (which has no strides). A checkpoint written without
    /// a cast keeps such a view as it is and never needs the limit.
    /// ``Tensor/defaultExpandedViewLimit`` (1 GiB) by default.
    public var expandedViewLimit: Int = Tensor.defaultExpandedViewLimit

    public init() {}
}
