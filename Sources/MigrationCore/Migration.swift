import Failures
import Foundation
import Logging

/// What a store says about one migration: what it reads, how to read and write it, and how to count its
/// target. ``MigrationRunner`` owns the rest (checkpoint, ledger, progress, retries, dead letters, report,
/// outcome), so a store module never decides on its own that a run succeeded.
///
/// A store makes one by connecting to both sides and checking everything that can be checked before the first
/// write (addresses, credentials, certificates, mappings, identity collisions), throwing when the run cannot
/// start; the value then holds its ``plan``.
public protocol Migration: Sendable {
    /// The record that travels (a key, a row, a node or relationship).
    associatedtype Item: Sendable
    /// Reads one partition.
    associatedtype Reader: BatchReader<Item> & SendableMetatype
    /// Writes batches to the target; one per worker.
    associatedtype Writer: BatchWriter<Item> & SendableMetatype

    /// What the run reads, decided before anything is written.
    var plan: MigrationPlan { get }

    /// A reader of `partition` from `position` (a partition's initial position for a fresh start).
    func reader(partition: String, position: String) async throws -> sending Reader

    /// A writer, which lists every record the target refuses in `deadLetters`, with its reason.
    func writer(deadLetters: DeadLetterFile) async throws -> sending Writer

    /// The target's count of records per ledger unit, or `nil` when this run's target cannot be counted (a dry
    /// run, files for a bulk loader). Units the target holds nothing of may be left out.
    func countTarget(units: [String]) async throws -> [String: Int]?

    /// Work after the last stage (uploads, bulk loads); returns notes for the report.
    func finish() async throws -> [String]

    /// The report's tables, from the final checkpoint.
    func sections(_ checkpoint: Checkpoint) -> [MigrationReport.Section]
}

extension Migration {
    /// Nothing to finish.
    public func finish() async throws -> [String] { [] }
}

/// What a migration will read, decided before anything is written.
public struct MigrationPlan: Sendable {
    /// The store (`redis`, `vectors`, `graph`): names the checkpoint and dead-letter files.
    public var store: String
    /// The command for the report (`migrate redis`).
    public var command: String
    /// The source, without secrets.
    public var source: String
    /// The target, without secrets.
    public var target: String
    /// A digest of the source, target and every option that decides what goes where.
    public var fingerprint: String
    /// Groups of partitions run one after the other, each to its end (a graph's nodes before its relationships).
    public var stages: [[PartitionPlan]]
    /// The ledger units known before the copy; the target's count of each is kept when the migration first starts.
    public var units: [String]
    /// What a record is called in progress lines (`keys`).
    public var recordName: String
    /// How many records the run should read, when known.
    public var estimatedRecords: Int?
    /// Facts for the report found while planning (rules applied, conversions).
    public var notes: [String]
    /// Fragments of counter names that report sections break down, left out of the totals table.
    public var breakdowns: [String]
    /// Whether other writers fill the same units at the same time (the other shards of a `--shard i/N` run), so
    /// the target's count can only be held to at least what this run wrote.
    public var sharesTarget: Bool
    /// What the fingerprint digests, readable (`source`, `source replication id`, `target`, `selection`, `shard`):
    /// kept in the checkpoint so that a refused `--resume` names what differs.
    public var identity: [String: String] = [:]

    /// Creates a plan.
    public init(store: String, command: String, source: String, target: String, fingerprint: String, stages: [[PartitionPlan]],
                units: [String], recordName: String, estimatedRecords: Int?, notes: [String] = [], breakdowns: [String] = [],
                sharesTarget: Bool = false) {
        self.store = store
        self.command = command
        self.source = source
        self.target = target
        self.fingerprint = fingerprint
        self.stages = stages
        self.units = units
        self.recordName = recordName
        self.estimatedRecords = estimatedRecords
        self.notes = notes
        self.breakdowns = breakdowns
        self.sharesTarget = sharesTarget
    }
}

