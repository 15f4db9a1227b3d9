import Foundation
import Hashing
import Logging
import MigrationCore
import RESP
import Transport

/// Settings shared by `migrate redis` and `migrate verify redis`.
public struct RedisRunSettings: Sendable {
    /// The source deployment.
    public var source: RedisDeployment
    /// The target deployment.
    public var target: RedisDeployment
    /// Source databases to include; `nil` for every database that holds keys.
    public var databases: [Int]?
    /// Keys per SCAN batch.
    public var batchSize: Int
    /// Concurrent writers.
    public var concurrency: Int
    /// How progress is shown.
    public var progressStyle: ProgressStyle
    /// Where warnings go.
    public var logger: Logger
    /// Copy from a replica whose link to its primary is down or lags (`--allow-stale-replica`).
    public var allowStaleReplica = false
    /// The most seconds a source replica may be behind its primary (`master_last_io_seconds_ago`).
    public var maxReplicaLagSeconds = 60

    /// Creates settings.
    public init(source: RedisDeployment, target: RedisDeployment, databases: [Int]?, batchSize: Int, concurrency: Int,
                progressStyle: ProgressStyle, logger: Logger) {
        self.source = source
        self.target = target
        self.databases = databases
        self.batchSize = batchSize
        self.concurrency = concurrency
        self.progressStyle = progressStyle
        self.logger = logger
    }
}

/// `migrate redis`: copies keys from a source deployment to a target, resumably, and reports what it did.
public struct RedisMigration: Sendable {
    /// Connections, batching and concurrency.
    public var settings: RedisRunSettings
    /// What is copied and how.
    public var options: RedisCopyOptions
    /// The most keys per second, if limited.
    public var rateLimit: Int?
    /// Where checkpoints are kept.
    public var checkpointDirectory: String
    /// What to do with an earlier checkpoint.
    public var resumePolicy: ResumePolicy

    /// Creates a migration.
    public init(settings: RedisRunSettings, options: RedisCopyOptions, rateLimit: Int?, checkpointDirectory: String, resumePolicy: ResumePolicy) {
        self.settings = settings
        self.options = options
        self.rateLimit = rateLimit
        self.checkpointDirectory = checkpointDirectory
        self.resumePolicy = resumePolicy
    }

    /// Runs the migration. Connection, authentication and mapping problems are thrown before anything is
    /// written; a failure during the copy returns a report with outcome `failed` and keeps the checkpoint.
    public func run() async throws -> MigrationReport {
        var copy = KeyCopy(self, plan: try await KeyspacePlan.make(settings: settings, mapping: options.mapping, writing: options.filter))
        let runner = MigrationRunner(settings: .init(
            checkpointDirectory: checkpointDirectory, resumePolicy: resumePolicy, dryRun: options.dryRun,
            concurrency: settings.concurrency, rateLimit: rateLimit, progressStyle: settings.progressStyle, logger: settings.logger
        ))
        if !options.dryRun {
            let checkpoint = runner.checkpointPath(copy.plan)
            copy.stagingLog = StagingLog(path: String(checkpoint.dropLast(".json".count)) + "-staging.log", resumable: resumePolicy == .resume)
        }
        return try await runner.run(copy)
    }

    /// Everything that decides which keys go where, readable: the source (its address and replication id, which
    /// a restarted or other server does not share), the target and the selection. A checkpoint only resumes the
    /// same migration, and a refusal names the field that differs.
    func identity(sourceNodes: [SourceNodeHealth]) -> [String: String] {
        let selection = [
            "mode \(options.mode.rawValue)",
            "match \(options.filter.include.map(\.description).joined(separator: ","))",
            "exclude \(options.filter.exclude.map(\.description).joined(separator: ","))",
            "type \(options.filter.types.map(\.rawValue).sorted().joined(separator: ","))",
            "db-map \(options.mapping.rules.values.sorted { $0.source < $1.source }.map { "\($0.source)=\($0.target):\($0.prefix.hexString)" }.joined(separator: ","))",
            "db \(settings.databases.map { $0.map(String.init).joined(separator: ",") } ?? "all")",
        ]
        return [
            "source": settings.source.displayName,
            "source replication id": sourceNodes.map { $0.replicationID ?? "none" }.joined(separator: ","),
            "target": settings.target.displayName,
            "selection": selection.joined(separator: " "),
            "shard": options.filter.shard?.description ?? "all",
        ]
    }

