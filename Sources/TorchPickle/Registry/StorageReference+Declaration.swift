extension StorageReference {
    /// Throws unless a second persistent id naming the same key declares the
    /// same storage: torch.save never shares a storage between types (it
    /// refuses to), nor declares two sizes for one.
    public func requireSameDeclaration(as known: StorageReference) throws(PickleError) {
        guard known.dtype == dtype, known.isUntyped == isUntyped else {
            throw PickleError(.invalidTensor,
                              "storage '\(key)' is declared as \(known.dtype.name) and as \(dtype.name); torch.save never shares a storage between types",
                              offset: 0, opcode: nil)
        }
        guard known.elementCount == elementCount else {
            throw PickleError(.invalidTensor,
                              "storage '\(key)' is declared with \(known.elementCount) and with \(elementCount) elements",
                              offset: 0, opcode: nil)
        }
    }
}
