import AsyncAlgorithms
import Foundation
import Logging

/// A batch read from one partition of a source.
public struct ReadBatch<Item: Sendable>: Sendable {
    /// The items, in source order.
    public var items: [Item]
    /// The source position after these items: where a resumed run continues.
    public var position: String
    /// Whether this is the partition's last batch.
    public var isLast: Bool

    /// Creates a batch.
    public init(items: [Item], position: String, isLast: Bool) {
        self.items = items
        self.position = position
        self.isLast = isLast
    }
}

/// Reads one partition in batches, from a position onwards. Owned by one task.
public protocol BatchReader<Item> {
    /// The unit read (a key name, a row, a node).
    associatedtype Item: Sendable
    /// The next batch; after a batch with `isLast`, it is not called again.
    mutating func next() async throws -> ReadBatch<Item>
}

/// Writes (or compares) batches. Each worker owns one writer and its connections.
public protocol BatchWriter<Item> {
    /// The unit written.
    associatedtype Item: Sendable
    /// Writes `items`, read from `partition`, and says what was done. Must be idempotent: after a crash the
    /// batch is written again.
    mutating func write(_ items: [Item], partition: String) async throws -> BatchOutcome
    /// Drops the writer's connections: after a transient failure, so the retry reconnects, and when the run ends.
    mutating func reset() async
}

/// What writing one batch did.
public struct BatchOutcome: Sendable {
    /// Units done (for progress).
    public var units: Int
    /// Bytes moved (for progress).
    public var bytes: Int
    /// Counters for the report.
    public var tally: Tally
    /// Checksum over the records written or compared.
    public var checksum: OrderIndependentChecksum
    /// Problems for the report (refused keys, differences), first ones first.
    public var problems: [String]
    /// The account of every record of the batch, per unit.
    public var ledger: Ledger

    /// An empty outcome.
    public init(units: Int = 0, bytes: Int = 0, tally: Tally = Tally(), checksum: OrderIndependentChecksum = .init(), problems: [String] = [],
                ledger: Ledger = Ledger()) {
        self.units = units
        self.bytes = bytes
        self.tally = tally
        self.checksum = checksum
        self.problems = problems
        self.ledger = ledger
    }
}

/// A partition of the source (a cluster primary and database, a shard of a table) and where it starts.
public struct PartitionPlan: Sendable, Hashable {
    /// A stable name, the key in the checkpoint (`127.0.0.1:7000/db0`).
    public var name: String
    /// The position a fresh run starts from.
    public var initialPosition: String

    /// Creates a plan.
    public init(name: String, initialPosition: String) {
        self.name = name
        self.initialPosition = initialPosition
    }
}

/// The shared engine of every migration: partitions are read concurrently, batches flow through a bounded
/// channel to a fixed number of writers, completed batches are committed in order per partition into a
/// checkpoint (so a resumed run continues exactly after the last durable batch), with retries, a rate limit,
/// and progress.
///
/// Memory is bounded by `concurrency` batches in writers plus one waiting batch per partition reader.
public struct PipelineRunner: Sendable {
    /// Tuning for one run.
    public struct Configuration: Sendable {
        /// How many writers run at once.
        public var concurrency: Int
        /// How transient failures are retried.
        public var retry: RetryPolicy
        /// Which errors are transient.
        public var isTransient: @Sendable (any Error) -> Bool
        /// The least time between two checkpoint writes.
        public var checkpointInterval: Duration
        /// An optional limit on units per second.
        public var rateLimiter: RateLimiter?
        /// The most problems kept for the report.
        public var problemLimit: Int

        /// Creates a configuration.
        public init(
            concurrency: Int, retry: RetryPolicy = .init(), isTransient: @escaping @Sendable (any Error) -> Bool,
            checkpointInterval: Duration = .milliseconds(500), rateLimiter: RateLimiter? = nil, problemLimit: Int = 100
        ) {
            self.concurrency = max(1, concurrency)
            self.retry = retry
            self.isTransient = isTransient
            self.checkpointInterval = checkpointInterval
            self.rateLimiter = rateLimiter
            self.problemLimit = problemLimit
        }
    }

