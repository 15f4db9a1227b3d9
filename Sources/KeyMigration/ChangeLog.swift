import Logging
import MigrationCore
import RESP
import Transport

/// The state of a live sync as progress shows it (`{"event":"live",…}` with `--json`).
public struct LiveStatus: Sendable, Codable, Equatable {
    /// What the sync is doing: `following`, `reconciling`, `draining`, `final reconcile` or `stopped`.
    public var phase: String
    /// Keyspace notifications received for keys the run copies.
    public var notifications: Int
    /// Changed keys applied to the target.
    public var applied: Int
    /// Changed keys waiting to be applied.
    public var pending: Int
    /// The age of the oldest change not yet applied, in milliseconds.
    public var lagMs: Int
    /// Keys that reconcile passes found different and fixed.
    public var reconciled: Int
    /// Reconcile passes run.
    public var reconciles: Int
    /// Times the pending set overflowed and a reconcile pass replaced it.
    public var overflows: Int

    /// `live  following  applied 1,204  pending 3  lag 12 ms  reconciled 0 (1 pass)`.
    public var line: String {
        "live  \(phase)  applied \(Format.count(applied))  pending \(Format.count(pending))  lag \(Format.count(lagMs)) ms  "
            + "reconciled \(Format.count(reconciled)) (\(reconciles) \(reconciles == 1 ? "pass" : "passes"))"
            + (overflows > 0 ? "  overflows \(overflows)" : "")
    }
}