    /// A digest of ``identity(sourceNodes:)``.
    static func fingerprint(_ identity: [String: String]) -> String {
        var hasher = SHA256Hasher()
        for (field, value) in identity.sorted(by: { $0.key < $1.key }) {
            for part in [field, value] {
                hasher.update(length: part.utf8.count)
                hasher.update(part)
            }
        }
        return hasher.finalize().hexString
    }

    static func sections(_ checkpoint: Checkpoint) -> [MigrationReport.Section] {
        let tally = checkpoint.tally
        func rows(prefix: String) -> [[String]] {
            tally.counts.keys.filter { $0.hasPrefix(prefix) }.sorted().map { [String($0.dropFirst(prefix.count)), Format.count(tally[$0])] }
        }
        let partitions = checkpoint.partitions.sorted { $0.key < $1.key }.map { name, state in
            [name, Format.count(state.tally["copied"]), state.finished ? "done" : "at cursor \(state.position)"]
        }
        return [
            .init(title: "keys by type", columns: ["type", "keys"], rows: rows(prefix: "type ")),
            .init(title: "keys by source database", columns: ["db", "keys"], rows: rows(prefix: "db ")),
            .init(title: "partitions", columns: ["partition", "copied", "state"], rows: partitions),
        ]
    }
}

/// `migrate redis` as the runner drives it: SCAN readers per primary and database, DUMP/RESTORE writers.
struct KeyCopy: Migration {
    let migration: RedisMigration
    let keyspace: KeyspacePlan
    let plan: MigrationPlan
    private let databases: [String: Int]
    private let nodes: [String: Endpoint]
    /// Big keys' acknowledged chunks (none in a dry run).
    var stagingLog: StagingLog?

    init(_ migration: RedisMigration, plan keyspace: KeyspacePlan) {
        self.migration = migration
        self.keyspace = keyspace
        let dryRun = migration.options.dryRun
        databases = Dictionary(uniqueKeysWithValues: keyspace.partitions.map { ($0.name, $0.database) })
        nodes = Dictionary(uniqueKeysWithValues: keyspace.partitions.map { ($0.name, $0.node) })
        let identity = migration.identity(sourceNodes: keyspace.sourceNodes)
        var plan = MigrationPlan(
            store: "redis", command: dryRun ? "migrate redis --dry-run" : "migrate redis",
            source: migration.settings.source.displayName, target: migration.settings.target.displayName,
            fingerprint: RedisMigration.fingerprint(identity),
            stages: [keyspace.partitions.map { PartitionPlan(name: $0.name, initialPosition: "0") }],
            units: keyspace.sourceDatabases.map { "db\($0)" }, recordName: "keys",
            estimatedRecords: keyspace.estimatedKeys / (migration.options.filter.shard?.count ?? 1),
            breakdowns: breakdownLabels, sharesTarget: migration.options.filter.shard != nil
        )
        plan.identity = identity
        self.plan = plan
    }

    func reader(partition: String, position: String) async throws -> sending KeyScanReader {
        let connection = try await RedisConnection.connect(migration.settings.source.connection.with(endpoint: nodes[partition]!, database: databases[partition]!))
        return KeyScanReader(connection: connection, cursor: position, count: migration.settings.batchSize, filter: migration.options.filter)
    }

    func writer(deadLetters: DeadLetterFile) async throws -> sending KeyCopyWriter {
        KeyCopyWriter(source: migration.settings.source, target: migration.settings.target, options: migration.options,
                      partitionDatabases: databases, sourceDatabases: keyspace.sourceDatabases, deadLetters: deadLetters, stagingLog: stagingLog)
    }

    func finish() async throws -> [String] {
        try await stagingLog?.finish(target: migration.settings.target) ?? []
    }

    func countTarget(units: [String]) async throws -> [String: Int]? {
        try await TargetCount.count(target: migration.settings.target, mapping: migration.options.mapping, sourceDatabases: keyspace.sourceDatabases,
                                    filter: migration.options.filter, units: units)
    }

