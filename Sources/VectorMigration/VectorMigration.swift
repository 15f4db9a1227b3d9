import Foundation
import Hashing
import JSON
import MigrationCore
import Postgres
import Qdrant

/// `migrate vectors`: copies pgvector tables or Qdrant collections into Qdrant or pgvector, resumably.
public struct VectorMigration: Sendable {
    /// Stores, mappings, batching.
    public var settings: VectorRunSettings
    /// Where checkpoints are kept.
    public var checkpointDirectory: String
    /// What to do with an earlier checkpoint.
    public var resumePolicy: ResumePolicy
    /// Read, check and count; write nothing.
    public var dryRun: Bool
    /// The most rows per second, if limited.
    public var rateLimit: Int?
    /// Whether the target is counted per mapping entry after the copy; a live sync's polls write past the
    /// copy's ledger (rows inserted since), so it turns this off.
    var countsTarget = true

    /// Creates a migration.
    public init(settings: VectorRunSettings, checkpointDirectory: String, resumePolicy: ResumePolicy, dryRun: Bool, rateLimit: Int? = nil) {
        self.settings = settings
        self.checkpointDirectory = checkpointDirectory
        self.resumePolicy = resumePolicy
        self.dryRun = dryRun
        self.rateLimit = rateLimit
    }

    /// Runs the migration. Everything that can be checked before writing (connections, tables, columns,
    /// dimensions, distances) is thrown before the first write; a failure during the copy returns a report
    /// with outcome `failed` and keeps the checkpoint.
    public func run() async throws -> MigrationReport {
        let copy = VectorCopy(self, plan: try await VectorPlan.make(settings, targets: dryRun ? .skip : .prepare))
        let runner = MigrationRunner(settings: .init(
            checkpointDirectory: checkpointDirectory, resumePolicy: resumePolicy, dryRun: dryRun,
            concurrency: settings.concurrency, rateLimit: rateLimit, progressStyle: settings.progressStyle, logger: settings.logger
        ))
        return try await runner.run(copy)
    }

    static func fingerprint(_ settings: VectorRunSettings, jobs: [VectorJob]) -> String {
        var hasher = SHA256Hasher()
        for part in [settings.source.displayName, settings.target.displayName, settings.shard?.description ?? "all"]
            + jobs.map({ "\($0.name)>\($0.targetDisplay):\($0.idRule.rawValue)" + ($0.workspaces.map { " \($0.summary)" } ?? "") }) {
            hasher.update(length: part.utf8.count)
            hasher.update(part)
        }
        return hasher.finalize().hexString
    }

    static func sections(_ checkpoint: Checkpoint, jobs: [VectorJob]) -> [MigrationReport.Section] {
        let rows = jobs.map { job -> [String] in
            let state = checkpoint.partitions[job.name]
            return [job.sourceDisplay, job.targetDisplay, job.idRule.rawValue, Format.count(state?.tally["written"] ?? 0),
                    state?.finished == true ? "done" : "after key \(state?.position ?? "")"]
        }
        let tenants = checkpoint.tally.counts.keys.filter { $0.hasPrefix("tenant ") }.sorted().map { key -> [String] in
            let parts = key.dropFirst("tenant ".count).split(separator: "\u{1F}", maxSplits: 1).map(String.init)
            return [parts.first ?? "", parts.count > 1 ? parts[1] : "", Format.count(checkpoint.tally[key])]
        }
        return [
            .init(title: "tables and collections", columns: ["source", "target", "ids", "written", "state"], rows: rows),
            .init(title: "points per tenant", columns: ["mapping", "tenant", "points"], rows: tenants),
        ]
    }
}

/// `migrate vectors` as the runner drives it: one partition per mapping entry (table or collection).
struct VectorCopy: Migration {
    let settings: VectorRunSettings
    let vectorPlan: VectorPlan
    let plan: MigrationPlan
    private let jobs: [String: VectorJob]
    private let dryRun: Bool
    private let countsTarget: Bool

    init(_ migration: VectorMigration, plan vectorPlan: VectorPlan) {
        var settings = migration.settings
        settings.writeOrdering = vectorPlan.writeOrdering
        self.settings = settings
        self.vectorPlan = vectorPlan
        dryRun = migration.dryRun
        countsTarget = migration.countsTarget
        jobs = Dictionary(uniqueKeysWithValues: vectorPlan.jobs.map { ($0.name, $0) })
        plan = MigrationPlan(
            store: "vectors", command: migration.dryRun ? "migrate vectors --dry-run" : "migrate vectors",
            source: settings.source.displayName, target: settings.target.displayName,
            fingerprint: VectorMigration.fingerprint(settings, jobs: vectorPlan.jobs),
            stages: [vectorPlan.jobs.map { PartitionPlan(name: $0.name, initialPosition: "") }],
            units: vectorPlan.jobs.map(\.name), recordName: "rows", estimatedRecords: vectorPlan.estimatedRows,
            notes: vectorPlan.notes, breakdowns: ["collection ", "table ", "tenant "], sharesTarget: settings.shard != nil
        )
    }