/// The changes a live sync has heard of and not yet applied, shared by the subscription readers (which note
/// them) and the appliers (which take them in batches), with the run's live counters.
///
/// Changes are spread over lanes by key, each applied by one applier in order, so that appliers run
/// concurrently but never write the same key at once (a later value could otherwise be overwritten by an
/// earlier one). Reconcile passes pause the appliers, for the same reason.
actor ChangeLog {
    private var lanes: [PendingChanges]
    private var heartbeats = Heartbeats()
    private let databases: Set<Int>
    private let filter: KeyFilter
    private let heartbeatChannel: [UInt8]
    private let logger: Logger
    private let capacity: Int
    private var phase = "following"
    private var paused = false
    private var draining = false
    private var inFlight = 0
    private var failure: (any Error)?
    /// Counters for the report (`live applied`, `reconciled`, …).
    private(set) var counters = Tally()
    /// The source primaries followed: their subscriptions read, heartbeats published on them.
    private(set) var primaries: [Endpoint] = []

    /// A log for changes in `databases` whose names `filter` admits, spread over `lanes` lanes holding at most
    /// `capacity` keys in all, with heartbeat markers on `heartbeatChannel`.
    init(capacity: Int, lanes: Int, databases: [Int], filter: KeyFilter, heartbeatChannel: String, logger: Logger) {
        self.capacity = capacity
        self.logger = logger
        self.lanes = Array(repeating: PendingChanges(capacity: max(1, capacity / max(1, lanes))), count: max(1, lanes))
        self.databases = Set(databases)
        self.filter = filter
        self.heartbeatChannel = Array(heartbeatChannel.utf8)
    }

    /// Notes the changes that `messages`, read from `node`'s subscription, announce, and the heartbeats heard.
    func note(_ messages: [PublishedMessage], from node: String) {
        let now = ContinuousClock.now
        for message in messages {
            if message.channel == heartbeatChannel {
                if let beat = Heartbeats.parse(message.payload), beat.node == node { heartbeats.heard(beat.sequence, from: node) }
                continue
            }
            guard let notification = KeyspaceNotification(message), notification.event != "keymiss",
                  databases.contains(notification.database), filter.admits(notification.key) else { continue }
            counters.add("live notifications")
            let change = PendingChanges.Change(database: notification.database, key: notification.key)
            var hasher = Hasher()
            hasher.combine(change)
            let lane = Int(UInt(bitPattern: hasher.finalize()) % UInt(lanes.count))
            let reconcileWasDue = needsReconcile
            if !lanes[lane].note(change, at: now) {
                counters.add("pending overflows")
                if !reconcileWasDue {
                    logger.warning("""
                        more changed keys are pending than --max-pending (\(capacity)) allows: dropped them, a reconcile pass \
                        will find what changed instead (slower; raise --max-pending or --concurrency to avoid it)
                        """)
                }
            }
        }
    }

    /// Takes up to `limit` of the oldest changes of `lane` to apply; none while a reconcile pass runs.
    func take(_ limit: Int, lane: Int) -> [PendingChanges.Change] {
        guard !paused else { return [] }
        let batch = lanes[lane].take(limit)
        if !batch.isEmpty { inFlight += 1 }
        return batch
    }

    /// Records that the batch `lane` took last was applied with `outcome`.
    func applied(_ outcome: BatchOutcome, lane: Int) {
        lanes[lane].completeBatch()
        inFlight -= 1
        counters.add("live applied", outcome.units)
        for (name, value) in outcome.tally.counts where name != "scanned" {
            counters.add("live \(name)", value)
        }
    }

    /// Whether `lane` is done: the sync is draining and nothing is left in the lane.
    func isDrained(lane: Int) -> Bool {
        draining && lanes[lane].count == 0
    }

    /// Records why an applier stopped; the run fails with it.
    func fail(_ error: any Error) {
        if failure == nil { failure = error }
    }

    /// Throws the error an applier stopped with, if any.
    func checkFailure() throws {
        if let failure { throw failure }
    }

    /// Asks for a reconcile pass: changes until now may have gone unheard (a copy resumed, a subscription
    /// was opened again).
    func requestReconcile() {
        lanes[0].requestReconcile(since: .now)
    }

    /// `node`'s subscription was lost: what it did not deliver is left to a reconcile pass.
    func lost(_ node: String) {
        heartbeats.forget(node)
        counters.add("subscriptions lost")
        requestReconcile()
    }

    /// Follows `endpoints` from now on: others' subscriptions end and their heartbeats are no longer awaited.
    func setPrimaries(_ endpoints: [Endpoint]) {
        for gone in primaries where !endpoints.contains(gone) {
            heartbeats.forget("\(gone)")
        }
        primaries = endpoints
    }

    /// Whether `endpoint` is still a followed primary.
    func follows(_ endpoint: Endpoint) -> Bool {
        primaries.contains(endpoint)
    }

    /// The sequence number of the next heartbeat.
    func nextHeartbeat() -> Int {
        heartbeats.next()
    }

    /// Heartbeat `sequence` is about to be published on `node`.
    func publishing(_ sequence: Int, on node: String) {
        heartbeats.sent(sequence, to: node, at: .now)
    }

    /// Heartbeats cannot be published on `node`: stop waiting for them.
    func unpublished(on node: String) {
        heartbeats.forget(node)
    }

    /// Whether every subscription heard heartbeat `sequence`, and so every notification published before it.
    func caughtUp(through sequence: Int) -> Bool {
        heartbeats.caughtUp(through: sequence)
    }

    /// Whether a reconcile pass is due because changes were dropped or unheard.
    var needsReconcile: Bool { lanes.contains(where: \.needsReconcile) }

    /// Stops handing out batches, for a reconcile pass; ``isIdle`` says when the batches out are applied.
    func pause() {
        paused = true
    }

    /// Whether no batch is being applied.
    var isIdle: Bool { inFlight == 0 }

    /// A reconcile pass starts (appliers paused and idle).
    func beginReconcile(final: Bool) {
        for lane in lanes.indices { lanes[lane].beginReconcile() }
        phase = final ? "final reconcile" : "reconciling"
    }

    /// A reconcile pass ended, having fixed `repaired` keys; appliers go on.
    func endReconcile(repaired: Int) {
        for lane in lanes.indices { lanes[lane].endReconcile() }
        paused = false
        counters.add("reconcile passes")
        counters.add("reconciled", repaired)
        if phase == "reconciling" { phase = "following" }
    }

    /// The sync stopped following notifications: appliers apply what is left, then end.
    func beginDraining() {
        draining = true
        phase = "draining"
    }

    /// The sync is over.
    func stopped() {
        phase = "stopped"
    }

    /// The age of the oldest change not yet applied: pending, or not yet read from a subscription.
    private var lag: Duration {
        let now = ContinuousClock.now
        let pending = lanes.map { $0.lag(at: now) }.max() ?? .zero
        return max(pending, heartbeats.oldest.map { now - $0 } ?? .zero)
    }

    /// The current state.
    func status() -> LiveStatus {
        LiveStatus(phase: phase, notifications: counters["live notifications"], applied: counters["live applied"],
                   pending: lanes.reduce(0) { $0 + $1.count }, lagMs: Self.milliseconds(lag),
                   reconciled: counters["reconciled"], reconciles: counters["reconcile passes"], overflows: counters["pending overflows"])
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
