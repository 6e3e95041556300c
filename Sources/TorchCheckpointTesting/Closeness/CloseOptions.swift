import TorchCheckpoint

/// What a closeness check compares besides values, and how much memory it
/// uses: `torch.testing.assert_close`'s `check_device` and `check_stride`,
/// and the limits of this library's tensor APIs.
///
/// The tolerances and `equal_nan` are arguments of the checks themselves
/// (``TorchTesting/checkClose(_:_:rtol:atol:equalNaN:options:)``); `check_dtype`
/// and `check_layout` are always on, as assert_close has them by default.
public struct CloseOptions: Sendable, Hashable {
    /// Whether tensors must be on the same device (`cpu`, `cuda:0`, `meta`:
    /// the location a checkpoint's storages were saved from), as
    /// `check_device=True`. Turn it off to compare weights saved from a GPU
    /// with weights written on the CPU.
    public var checkDevice: Bool
    /// Whether strided tensors must have the same strides, as `check_stride=True`.
    public var checkStride: Bool
    /// How many elements of each tensor are decoded at once: a comparison
    /// holds about 16 bytes per element for each side, never a whole tensor.
    public var blockElements: Int
    /// The most logical bytes of a view larger than its storage (`expand`'s
    /// stride 0, an overlapping `as_strided`) that a comparison reads, so that
    /// a few bytes in a file cannot ask for terabytes of work
    /// (`Tensor.defaultExpandedViewLimit`, 1 GiB, by default).
    /// A view past it is reported as not compared, a failure.
    public var expandedViewLimit: Int

    /// Options; by default as assert_close's defaults, 65,536 elements at a time.
    public init(checkDevice: Bool = true, checkStride: Bool = false, blockElements: Int = 1 << 16,
                expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) {
        self.checkDevice = checkDevice
        self.checkStride = checkStride
        self.blockElements = blockElements
        self.expandedViewLimit = expandedViewLimit
    }
}
