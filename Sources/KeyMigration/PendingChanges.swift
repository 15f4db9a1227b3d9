/// The keys that changed on the source and are not yet applied to the target, de-duplicated and bounded.
///
/// A value-type state machine: notifications are noted, batches taken oldest first and completed, and when more
/// distinct keys are pending than `capacity` allows, all of them are dropped and a reconcile pass is requested
/// instead (it finds every difference, so nothing is lost, only delayed). Times are passed in, so every
/// transition is testable without a clock.
struct PendingChanges: Sendable {
    /// A key of a source database.
    struct Change: Sendable, Hashable {
        /// The source database.
        var database: Int
        /// The key.
        var key: [UInt8]
    }

    /// The most distinct keys kept.
    let capacity: Int
    private var queue: [(change: Change, since: ContinuousClock.Instant)] = []
    private var head = 0
    private var queued: Set<Change> = []
    /// When the oldest change of the batch being applied was noted.
    private var inFlightSince: ContinuousClock.Instant?
    /// When the oldest change left to a reconcile pass (dropped on overflow, or not heard) happened.
    private var reconcileSince: ContinuousClock.Instant?
    /// When the oldest change that the running reconcile pass covers happened.
    private var reconcilingSince: ContinuousClock.Instant?

    /// An empty buffer holding at most `capacity` distinct keys.
    init(capacity: Int) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
    }

    /// The number of distinct keys waiting (not counting a batch being applied).
    var count: Int { queued.count }

    /// Whether a reconcile pass is needed because changes were dropped or may have gone unheard.
    var needsReconcile: Bool { reconcileSince != nil }

    /// Records that `change` happened at `time`. A key already waiting keeps its earlier time. Returns `false`
    /// when the buffer overflowed: everything waiting was dropped and a reconcile pass requested.
    @discardableResult
    mutating func note(_ change: Change, at time: ContinuousClock.Instant) -> Bool {
        if queued.contains(change) { return true }
        guard queued.count < capacity else {
            requestReconcile(since: queue.count > head ? queue[head].since : time)
            queue = []
            head = 0
            queued = []
            return false
        }
        queued.insert(change)
        queue.append((change, time))
        return true
    }

    /// Takes up to `limit` of the oldest waiting changes as the batch in flight.
    mutating func take(_ limit: Int) -> [Change] {
        let end = min(queue.count, head + limit)
        guard head < end else { return [] }
        let batch = queue[head..<end]
        inFlightSince = min(inFlightSince ?? batch[head].since, batch[head].since)
        head = end
        for item in batch { queued.remove(item.change) }
        if head > 4096 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return batch.map(\.change)
    }

    /// Marks the batch in flight as applied.
    mutating func completeBatch() {
        inFlightSince = nil
    }

    /// Asks for a reconcile pass covering changes since `time` (a subscription was lost, or notifications
    /// may have been missed).
    mutating func requestReconcile(since time: ContinuousClock.Instant) {
        reconcileSince = min(reconcileSince ?? time, time)
    }

    /// A reconcile pass starts: it covers every change left to one so far.
    mutating func beginReconcile() {
        reconcilingSince = reconcileSince
        reconcileSince = nil
    }

    /// The reconcile pass ended.
    mutating func endReconcile() {
        reconcilingSince = nil
    }

    /// The age at `now` of the oldest change not yet applied to the target (zero when none waits).
    func lag(at now: ContinuousClock.Instant) -> Duration {
        let oldest = [queue.count > head ? queue[head].since : nil, inFlightSince, reconcileSince, reconcilingSince].compactMap { $0 }.min()
        guard let oldest else { return .zero }
        return max(.zero, now - oldest)
    }
}
