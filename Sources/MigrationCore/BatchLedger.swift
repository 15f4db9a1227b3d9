/// Orders the completion of batches that finish out of order, so a checkpoint only ever records a position
/// before which *every* batch is durably written.
///
/// A partition's reader hands out batches in order, each tagged with the source position *after* it; writers
/// finish them in any order. The ledger releases a batch's position and results only once all earlier batches
/// have finished too. A value type: the caller owns it and persists what ``complete(_:)`` returns.
public struct BatchLedger<Result: Sendable>: Sendable {
    /// The position and results that became durable with one call to ``complete(_:)``.
    public struct Commit: Sendable {
        /// The newest position before which everything is written.
        public var position: String
        /// The results of the batches released, in order.
        public var results: [Result]
    }

    private var nextSequence = 0
    private var nextToCommit = 0
    private var positions: [Int: String] = [:]
    private var finished: [Int: Result] = [:]

    /// An empty ledger.
    public init() {}

    /// Registers a batch that ends at `position` and returns its sequence number.
    public mutating func issue(endingAt position: String) -> Int {
        defer { nextSequence += 1 }
        positions[nextSequence] = position
        return nextSequence
    }

    /// Records that batch `sequence` finished with `result`; returns what can now be committed, if anything.
    public mutating func complete(_ sequence: Int, result: Result) -> Commit? {
        precondition(positions[sequence] != nil && finished[sequence] == nil, "batch \(sequence) completed twice or never issued")
        finished[sequence] = result
        var released: [Result] = []
        var position: String?
        while let next = finished.removeValue(forKey: nextToCommit) {
            released.append(next)
            position = positions.removeValue(forKey: nextToCommit)
            nextToCommit += 1
        }
        return position.map { Commit(position: $0, results: released) }
    }

    /// How many batches are issued and not yet committed.
    public var inFlight: Int { nextSequence - nextToCommit }
}