/// Drives any ``Migration`` to its end and earns its outcome from the ledger.
///
/// It begins (or resumes) the checkpoint, counts the target per unit on a migration's first start, runs each
/// stage through ``PipelineRunner`` (positions are checkpointed only after their batch is acknowledged), then
/// counts the target again and holds every unit's ledger against it. The outcome is `succeeded` only when every
/// unit balances, the target's counts agree and nothing was refused; refused records make it `incomplete`
/// (every record refused: `failed`); anything unaccounted for makes it `failed`.
public struct MigrationRunner: Sendable {
    /// How one run is driven.
    public struct Settings: Sendable {
        /// Where checkpoints and dead-letter files are kept.
        public var checkpointDirectory: String
        /// What to do with an earlier checkpoint.
        public var resumePolicy: ResumePolicy
        /// Read and account, write nothing (no checkpoint, no target count).
        public var dryRun: Bool
        /// Concurrent writers.
        public var concurrency: Int
        /// The most records per second, if limited.
        public var rateLimit: Int?
        /// How progress is shown.
        public var progressStyle: ProgressStyle
        /// Where warnings go.
        public var logger: Logger

        /// Creates settings.
        public init(checkpointDirectory: String, resumePolicy: ResumePolicy, dryRun: Bool = false, concurrency: Int, rateLimit: Int? = nil,
                    progressStyle: ProgressStyle, logger: Logger) {
            self.checkpointDirectory = checkpointDirectory
            self.resumePolicy = resumePolicy
            self.dryRun = dryRun
            self.concurrency = concurrency
            self.rateLimit = rateLimit
            self.progressStyle = progressStyle
            self.logger = logger
        }
    }

    /// How this runner drives.
    public var settings: Settings

    /// Creates a runner.
    public init(settings: Settings) {
        self.settings = settings
    }

    /// The checkpoint file of a plan.
    public func checkpointPath(_ plan: MigrationPlan) -> String {
        filePath(plan, suffix: ".json")
    }

    /// The dead-letter file of a plan: one JSON object per refused record.
    public func deadLetterPath(_ plan: MigrationPlan) -> String {
        filePath(plan, suffix: "-dead-letter.jsonl")
    }

    private func filePath(_ plan: MigrationPlan, suffix: String) -> String {
        (settings.checkpointDirectory as NSString).appendingPathComponent("\(plan.store)-\(plan.fingerprint.prefix(16))\(suffix)")
    }

