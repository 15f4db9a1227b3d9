import Failures
import Foundation
import Logging
import MigrationCore
import RESP
import Transport

/// How `migrate redis --live` follows the source after the full copy.
public struct LiveSyncOptions: Sendable {
    /// The time between two reconcile passes (a full compare that repairs what differs).
    public var reconcileInterval: Duration = .seconds(300)
    /// The most distinct changed keys buffered; beyond it the buffer is dropped for a reconcile pass.
    public var maxPending = 1_000_000
    /// Turn on `notify-keyspace-events` for the run (CONFIG SET) when the source does not publish every change,
    /// and restore it afterwards.
    public var enableNotifications = false
    /// Stop by itself this long after the full copy (else only when asked).
    public var duration: Duration?
    /// The most reconcile passes when stopping, until one finds source and target equal.
    public var finalPasses = 3

    /// The defaults.
    public init() {}
}

/// `migrate redis --live`: subscribes to the source's keyspace notifications, runs the full copy, then applies
/// every changed key as it is announced and reconciles periodically, until stopped. The report says whether
/// source and target ended equal.
public struct LiveSync: Sendable {
    /// The full copy, whose settings and options the live phase shares.
    public var migration: RedisMigration
    /// How the live phase runs.
    public var options: LiveSyncOptions

    /// Creates a live sync.
    public init(migration: RedisMigration, options: LiveSyncOptions) {
        self.migration = migration
        self.options = options
    }

    /// Runs until `stop` is requested (or `options.duration` passes). Problems with the source's notification
    /// settings, connections and credentials are thrown before anything is written.
    public func run(stop: StopRequest) async throws -> MigrationReport {
        let startedAt = Date()
        let settings = migration.settings
        let logger = settings.logger
        let plan = try await KeyspacePlan.make(settings: settings, mapping: migration.options.mapping, alwaysInclude: [0],
                                               writing: migration.options.filter)
        let source = try await settings.source.connect()
        let heartbeatChannel = "migrate:live:\(UUID().uuidString.lowercased())"
        var setup: NotificationSetup
        do {
            setup = try await NotificationSetup.prepare(source: source, enable: options.enableNotifications, logger: logger)
        } catch {
            await source.close()
            throw error
        }
        let subscriptions: [Subscription]
        do {
            subscriptions = try await Self.subscribe(source: source, channels: setup.channels, databases: plan.sourceDatabases,
                                                     heartbeatChannel: heartbeatChannel)
        } catch {
            await setup.restore(source: source, logger: logger)
            await source.close()
            throw error
        }
        let log = ChangeLog(capacity: options.maxPending, lanes: settings.concurrency, databases: plan.sourceDatabases,
                            filter: migration.options.filter, heartbeatChannel: heartbeatChannel, logger: logger)
        await log.setPrimaries(source.primaries)
        let configuration = source.configuration
        do {
            let report = try await withThrowingTaskGroup(of: Void.self) { group in
                for subscription in subscriptions {
                    group.addTask {
                        await Self.follow(subscription, configuration: configuration.with(endpoint: subscription.endpoint), into: log, logger: logger)
                    }
                }
                group.addTask {
                    var publisher = HeartbeatPublisher(channel: heartbeatChannel, configuration: configuration, logger: logger)
                    while (try? await Task.sleep(for: Self.heartbeatInterval)) != nil {
                        _ = await publisher.publish(into: log)
                    }
                    await publisher.close()
                }
                let report = try await follow(plan: plan, log: log, stop: stop, isCluster: source.isCluster) { command in
                    switch command {
                    case .followNewPrimaries:
                        for subscription in await followNewPrimaries(source: source, setup: &setup, databases: plan.sourceDatabases,
                                                                     heartbeatChannel: heartbeatChannel, log: log) {
                            group.addTask {
                                await Self.follow(subscription, configuration: configuration.with(endpoint: subscription.endpoint), into: log, logger: logger)
                            }
                        }
                    case .stop:
                        try await Self.catchUp(log: log, heartbeatChannel: heartbeatChannel, configuration: configuration, logger: logger)
                        group.cancelAll()
                        try await group.waitForAll()
                    }
                }
                group.cancelAll()
                return report
            }
            await setup.restore(source: source, logger: logger)
            await source.close()
            var final = report
            final.startedAt = startedAt
            return final
        } catch {
            await setup.restore(source: source, logger: logger)
            await source.close()
            throw error
        }
    }

