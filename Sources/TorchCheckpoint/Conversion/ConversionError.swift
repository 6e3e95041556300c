/// Why a conversion could not transform the object it was given.
public enum ConversionError: Error, Sendable, CustomStringConvertible {
    /// A selection step names nothing: `place` is where it was looked up
    /// (`['optimizer_state_dict']`), `available` the keys or indices there.
    case noSuchKey(String, place: String, available: [String])
    /// A selection step met a value that has no items (a tensor, a number).
    case notAContainer(String, place: String, typeName: String)
    /// A tensor could not be cast: where it is, and why.
    case cannotCast(place: String, reason: String)
    /// The map location is not one PyTorch would accept as a device string here.
    case invalidMapLocation(String, reason: String)

    public var description: String {
        switch self {
        case .noSuchKey(let key, let place, let available):
            let shown = available.prefix(20).joined(separator: ", ")
            let more = available.count > 20 ? ", … (\(available.count) in all)" : ""
            return available.isEmpty
                ? "no key '\(key)' in \(place): it is empty"
                : "no key '\(key)' in \(place); it has: \(shown)\(more)"
        case .notAContainer(let key, let place, let typeName):
            return "cannot select '\(key)': \(place) is of type \(typeName), not a dict, list or tuple"
        case .cannotCast(let place, let reason):
            return "cannot cast \(place): \(reason)"
        case .invalidMapLocation(let location, let reason):
            return "invalid map location '\(location)': \(reason)"
        }
    }
}