    func reader(partition: String, position: String) async throws -> sending VectorReader {
        try await openReader(jobs[partition]!, settings: settings, position: position)
    }

    func writer(deadLetters: DeadLetterFile) async throws -> sending VectorSink {
        VectorSink(settings: settings, jobs: jobs, targetTables: vectorPlan.targetTables, dryRun: dryRun, deadLetters: deadLetters)
    }

    func countTarget(units: [String]) async throws -> [String: Int]? {
        dryRun || !countsTarget ? nil : try await VectorTargetCount.count(vectorPlan.jobs, units: units, settings: settings)
    }

    /// A pgvector target's indexes and deferred constraints, built once the rows are in.
    func finish() async throws -> [String] {
        guard !dryRun, case .postgres(let configuration, _, _) = settings.target else { return [] }
        return try await VectorPlan.createDeferredObjects(Array(vectorPlan.targetTables.values), configuration: configuration)
    }

    func sections(_ checkpoint: Checkpoint) -> [MigrationReport.Section] {
        VectorMigration.sections(checkpoint, jobs: vectorPlan.jobs)
    }
}

/// Opens the reader for one job from a checkpoint position.
func openReader(_ job: VectorJob, settings: VectorRunSettings, position: String) async throws -> VectorReader {
    switch (settings.source, job.source) {
    case (.postgres(let configuration, _, _), .table):
        let connection = try await PostgresConnection.connect(configuration)
        return .table(TableReader(connection: connection, job: job, batchSize: settings.batchSize, position: position))
    case (.qdrant(let configuration), .collection(let name, _)):
        return .collection(CollectionReader(client: QdrantClient(configuration), job: job, collection: name, batchSize: settings.batchSize, position: position))
    default:
        preconditionFailure("a job's source matches the run's source")
    }
}

/// Either reader, as one type for the pipeline.
enum VectorReader: BatchReader {
    case table(TableReader)
    case collection(CollectionReader)

    mutating func next() async throws -> ReadBatch<VectorRecord> {
        switch self {
        case .table(var reader):
            let batch = try await reader.next()
            self = .table(reader)
            return batch
        case .collection(var reader):
            let batch = try await reader.next()
            self = .collection(reader)
            return batch
        }
    }
}

/// Writes to whichever target the run has (or, in a dry run, only counts).
struct VectorSink: BatchWriter {
    private var qdrant: CollectionWriter?
    private var postgres: TableWriter?
    private let dryRun: Bool
    private let jobs: [String: VectorJob]

    /// `deadLetters` receives the points a Qdrant target acknowledged but does not hold (`nil`: they fail the batch).
    init(settings: VectorRunSettings, jobs: [String: VectorJob], targetTables: [String: TargetTable], dryRun: Bool, deadLetters: DeadLetterFile? = nil) {
        self.dryRun = dryRun
        self.jobs = jobs
        switch settings.target {
        case .qdrant(let configuration):
            qdrant = CollectionWriter(configuration: configuration, jobs: jobs, maxRequestBytes: settings.maxRequestBytes, deadLetters: deadLetters,
                                      ordering: settings.writeOrdering)
        case .postgres(let configuration, _, _):
            postgres = TableWriter(configuration: configuration, jobs: jobs, targets: targetTables)
        }
    }

    mutating func write(_ records: [VectorRecord], partition: String) async throws -> BatchOutcome {
        var outcome: BatchOutcome
        if dryRun {
            outcome = BatchOutcome(units: records.count)
            let approximate = jobs[partition]?.normalizedVectors ?? []
            for record in records { outcome.checksum.add(digest: record.checksumDigest(approximate: approximate)) }
            outcome.ledger.selected(partition, records.count)
            outcome.ledger.skipped(partition, rule: "dry run: nothing is written", records.count)
        } else if var writer = qdrant {
            outcome = try await writer.write(records, partition: partition)
            qdrant = writer
        } else if var writer = postgres {
            outcome = try await writer.write(records, partition: partition)
            postgres = writer
        } else {
            outcome = BatchOutcome()
        }
        outcome.tally.add("read", records.count)
        outcome.tally.add("written", outcome.ledger.units[partition]?.written ?? 0)
        return outcome
    }

    mutating func reset() async {
        await qdrant?.reset()
        await postgres?.reset()
    }
}