    func sections(_ checkpoint: Checkpoint) -> [MigrationReport.Section] {
        RedisMigration.sections(checkpoint)
    }
}

/// The fragments of counter names that break totals down per type and database (shown as report sections).
let breakdownLabels = ["type ", "db "]


/// What a run will read: its partitions, the source databases and an estimate of the keys.
struct KeyspacePlan {
    var partitions: [KeyPartition]
    var sourceDatabases: [Int]
    /// Keys per source database, as `INFO keyspace` counts them.
    var keysPerDatabase: [Int: Int]
    var estimatedKeys: Int
    var targetIsCluster: Bool
    /// The replication state of each source node read.
    var sourceNodes: [SourceNodeHealth]

    /// Connects to both sides (so bad addresses, credentials and certificates fail before any write), lists the
    /// source databases with keys, and checks the database mapping against the target.
    /// `alwaysInclude` lists databases to plan for even when they hold no keys (a live sync follows writes into
    /// them) unless `settings.databases` chooses. A run that writes passes its filter as `writing`: the source is
    /// then scanned for keys the mapping would put among another database's keys (``MappingCollisions``).
    static func make(settings: RedisRunSettings, mapping: DatabaseMapping, alwaysInclude: [Int] = [],
                     writing filter: KeyFilter? = nil) async throws -> KeyspacePlan {
        let source = try await settings.source.connect()
        do {
            let plan = try await make(source: source, settings: settings, mapping: mapping, alwaysInclude: alwaysInclude)
            if let filter {
                try await MappingCollisions.check(mapping, sourceDatabases: plan.sourceDatabases, source: source, filter: filter)
            }
            await source.close()
            return plan
        } catch {
            await source.close()
            throw error
        }
    }

    private static func make(source: RedisClient, settings: RedisRunSettings, mapping: DatabaseMapping, alwaysInclude: [Int]) async throws -> KeyspacePlan {
        let sourceNodes = try await SourceNodeHealth.read(source)
        try StaleSourceError.check(sourceNodes, maxLagSeconds: settings.maxReplicaLagSeconds, allowStale: settings.allowStaleReplica)
        let target = try await settings.target.connect()
        let targetIsCluster = target.isCluster
        await target.close()

        var keysPerDatabase: [Int: Int] = [:]
        for (_, reply) in try await source.sendToPrimaries(RESPCommand("INFO", "keyspace")) {
            for (database, keys) in parseKeyspace(reply.string ?? "") {
                keysPerDatabase[database, default: 0] += keys
            }
        }
        var databases = Set(keysPerDatabase.keys).union(alwaysInclude).sorted()
        if let chosen = settings.databases {
            databases = chosen.sorted()
        }
        if source.isCluster && databases.contains(where: { $0 != 0 }) {
            throw DatabaseMapping.InvalidMapping(description: "the source is a cluster and has only database 0; drop --db")
        }
        try mapping.checkRequired(keysPerDatabase: keysPerDatabase, selected: settings.databases)
        try mapping.validate(sourceDatabases: databases, targetIsCluster: targetIsCluster)
        let partitions = source.primaries.flatMap { node in databases.map { KeyPartition(node: node, database: $0) } }
        let estimate = databases.reduce(0) { $0 + (keysPerDatabase[$1] ?? 0) }
        return KeyspacePlan(partitions: partitions, sourceDatabases: databases, keysPerDatabase: keysPerDatabase, estimatedKeys: estimate,
                            targetIsCluster: targetIsCluster, sourceNodes: sourceNodes)
    }

    /// Parses `db0:keys=12,expires=1,avg_ttl=0` lines of `INFO keyspace`.
    static func parseKeyspace(_ info: String) -> [(Int, Int)] {
        info.split(whereSeparator: \.isNewline).compactMap { line in
            guard line.hasPrefix("db"), let colon = line.firstIndex(of: ":"), let database = Int(line[line.index(line.startIndex, offsetBy: 2)..<colon]) else { return nil }
            let fields = line[line.index(after: colon)...].split(separator: ",")
            guard let keys = fields.first(where: { $0.hasPrefix("keys=") }).flatMap({ Int($0.dropFirst(5)) }) else { return nil }
            return (database, keys)
        }
    }
}
