import Failures
import Foundation
import MigrationCore
import Postgres

/// `migrate vectors --live --changed-column COLUMN`: the full copy, then, until stopped, every `pollInterval` the
/// rows whose COLUMN (an updated-at timestamp or a version number the application maintains) moved past the last
/// high-water mark are upserted to the target; on stop, one last poll. The high-water marks are captured before
/// the full copy starts, so rows written during the copy are picked up, and saved after each poll, so `--resume`
/// continues after a crash without missing a change.
///
/// An updated-at column cannot show a deleted row: deletions are not followed, and `migrate verify vectors`
/// after cutover lists the points whose rows were deleted as extra.
public struct VectorLiveSync: Sendable {
    /// The full copy (settings, checkpoint directory, resume policy, rate).
    public var migration: VectorMigration
    /// The source tables' updated-at column.
    public var changedColumn: String
    /// Time between two polls.
    public var pollInterval: Duration
    /// Stop by itself this long after the full copy (`--live-for`), or run until stopped.
    public var duration: Duration?

    /// Creates a live sync.
    public init(migration: VectorMigration, changedColumn: String, pollInterval: Duration, duration: Duration? = nil) {
        self.migration = migration
        self.changedColumn = changedColumn
        self.pollInterval = pollInterval
        self.duration = duration
    }

    /// Runs the copy, then polls until `stop` is requested; returns the copy's report with the live counters.
    public func run(stop: StopRequest) async throws -> MigrationReport {
        guard case .postgres(let configuration, _, _) = migration.settings.source else {
            throw VectorMigrationError.unsupported("--live follows a PostgreSQL source through an updated-at column; a Qdrant source has none")
        }
        // Checked, not prepared: the copy creates what is missing; the polls need the target tables it writes.
        let plan = try await VectorPlan.make(migration.settings, targets: .check)
        var planned = migration.settings
        planned.writeOrdering = plan.writeOrdering
        let settings = planned
        var columnTypes: [String: String] = [:]
        for job in plan.jobs {
            guard case .table(let schema) = job.source else { continue }
            guard let column = schema.column(changedColumn)?.column else {
                throw VectorMigrationError.missingColumn(changedColumn, table: "\(schema.qualifiedName) (--changed-column names the updated-at column every live table has)")
            }
            columnTypes[job.name] = column.typeName
        }
        let fingerprint = VectorMigration.fingerprint(settings, jobs: plan.jobs)
        let marks = CheckpointStore(path: (migration.checkpointDirectory as NSString).appendingPathComponent("vectors-\(fingerprint.prefix(16))-live.json"))
        var saved = migration.resumePolicy == .resume ? try await marks.load() : nil
        if saved?.fingerprint != fingerprint { saved = nil }
        var state = saved ?? Checkpoint(migration: "vectors-live", fingerprint: fingerprint)
        if saved == nil {
            // Before the copy: a row changed while it runs is above the mark and is read by the first poll.
            try await withConnection(configuration) { connection in
                for job in plan.jobs where columnTypes[job.name] != nil {
                    state.partitions[job.name] = .init(position: try await highWaterMark(job, connection: connection) ?? "")
                }
            }
            try await marks.save(state)
        }

        var copy = migration
        copy.countsTarget = false
        var report = try await copy.run()
        guard report.outcome == .succeeded else { return report }

        let progress = ProgressReporter(phase: "vectors live", unit: "rows", total: nil, style: settings.progressStyle)
        await progress.start()
        let deadline = duration.map { ContinuousClock.now + $0 }
        var polls = 0, applied = 0
        var stopping = false
        while !stopping {
            try await stop.sleep(for: deadline.map { min(pollInterval, max(.zero, $0 - ContinuousClock.now)) } ?? pollInterval)
            stopping = await stop.isRequested || deadline.map { ContinuousClock.now >= $0 } ?? false
            // Each poll reads up to the marks it takes now; the last one runs after the stop, so nothing written
            // before the stop is left behind.
            let changed = try await poll(plan: plan, columnTypes: columnTypes, state: &state, configuration: configuration, progress: progress)
            try await marks.save(state)
            polls += 1
            applied += changed
        }
        await progress.finish()
        report.totals.add("live polls", polls)
        report.totals.add("live applied", applied)
        report.sections.append(.init(title: "live sync high-water marks (\(changedColumn))", columns: ["source", "last change copied"],
                                     rows: plan.jobs.compactMap { job in
                                         state.partitions[job.name].map { [job.sourceDisplay, $0.position.isEmpty ? "(no rows yet)" : $0.position] }
                                     }))
        report.finishedAt = Date()
        return report
    }

    /// Upserts every row changed since the marks in `state`, advancing them; returns the rows applied.
    private func poll(plan: VectorPlan, columnTypes: [String: String], state: inout Checkpoint, configuration: PostgresConfiguration,
                      progress: ProgressReporter) async throws -> Int {
        var current: [String: ChangeWindow] = [:]
        try await withConnection(configuration) { connection in
            for job in plan.jobs {
                guard let type = columnTypes[job.name], let through = try await highWaterMark(job, connection: connection) else { continue }
                let after = state.partitions[job.name]?.position ?? ""
                guard through != after else { continue }
                current[job.name] = ChangeWindow(column: changedColumn, type: type, after: after.isEmpty ? nil : after, through: through)
            }
        }
        guard !current.isEmpty else { return 0 }
        let settings = migration.settings
        let jobs = Dictionary(uniqueKeysWithValues: plan.jobs.map { ($0.name, $0) })
        let targetTables = plan.targetTables
        let runner = PipelineRunner(configuration: .init(concurrency: settings.concurrency, isTransient: isTransient,
                                                         rateLimiter: migration.rateLimit.map { RateLimiter(perSecond: $0) }), logger: settings.logger)
        let windows = current
        let result = try await runner.run(
            partitions: current.keys.sorted().map { PartitionPlan(name: $0, initialPosition: "") },
            checkpoint: Checkpoint(migration: "vectors-live-poll", fingerprint: ""),
            store: nil,
            progress: progress,
            makeReader: { name, position in
                VectorReader.table(TableReader(connection: try await PostgresConnection.connect(configuration), job: jobs[name]!,
                                               batchSize: settings.batchSize, position: position, window: windows[name]))
            },
            makeWriter: { VectorSink(settings: settings, jobs: jobs, targetTables: targetTables, dryRun: false) }
        )
        for (name, window) in current { state.partitions[name] = .init(position: window.through) }
        return result.checkpoint.tally["written"]
    }

    /// The largest value of the changed column, as text; `nil` when no row has one.
    private func highWaterMark(_ job: VectorJob, connection: PostgresConnection) async throws -> String? {
        guard case .table(let schema) = job.source else { return nil }
        let rows = try await connection.query("SELECT max(\(quoteIdentifier(changedColumn)))::text FROM \(schema.qualifiedName)")
        return rows.text(0, 0)
    }
}