    // MARK: Phases

    /// What the phases ask of the subscriptions, which the run owns.
    private enum FollowerCommand {
        /// Look for primaries that appeared (a replica promoted, a node added) and follow them.
        case followNewPrimaries
        /// Read what was published before now, then stop reading.
        case stop
    }

    /// The full copy, then changes and reconcile passes until stopped, then the final drain and reconcile.
    /// On a cluster source, the topology is checked every ``topologyInterval`` for new primaries.
    private func follow(plan: KeyspacePlan, log: ChangeLog, stop: StopRequest, isCluster: Bool,
                        followers: (FollowerCommand) async throws -> Void) async throws -> MigrationReport {
        var copy = migration
        copy.settings.databases = plan.sourceDatabases
        var report = try await copy.run()
        report.command = "migrate redis --live"
        guard report.outcome == .succeeded else { return report }
        // A resumed copy missed whatever changed while no run was listening.
        if report.resumed { await log.requestReconcile() }

        let printer = ProgressPrinter(style: migration.settings.progressStyle)
        let ticker = Task {
            guard let interval = printer.style.refreshInterval else { return }
            while (try? await Task.sleep(for: interval)) != nil {
                let status = await log.status()
                await printer.show(line: status.line, event: "live", status)
            }
        }
        defer { ticker.cancel() }
        let sampler = ProgressTimeline.follow(phase: "redis live", unit: "keys") {
            let status = await log.status()
            return ProgressReading(done: status.applied, lagMs: status.lagMs, pending: status.pending)
        }

        let deadline = options.duration.map { ContinuousClock.now + $0 }
        var nextReconcile = ContinuousClock.now + options.reconcileInterval
        var nextTopologyCheck = ContinuousClock.now + Self.topologyInterval
        try await withThrowingTaskGroup(of: Void.self) { appliers in
            for lane in 0..<max(1, migration.settings.concurrency) {
                appliers.addTask { await applyLane(lane, plan: plan, log: log) }
            }
            while await !stop.isRequested, deadline.map({ ContinuousClock.now < $0 }) ?? true {
                try await log.checkFailure()
                if isCluster && ContinuousClock.now >= nextTopologyCheck {
                    try await followers(.followNewPrimaries)
                    nextTopologyCheck = ContinuousClock.now + Self.topologyInterval
                }
                if await log.needsReconcile || ContinuousClock.now >= nextReconcile {
                    await log.pause()
                    while await !log.isIdle {
                        // A failed applier never finishes its batch.
                        try await log.checkFailure()
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    _ = try await reconcile(plan: plan, log: log, final: false)
                    nextReconcile = ContinuousClock.now + options.reconcileInterval
                } else {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            try await followers(.stop)
            await log.beginDraining()
            try await appliers.waitForAll()
            try await log.checkFailure()
        }
        var last = try await reconcile(plan: plan, log: log, final: true)
        for _ in 1..<max(1, options.finalPasses) where last.differences > 0 {
            last = try await reconcile(plan: plan, log: log, final: true)
        }
        ticker.cancel()
        await sampler?.finish()
        await log.stopped()
        let status = await log.status()
        await printer.show(line: status.line, event: "live", status)
        await printer.endLine()

        var totals = report.totals
        totals.merge(await log.counters.excluding(breakdownLabels))
        report.totals = totals
        report.finishedAt = Date()
        if last.differences > 0 {
            report.outcome = .mismatched
            report.problems += ["source and target still differ after \(options.finalPasses) final reconcile passes (is the source still taking writes?)"]
                + last.problems
        }
        return report
    }

    /// Applies the changes of `lane` in batches, oldest first, until the sync has drained; an error that
    /// retries do not fix is recorded in `log`, failing the run.
    private func applyLane(_ lane: Int, plan: KeyspacePlan, log: ChangeLog) async {
        var writer = makeWriter(plan: plan)
        do {
            while true {
                let batch = await log.take(migration.settings.batchSize, lane: lane)
                if batch.isEmpty {
                    if await log.isDrained(lane: lane) { break }
                    try await Task.sleep(for: .milliseconds(10))
                    continue
                }
                await log.applied(try await apply(batch, writer: &writer), lane: lane)
            }
        } catch {
            await log.fail(error)
        }
        await writer.reset()
    }

    /// Copies the keys of `batch` again (deleting those gone from the source), retrying transient failures.
    private func apply(_ batch: [PendingChanges.Change], writer: inout KeyCopyWriter) async throws -> BatchOutcome {
        var outcome = BatchOutcome()
        for (database, changes) in Dictionary(grouping: batch, by: \.database).sorted(by: { $0.key < $1.key }) {
            let keys = changes.map(\.key)
            let retry = RetryPolicy()
            var attempt = 1
            while true {
                do {
                    let written = try await writer.write(keys, partition: Self.partition(database))
                    outcome.units += written.units
                    outcome.tally.merge(written.tally)
                    break
                } catch {
                    guard attempt < retry.maxAttempts, isTransient(error) else { throw error }
                    migration.settings.logger.warning("applying \(keys.count) changed keys of db \(database) failed (attempt \(attempt)), retrying: \(error)")
                    await ProgressTimeline.noteRetry(error)
                    await writer.reset()
                    try await Task.sleep(for: retry.delay(afterAttempt: attempt))
                    attempt += 1
                }
            }
        }
        return outcome
    }

    /// A compare pass over everything that repairs each difference as it finds it.
    private func reconcile(plan: KeyspacePlan, log: ChangeLog, final: Bool) async throws -> RedisVerification.Comparison {
        await log.beginReconcile(final: final)
        var verifyOptions = RedisVerifyOptions()
        verifyOptions.filter = migration.options.filter
        verifyOptions.mapping = migration.options.mapping
        verifyOptions.bigKeyBytes = migration.options.bigKeyBytes
        let verification = RedisVerification(settings: migration.settings, options: verifyOptions)
        let comparison = try await verification.compare(plan: plan, repair: migration.options, progressStyle: .silent)
        await log.endReconcile(repaired: comparison.totals["repaired"])
        return comparison
    }

    private func makeWriter(plan: KeyspacePlan) -> KeyCopyWriter {
        let databases = Dictionary(uniqueKeysWithValues: plan.sourceDatabases.map { (Self.partition($0), $0) })
        return KeyCopyWriter(source: migration.settings.source, target: migration.settings.target, options: migration.options,
                             partitionDatabases: databases, sourceDatabases: plan.sourceDatabases)
    }

    private static func partition(_ database: Int) -> String { "db\(database)" }

    // MARK: Notifications

    /// How often heartbeat markers measure how far the subscriptions lag.
    private static let heartbeatInterval: Duration = .milliseconds(500)
    /// How long stopping waits for the subscriptions to read what was published before the stop.
    private static let catchUpLimit: Duration = .seconds(60)
    /// How often a cluster source's topology is checked for new primaries.
    private static let topologyInterval: Duration = .seconds(5)

    /// Subscribes on every primary to the notifications of every database and to the heartbeat channel, before
    /// anything is copied.
    private static func subscribe(source: RedisClient, channels: [Endpoint: KeyspaceChannel], databases: [Int],
                                  heartbeatChannel: String) async throws -> [Subscription] {
        var subscriptions: [Subscription] = []
        do {
            for endpoint in source.primaries {
                let channel = channels[endpoint] ?? .keyevent
                subscriptions.append(try await Subscription.open(source.configuration.with(endpoint: endpoint),
                                                                 patterns: databases.map(channel.pattern(database:)) + [heartbeatChannel]))
            }
        } catch {
            for subscription in subscriptions { await subscription.close() }
            throw error
        }
        return subscriptions
    }

    /// Publishes a last heartbeat on every primary and waits (at most ``catchUpLimit``) until every subscription
    /// has heard it, and so read every notification published before the stop.
    private static func catchUp(log: ChangeLog, heartbeatChannel: String, configuration: RedisConnectionConfiguration,
                                logger: Logger) async throws {
        var publisher = HeartbeatPublisher(channel: heartbeatChannel, configuration: configuration, logger: logger)
        let last = await publisher.publish(into: log)
        await publisher.close()
        let deadline = ContinuousClock.now + catchUpLimit
        while await !log.caughtUp(through: last) {
            guard ContinuousClock.now < deadline else {
                logger.warning("the subscriptions did not catch up within \(catchUpLimit); the final reconcile pass will find what they missed")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Subscribes to the primaries that appeared since the last look (a replica promoted, a node added), and
    /// asks for a reconcile pass for what they took before; followers of nodes no longer primaries end.
    /// Failures are logged and tried again at the next look.
    private func followNewPrimaries(source: RedisClient, setup: inout NotificationSetup, databases: [Int], heartbeatChannel: String,
                                    log: ChangeLog) async -> [Subscription] {
        let logger = migration.settings.logger
        do {
            try await source.refreshTopology()
        } catch {
            logger.warning("cannot read the source's topology, keeping the subscriptions as they are: \(error)")
            return []
        }
        let known = await log.primaries
        var followed = source.primaries.filter(known.contains)
        var subscriptions: [Subscription] = []
        for endpoint in source.primaries where !known.contains(endpoint) {
            do {
                try await setup.prepare(endpoint, source: source, enable: options.enableNotifications, logger: logger)
                let channel = setup.channels[endpoint] ?? .keyevent
                subscriptions.append(try await Subscription.open(source.configuration.with(endpoint: endpoint),
                                                                 patterns: databases.map(channel.pattern(database:)) + [heartbeatChannel]))
                followed.append(endpoint)
                logger.notice("following the keyspace notifications of the new primary \(endpoint)")
            } catch {
                logger.error("cannot follow the new primary \(endpoint), reconcile passes will catch its changes: \(error)")
            }
        }
        if Set(followed) != Set(known) {
            await log.setPrimaries(followed)
            await log.requestReconcile()
        }
        return subscriptions
    }

    /// Reads one primary's notifications into `log` until cancelled. A lost subscription is opened again, and
    /// since changes may have gone unheard meanwhile, a reconcile pass is requested.
    private static func follow(_ first: Subscription, configuration: RedisConnectionConfiguration, into log: ChangeLog, logger: Logger) async {
        var subscription: Subscription? = first
        let patterns = first.patterns
        let node = "\(first.endpoint)"
        var failures = 0
        let retry = RetryPolicy()
        while !Task.isCancelled, await log.follows(first.endpoint) {
            do {
                if subscription == nil {
                    subscription = try await Subscription.open(configuration, patterns: patterns)
                    // Changes between the loss and now went unheard, even if a pass ran meanwhile.
                    await log.requestReconcile()
                    failures = 0
                }
                let messages = try await subscription!.next()
                if !messages.isEmpty { await log.note(messages, from: node) }
            } catch {
                failures += 1
                logger.warning("keyspace notifications from \(configuration.endpoint) lost, subscribing again (a reconcile pass will catch up): \(error)")
                await subscription?.close()
                subscription = nil
                await log.lost(node)
                try? await Task.sleep(for: retry.delay(afterAttempt: min(failures, 6)))
            }
        }
        await subscription?.close()
    }
}