    /// Runs `migration` to its end. A checkpoint that cannot be begun (an unfinished run without `--resume`, a
    /// full disk) or a target that cannot be counted before the first write is thrown; a failure during the copy
    /// returns a report with outcome `failed` and keeps the checkpoint for `--resume`.
    public func run<M: Migration>(_ migration: M) async throws -> MigrationReport {
        let startedAt = Date()
        let plan = migration.plan
        let dryRun = settings.dryRun
        let retry = RetryPolicy()
        let store = CheckpointStore(path: checkpointPath(plan))
        let deadLetters = DeadLetterFile(path: deadLetterPath(plan))
        var (checkpoint, resumed) = dryRun
            ? (Checkpoint(migration: plan.store, fingerprint: plan.fingerprint, startedAt: startedAt), false)
            : try await store.begin(migration: plan.store, fingerprint: plan.fingerprint, identity: plan.identity, policy: settings.resumePolicy,
                                    startedAt: startedAt)
        if !dryRun && !resumed {
            // A new migration: what the target holds before the first write, the baseline of the final count.
            try await deadLetters.clear()
            let counted = try await retry.run(isTransient: isTransient) { try await migration.countTarget(units: plan.units) }
            checkpoint.targetBefore = counted.map { counts in
                counts.merging(plan.units.map { ($0, 0) }) { counted, _ in counted }
            }
            try await store.save(checkpoint)
        }

        let progress = ProgressReporter(phase: dryRun ? "\(plan.store) (dry run)" : plan.store, unit: plan.recordName,
                                        total: plan.estimatedRecords, style: settings.progressStyle)
        await progress.restore(done: checkpoint.ledger.total.selected, bytes: checkpoint.tally["bytes"])
        await progress.start()
        let pipeline = PipelineRunner(
            configuration: .init(concurrency: settings.concurrency, isTransient: isTransient,
                                 rateLimiter: settings.rateLimit.map { RateLimiter(perSecond: $0) }),
            logger: settings.logger
        )
        var problems: [String] = []
        var notes = plan.notes
        var failure: (any Error)?
        do {
            for stage in plan.stages {
                let result = try await pipeline.run(
                    partitions: stage, checkpoint: checkpoint, store: dryRun ? nil : store, progress: progress,
                    makeReader: { partition, position in try await migration.reader(partition: partition, position: position) },
                    makeWriter: { try await migration.writer(deadLetters: deadLetters) }
                )
                checkpoint = result.checkpoint
                problems += result.problems
                if result.problemCount > result.problems.count {
                    problems.append("… and \(result.problemCount - result.problems.count) more")
                }
            }
            notes += try await migration.finish()
        } catch {
            failure = Task.isCancelled ? MigrationRunError.interrupted : error
            if !dryRun, let saved = try? await store.load() { checkpoint = saved }
        }
        if failure == nil && Task.isCancelled { failure = MigrationRunError.interrupted }
        await progress.finish()

        var ledger = checkpoint.ledger
        for unit in plan.units { ledger.open(unit) }
        var onTarget: [String: Int]?
        if failure == nil && !dryRun {
            do {
                onTarget = try await retry.run(isTransient: isTransient) { try await migration.countTarget(units: ledger.units.keys.sorted()) }
            } catch {
                failure = MigrationRunError.targetNotCounted(reason: "\(error)")
            }
        }
        // A unit missing from `before` is held only to a lower bound: what this run wrote must be there.
        let audit = LedgerAudit(ledger: ledger, before: plan.sharesTarget ? [:] : checkpoint.targetBefore ?? [:], onTarget: onTarget)
        if plan.sharesTarget && onTarget != nil {
            notes.append("other shards write to the same target, so its count is held only to at least what this shard wrote; migrate verify --shard compares every record")
        }
        let verdict = Verdict(failure: failure, audit: audit, finished: checkpoint.partitions.values.allSatisfy(\.finished) || dryRun,
                              dryRun: dryRun, deadLetters: (path: deadLetters.path, appended: await deadLetters.count))
        var report = MigrationReport(
            command: plan.command, source: plan.source, target: plan.target, outcome: verdict.outcome, startedAt: startedAt,
            resumed: resumed, totals: checkpoint.tally.excluding(plan.breakdowns), checksum: checkpoint.checksum,
            sections: migration.sections(checkpoint), problems: verdict.problems + problems, notes: notes, ledger: audit,
            checkpoint: dryRun ? nil : store.path
        )
        let refused = max(audit.total.refused, await deadLetters.count)
        if refused > 0 {
            let first = (try? await deadLetters.firstLines(RefusedRecords.listed)) ?? []
            report.refused = RefusedRecords(file: deadLetters.path, count: refused, first: first)
        }
        return report
    }
}

/// How a run ends, decided from what failed and what the ledger shows, in that order.
struct Verdict {
    var outcome: MigrationReport.Outcome
    var problems: [String]

    /// - Parameter deadLetters: the phase's dead-letter file and how many lines this process appended to it.
    init(failure: (any Error)?, audit: LedgerAudit, finished: Bool, dryRun: Bool, deadLetters: (path: String, appended: Int)) {
        var problems: [String] = []
        if let failure { problems.append("\(failure)") }
        for row in audit.problems {
            problems.append("ledger: \(row.unit): \(row.problem!)")
        }
        let total = audit.total
        let refused = max(total.refused, deadLetters.appended)
        if refused > 0 {
            problems.append("\(Format.count(refused)) record(s) the target refused are listed with their reasons in \(deadLetters.path)")
        }
        self.problems = problems
        if failure != nil || !audit.problems.isEmpty || !finished {
            outcome = .failed
        } else if refused > 0 {
            outcome = total.written == 0 && total.selected > 0 ? .failed : .incomplete
        } else {
            outcome = dryRun ? .dryRun : .succeeded
        }
    }
}

/// Why a run that copied everything still cannot be called a success.
public enum MigrationRunError: Error, Sendable, CustomStringConvertible {
    /// The target could not be counted after the copy, so the ledger cannot be held against it.
    case targetNotCounted(reason: String)
    /// SIGINT or SIGTERM stopped the run.
    case interrupted

    public var description: String {
        switch self {
        case .interrupted:
            return "interrupted by a signal: the checkpoint holds every batch the target acknowledged; continue with --resume"
        case .targetNotCounted(let reason):
            return "the copy finished but the target could not be counted (\(reason)), so nothing proves it holds what was written; run again with --resume once the target answers, or check with migrate verify"
        }
    }
}
