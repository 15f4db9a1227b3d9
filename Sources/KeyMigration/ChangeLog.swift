import MigrationCore
import RESP

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
/// them) and the applier (which takes them in batches), with the run's live counters.
actor ChangeLog {
    private var pending: PendingChanges
    private var heartbeats = Heartbeats()
    private let databases: Set<Int>
    private let filter: KeyFilter
    private let heartbeatChannel: [UInt8]
    private var phase = "following"
    /// Counters for the report (`live applied`, `reconciled`, …).
    private(set) var counters = Tally()

    /// A log for changes in `databases` whose names `filter` admits, holding at most `capacity` keys, with
    /// heartbeat markers on `heartbeatChannel`.
    init(capacity: Int, databases: [Int], filter: KeyFilter, heartbeatChannel: String) {
        self.pending = PendingChanges(capacity: capacity)
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
            if !pending.note(.init(database: notification.database, key: notification.key), at: now) {
                counters.add("pending overflows")
            }
        }
    }

    /// Takes up to `limit` of the oldest changes to apply.
    func take(_ limit: Int) -> [PendingChanges.Change] {
        pending.take(limit)
    }

    /// Records that the batch taken last was applied with `outcome`.
    func applied(_ outcome: BatchOutcome) {
        pending.completeBatch()
        counters.add("live applied", outcome.units)
        for (name, value) in outcome.tally.counts where name != "scanned" {
            counters.add("live \(name)", value)
        }
    }

    /// Asks for a reconcile pass: changes until now may have gone unheard (a copy resumed, a subscription
    /// was opened again).
    func requestReconcile() {
        pending.requestReconcile(since: .now)
    }

    /// `node`'s subscription was lost: what it did not deliver is left to a reconcile pass.
    func lost(_ node: String) {
        heartbeats.forget(node)
        counters.add("subscriptions lost")
        pending.requestReconcile(since: .now)
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
    var needsReconcile: Bool { pending.needsReconcile }

    /// Whether nothing waits to be applied.
    var isEmpty: Bool { pending.count == 0 }

    /// A reconcile pass starts.
    func beginReconcile(final: Bool) {
        pending.beginReconcile()
        phase = final ? "final reconcile" : "reconciling"
    }

    /// A reconcile pass ended, having fixed `repaired` keys.
    func endReconcile(repaired: Int) {
        pending.endReconcile()
        counters.add("reconcile passes")
        counters.add("reconciled", repaired)
        if phase == "reconciling" { phase = "following" }
    }

    /// The sync stopped following notifications and applies what is left.
    func beginDraining() {
        phase = "draining"
    }

    /// The sync is over.
    func stopped() {
        phase = "stopped"
    }

    /// The age of the oldest change not yet applied: pending, or not yet read from a subscription.
    private var lag: Duration {
        let now = ContinuousClock.now
        return max(pending.lag(at: now), heartbeats.oldest.map { now - $0 } ?? .zero)
    }

    /// The current state.
    func status() -> LiveStatus {
        LiveStatus(phase: phase, notifications: counters["live notifications"], applied: counters["live applied"],
                   pending: pending.count, lagMs: Self.milliseconds(lag),
                   reconciled: counters["reconciled"], reconciles: counters["reconcile passes"], overflows: counters["pending overflows"])
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
