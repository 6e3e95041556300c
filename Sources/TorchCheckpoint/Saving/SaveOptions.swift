/// How a new checkpoint is written.
public struct SaveOptions: Sendable {
    /// The pickle protocol (`torch.save`'s `pickle_protocol`): 2, as torch.save writes by default, up to 5.
    public var protocolVersion = 2
    /// Where storages start: a multiple of this many bytes (64, as torch 2.15).
    public var alignment = 64

    /// The default options: what `torch.save` 2.15 writes on Linux.
    public init() {}
}
