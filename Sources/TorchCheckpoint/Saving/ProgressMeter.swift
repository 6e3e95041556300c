/// Counts bytes towards a total and tells a ``ProgressHandler``.
final class ProgressMeter {
    private let handler: ProgressHandler?
    let total: Int64
    private(set) var completed: Int64 = 0

    init(total: Int64, handler: ProgressHandler?) {
        self.total = total
        self.handler = handler
        handler?(0, total)
    }

    func advance(by count: Int) {
        guard let handler else { return }
        completed += Int64(count)
        handler(completed, total)
    }
}
