import Bolt
import Failures
import Foundation
import Hashing
import JSON
import Logging
import MigrationCore
import Neptune

/// A graph store: a Bolt server (Neo4j, Memgraph) or Amazon Neptune's openCypher endpoint.
public enum GraphStore: Sendable {
    case bolt(BoltConfiguration, displayName: String)
    case neptune(NeptuneConfiguration)

    public var displayName: String {
        switch self {
        case .bolt(_, let name): return name
        case .neptune(let configuration): return configuration.displayName
        }
    }
}

/// What `migrate graph` and `migrate verify graph` read and write.
public struct GraphRunSettings: Sendable {
    public var source: BoltConfiguration
    public var sourceDisplayName: String
    public var target: GraphStore
    public var mapping: GraphMapping
    public var batchSize: Int
    public var concurrency: Int
    public var progressStyle: ProgressStyle
    public var logger: Logger
    /// Write bulk-load CSV files (and upload and load them) instead of writing to the target over HTTP.
    public var export: BulkExport?
    /// Only the shard's range of the source's nodes and relationships (``ShardRange``).
    public var shard: Shard?
    /// How long a sharded run's relationships wait for endpoints that other shards write.
    public var endpointWait: Duration

    public init(source: BoltConfiguration, sourceDisplayName: String, target: GraphStore, mapping: GraphMapping,
                batchSize: Int, concurrency: Int, progressStyle: ProgressStyle, logger: Logger, export: BulkExport? = nil,
                shard: Shard? = nil, endpointWait: Duration = .seconds(600)) {
        self.source = source
        self.sourceDisplayName = sourceDisplayName
        self.target = target
        self.mapping = mapping
        self.batchSize = batchSize
        self.concurrency = concurrency
        self.progressStyle = progressStyle
        self.logger = logger
        self.export = export
        self.shard = shard
        self.endpointWait = endpointWait
    }

    /// A new reader for `partition` from `position` (a shard's reads only its ``ShardRange``).
    func reader(_ partition: String, position: String) async throws -> GraphReader {
        let connection = try await BoltConnection.connect(source)
        var range = ShardRange.all
        if let shard {
            do {
                range = try await ShardRange.read(partition, shard: shard, connection: connection)
            } catch {
                await connection.close()
                throw error
            }
        }
        return GraphReader(connection: connection, partition: partition, mapping: mapping, batchSize: batchSize, position: position, range: range)
    }

    /// The records this run handles: all of them, or about one shard's share.
    func expectedRecords(_ counts: GraphCounts) -> Int {
        (counts.nodes + counts.relationships) / (shard?.count ?? 1)
    }
}

/// `migrate graph`: copies nodes, then relationships, from a Bolt source into Neptune or a Bolt target,
/// resumably, with deterministic ids so a rerun adds nothing.
public struct GraphMigration: Sendable {
    public var settings: GraphRunSettings
    public var checkpointDirectory: String
    public var resumePolicy: ResumePolicy
    /// The most records per second, if limited.
    public var rateLimit: Int?

    public init(settings: GraphRunSettings, checkpointDirectory: String, resumePolicy: ResumePolicy, rateLimit: Int? = nil) {
        self.settings = settings
        self.checkpointDirectory = checkpointDirectory
        self.resumePolicy = resumePolicy
        self.rateLimit = rateLimit
    }

    /// Runs the migration. Unreachable stores, refused credentials and certificates are thrown before the first
    /// write; a failure during the copy returns a report with outcome `failed` and keeps the checkpoint.
    public func run() async throws -> MigrationReport {
        // Even the first requests ride out a failover or a busy cluster: transient errors are retried here too.
        let retry = RetryPolicy()
        // The source's label sets and types: the ledger's units, counted on the target before the first write.
        let summary = try await retry.run(isTransient: isTransient) {
            try await GraphSummary.read(.bolt(self.settings.source, displayName: self.settings.sourceDisplayName), mapping: GraphMapping(), degrees: false)
        }
        if settings.export == nil || settings.export?.loaderRoleARN != nil {
            try await retry.run(isTransient: isTransient) { try await Self.checkTarget(self.settings.target) }
        }
        // Two source nodes with one target identity would overwrite each other: stop before anything is written.
        try await retry.run(isTransient: isTransient) { try await NodeIdentityCheck.run(self.settings.source, mapping: self.settings.mapping) }
        let runner = MigrationRunner(settings: .init(
            checkpointDirectory: checkpointDirectory, resumePolicy: resumePolicy, concurrency: settings.concurrency,
            rateLimit: rateLimit, progressStyle: settings.progressStyle, logger: settings.logger
        ))
        return try await runner.run(GraphCopy(settings: settings, counts: GraphCounts(nodes: summary.nodes, relationships: summary.relationships),
                                              units: summary.units.keys.sorted()))
    }

    /// Uploads the CSV files and runs the bulk loader, as asked; returns the report's notes on what it did.
    static func finishExport(_ export: BulkExport, target: GraphStore) async throws -> [String] {
        var lines = ["bulk-load CSV files are in \(export.directory)"]
        guard let source = try await BulkLoader.upload(export) else { return lines }
        lines.append("uploaded to \(source)")
        guard let role = export.loaderRoleARN else { return lines }
        guard case .neptune(let neptune) = target else {
            throw NeptuneError.malformed("--load needs a Neptune target (https://…:8182)")
        }
        let status = try await BulkLoader.load(source: source, roleARN: role, neptune: neptune)
        let records = status["overallStatus"]?["totalRecords"]?.int ?? 0
        lines.append("Neptune bulk load completed: \(records) records")
        return lines
    }

