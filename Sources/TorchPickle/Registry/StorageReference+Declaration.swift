extension StorageReference {
    /// Throws unless a second persistent id naming the same key declares the
    /// same storage: torch.save never shares a storage between types (it
    /// refuses to), nor declares two sizes for one.
    public func requireSameDeclaration(as known: StorageReference) throws(PickleError) {
        try requireSameDeclaration(dtype: known.dtype, isUntyped: known.isUntyped, elementCount: known.elementCount)
    }

    /// The same check against the storage an earlier reference made.
    package func requireSameDeclaration(as known: Storage) throws(PickleError) {
        try requireSameDeclaration(dtype: known.dtype, isUntyped: known.isUntyped, elementCount: known.elementCount)
    }

    private func requireSameDeclaration(dtype knownType: DType, isUntyped knownUntyped: Bool,
                                        elementCount knownCount: Int) throws(PickleError) {
        guard knownType == dtype, knownUntyped == isUntyped else {
            throw PickleError(.invalidTensor,
                              "storage '\(key)' is declared as \(knownType.name) and as \(dtype.name); torch.save never shares a storage between types",
                              offset: 0, opcode: nil)
        }
        guard knownCount == elementCount else {
            throw PickleError(.invalidTensor,
                              "storage '\(key)' is declared with \(knownCount) and with \(elementCount) elements",
                              offset: 0, opcode: nil)
        }
    }
}