    /// The result of a run.
    public struct Result: Sendable {
        /// The final checkpoint (what was committed).
        public var checkpoint: Checkpoint
        /// Problems reported by writers, up to the configured limit.
        public var problems: [String]
        /// How many problems there were in all.
        public var problemCount: Int
    }

    private let configuration: Configuration
    private let logger: Logger

    /// Creates a runner.
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs every unfinished partition of `partitions` to its end.
    ///
    /// - Parameters:
    ///   - partitions: the partitions to run; those missing from `checkpoint` are added, finished ones skipped.
    ///   - checkpoint: where the run starts (new, or loaded for `--resume`).
    ///   - store: where commits are persisted, or `nil` for runs that keep no checkpoint (verification).
    ///   - progress: where units and bytes are counted.
    ///   - makeReader: opens a reader for a partition from a position.
    ///   - makeWriter: opens a writer (called once per worker).
    public func run<Item: Sendable, Reader: BatchReader<Item> & SendableMetatype, Writer: BatchWriter<Item> & SendableMetatype>(
        partitions: [PartitionPlan],
        checkpoint: Checkpoint,
        store: CheckpointStore?,
        progress: ProgressReporter,
        makeReader: @escaping @Sendable (_ partition: String, _ position: String) async throws -> sending Reader,
        makeWriter: @escaping @Sendable () async throws -> sending Writer
    ) async throws -> Result {
        var initial = checkpoint
        for partition in partitions where initial.partitions[partition.name] == nil {
            initial.partitions[partition.name] = Checkpoint.PartitionState(position: partition.initialPosition)
        }
        let state = CommitState(checkpoint: initial, store: store, interval: configuration.checkpointInterval, problemLimit: configuration.problemLimit)
        // Only the partitions named here run (a migration may run its partitions in phases over one checkpoint).
        let work = partitions.compactMap { partition -> (name: String, position: String)? in
            guard let state = initial.partitions[partition.name], !state.finished else { return nil }
            return (partition.name, state.position)
        }
        let channel = AsyncChannel<WorkItem<Item>>()
        let configuration = self.configuration
        let logger = self.logger

        do {
            // A cancelled run (SIGINT) saves what is committed at once, not only once its blocked I/O returns.
            try await withTaskCancellationHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { channel.finish() }
                        try await withThrowingTaskGroup(of: Void.self) { readers in
                            for partition in work {
                                readers.addTask {
                                    try await Self.read(partition: partition.name, from: partition.position, into: channel, state: state,
                                                        configuration: configuration, logger: logger, makeReader: makeReader)
                                }
                            }
                            try await Self.waitForAll(&readers)
                        }
                    }
                    for _ in 0..<configuration.concurrency {
                        group.addTask {
                            var writer = try await makeWriter()
                            for await item in channel {
                                try Task.checkCancellation()
                                if let limiter = configuration.rateLimiter, !item.items.isEmpty {
                                    try await limiter.acquire(item.items.count)
                                }
                                let outcome = try await Self.write(item, with: &writer, configuration: configuration, logger: logger)
                                await progress.advance(outcome.units, bytes: outcome.bytes)
                                try await state.complete(partition: item.partition, sequence: item.sequence, isLast: item.isLast, outcome: outcome)
                            }
                            await writer.reset()
                        }
                    }
                    try await Self.waitForAll(&group)
                }
            } onCancel: {
                Task { try? await state.flush() }
            }
        } catch {
            // Persist what was committed before the failure; the error that stopped the run wins.
            try? await state.flush()
            throw error
        }
        try await state.flush()
        return await state.result()
    }

    /// Waits for every task of `group`, but stops at the first error: leaving the group's body with it cancels
    /// the other tasks. (`ThrowingTaskGroup.waitForAll()` waits for them all first: once every writer has failed,
    /// a reader would wait forever to hand over its next batch.)
    private static func waitForAll(_ group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        while try await group.next() != nil {}
    }

    private static func read<Item: Sendable, Reader: BatchReader<Item>>(
        partition: String, from start: String, into channel: AsyncChannel<WorkItem<Item>>, state: CommitState,
        configuration: Configuration, logger: Logger,
        makeReader: @Sendable (String, String) async throws -> sending Reader
    ) async throws {
        var position = start
        var failures = 0
        var reader = try await makeReader(partition, position)
        while !Task.isCancelled {
            let batch: ReadBatch<Item>
            do {
                batch = try await reader.next()
                failures = 0
            } catch {
                failures += 1
                guard configuration.isTransient(error), failures < configuration.retry.maxAttempts else { throw error }
                logger.warning("reading \(partition) failed, retrying from its last position: \(error)")
                await ProgressTimeline.noteRetry(error)
                try await Task.sleep(for: configuration.retry.delay(afterAttempt: failures))
                reader = try await makeReader(partition, position)
                continue
            }
            position = batch.position
            let sequence = await state.issue(partition: partition, position: batch.position)
            await channel.send(WorkItem(partition: partition, sequence: sequence, items: batch.items, isLast: batch.isLast))
            if batch.isLast { return }
        }
    }

    private static func write<Item: Sendable, Writer: BatchWriter<Item>>(
        _ item: WorkItem<Item>, with writer: inout Writer, configuration: Configuration, logger: Logger
    ) async throws -> BatchOutcome {
        var attempt = 1
        while true {
            do {
                var outcome = try await writer.write(item.items, partition: item.partition)
                if attempt > 1 { outcome.tally.add("retried batches", attempt - 1) }
                return outcome
            } catch {
                guard attempt < configuration.retry.maxAttempts, configuration.isTransient(error), !Task.isCancelled else { throw error }
                logger.warning("writing a batch of \(item.items.count) from \(item.partition) failed (attempt \(attempt)), retrying: \(error)")
                await ProgressTimeline.noteRetry(error)
                await writer.reset()
                try await Task.sleep(for: configuration.retry.delay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }
}

/// One batch on its way from a reader to a writer.
struct WorkItem<Item: Sendable>: Sendable {
    var partition: String
    var sequence: Int
    var items: [Item]
    var isLast: Bool
}

/// Commits batch results in order per partition and persists the checkpoint.
actor CommitState {
    private var checkpoint: Checkpoint
    private var ledgers: [String: BatchLedger<BatchOutcome>] = [:]
    private var lastSequence: [String: Int] = [:]
    private let store: CheckpointStore?
    private let interval: Duration
    private var lastSave = ContinuousClock.now
    private var dirty = false
    private var problems: [String] = []
    private var problemCount = 0
    private let problemLimit: Int

    init(checkpoint: Checkpoint, store: CheckpointStore?, interval: Duration, problemLimit: Int) {
        self.checkpoint = checkpoint
        self.store = store
        self.interval = interval
        self.problemLimit = problemLimit
    }

    func issue(partition: String, position: String) -> Int {
        ledgers[partition, default: BatchLedger()].issue(endingAt: position)
    }

    func complete(partition: String, sequence: Int, isLast: Bool, outcome: BatchOutcome) async throws {
        if isLast { lastSequence[partition] = sequence }
        problemCount += outcome.problems.count
        problems.append(contentsOf: outcome.problems.prefix(max(0, problemLimit - problems.count)))
        guard let commit = ledgers[partition]?.complete(sequence, result: outcome) else { return }
        var partitionState = checkpoint.partitions[partition]!
        for result in commit.results {
            partitionState.tally.merge(result.tally)
            partitionState.checksum.merge(result.checksum)
            partitionState.ledger.merge(result.ledger)
        }
        partitionState.position = commit.position
        if lastSequence[partition] != nil, ledgers[partition]?.inFlight == 0 {
            partitionState.finished = true
        }
        checkpoint.partitions[partition] = partitionState
        checkpoint.updatedAt = Date()
        dirty = true
        if ContinuousClock.now - lastSave >= interval {
            try await flush()
        }
    }

    func flush() async throws {
        guard dirty, let store else { return }
        checkpoint.finished = checkpoint.partitions.values.allSatisfy(\.finished)
        dirty = false
        lastSave = .now
        try await store.save(checkpoint)
    }

    func result() -> PipelineRunner.Result {
        var final = checkpoint
        final.finished = final.partitions.values.allSatisfy(\.finished)
        return PipelineRunner.Result(checkpoint: final, problems: problems, problemCount: problemCount)
    }
}