    /// Connects to the target once, so a wrong address, certificate or signature fails before the first write.
    static func checkTarget(_ target: GraphStore) async throws {
        switch target {
        case .neptune(let configuration):
            let client = NeptuneClient(configuration)
            do {
                _ = try await client.openCypher("RETURN 1 AS ok")
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        case .bolt(let configuration, _):
            await (try await BoltConnection.connect(configuration)).close()
        }
    }

    static func fingerprint(_ settings: GraphRunSettings) -> String {
        var hasher = SHA256Hasher()
        for part in [settings.sourceDisplayName, settings.target.displayName, settings.mapping.identityRule,
                     settings.mapping.relationships.id.rawValue, settings.export?.directory ?? "http", settings.shard?.description ?? "all"] {
            hasher.update(length: part.utf8.count)
            hasher.update(part)
        }
        return hasher.finalize().hexString
    }

    static func sections(_ tally: Tally) -> [MigrationReport.Section] {
        func rows(_ prefix: String) -> [[String]] {
            tally.counts.keys.filter { $0.hasPrefix(prefix) }.sorted().map { [String($0.dropFirst(prefix.count)), Format.count(tally[$0])] }
        }
        return [
            .init(title: "nodes by label set", columns: ["labels", "nodes"], rows: rows("label ")),
            .init(title: "relationships by type", columns: ["type", "relationships"], rows: rows("type ")),
            .init(title: "property conversions (Neptune stores simple literals only)", columns: ["conversion", "values"], rows: rows("converted ")),
        ]
    }
}

/// `migrate graph` as the runner drives it: every node first, then every relationship (both endpoints must exist).
struct GraphCopy: Migration {
    let settings: GraphRunSettings
    let plan: MigrationPlan

    init(settings: GraphRunSettings, counts: GraphCounts, units: [String]) {
        self.settings = settings
        plan = MigrationPlan(
            store: "graph", command: "migrate graph", source: settings.sourceDisplayName, target: settings.target.displayName,
            fingerprint: GraphMigration.fingerprint(settings),
            stages: [[PartitionPlan(name: GraphPartition.nodes, initialPosition: "-1")],
                     [PartitionPlan(name: GraphPartition.relationships, initialPosition: "-1")]],
            units: units, recordName: "records", estimatedRecords: settings.expectedRecords(counts),
            breakdowns: ["label ", "type ", "converted "], sharesTarget: settings.shard != nil
        )
    }

    func reader(partition: String, position: String) async throws -> sending GraphReader {
        try await settings.reader(partition, position: position)
    }

    func writer(deadLetters: DeadLetterFile) async throws -> sending GraphSink {
        GraphSink(settings: settings, deadLetters: deadLetters)
    }

    /// The target per unit; nil for CSV files. A shard's count also holds the other shards' records, so the
    /// runner holds it only to a lower bound (``MigrationPlan/sharesTarget``).
    func countTarget(units: [String]) async throws -> [String: Int]? {
        guard settings.export == nil else { return nil }
        return try await GraphMigration.countTarget(settings.target, units: units)
    }

    func finish() async throws -> [String] {
        guard let export = settings.export else { return [] }
        return try await GraphMigration.finishExport(export, target: settings.target)
    }

    func sections(_ checkpoint: Checkpoint) -> [MigrationReport.Section] {
        GraphMigration.sections(checkpoint.tally)
    }
}

extension DeadLetterFile {
    /// Appends one line per entry.
    func append(_ entries: [JSONValue]) async throws {
        try await append(lines: entries.map { JSONWriter.text($0) })
    }
}

/// Writes to whichever target the run has.
struct GraphSink: BatchWriter {
    private var neptune: NeptuneWriter?
    private var bolt: BoltWriter?

    private var csv: CSVExportWriter?

    init(settings: GraphRunSettings, deadLetters: DeadLetterFile) {
        if let export = settings.export {
            csv = CSVExportWriter(directory: export.directory, converter: PropertyConverter(policy: settings.mapping.properties), deadLetters: deadLetters)
            return
        }
        let endpointWait = settings.shard.map { EndpointWait(shard: $0, timeout: settings.endpointWait) }
        switch settings.target {
        case .neptune(let configuration):
            neptune = NeptuneWriter(configuration: configuration, converter: PropertyConverter(policy: settings.mapping.properties),
                                    deadLetters: deadLetters, endpointWait: endpointWait)
        case .bolt(let configuration, _):
            bolt = BoltWriter(configuration: configuration, mapping: settings.mapping, deadLetters: deadLetters, endpointWait: endpointWait)
        }
    }

    mutating func write(_ items: [GraphItem], partition: String) async throws -> BatchOutcome {
        if var writer = csv {
            defer { csv = writer }
            return try await writer.write(items, partition: partition)
        }
        if var writer = neptune {
            defer { neptune = writer }
            return try await writer.write(items, partition: partition)
        }
        if var writer = bolt {
            defer { bolt = writer }
            return try await writer.write(items, partition: partition)
        }
        return BatchOutcome()
    }

    mutating func reset() async {
        await neptune?.reset()
        await bolt?.reset()
    }
}

/// Counts of a graph, read with plain Cypher (no APOC).
struct GraphCounts: Sendable, Equatable {
    var nodes: Int
    var relationships: Int

    static func source(_ configuration: BoltConfiguration) async throws -> GraphCounts {
        let connection = try await BoltConnection.connect(configuration)
        do {
            let nodes = try await connection.query("MATCH (n) RETURN count(n)").first?.first?.int ?? 0
            let relationships = try await connection.query("MATCH ()-[r]->() RETURN count(r)").first?.first?.int ?? 0
            await connection.close()
            return GraphCounts(nodes: Int(nodes), relationships: Int(relationships))
        } catch {
            await connection.close()
            throw error
        }
    }
}

