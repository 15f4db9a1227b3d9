import Bolt
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
    /// Only the nodes whose target id, and the relationships whose own id, hash to this shard.
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

    /// A new reader for `partition` from `position`.
    func reader(_ partition: String, position: String) async throws -> GraphReader {
        GraphReader(connection: try await BoltConnection.connect(source), partition: partition, mapping: mapping,
                    batchSize: batchSize, position: position, shard: shard)
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

    public func run() async throws -> MigrationReport {
        let startedAt = Date()
        // Even the first requests ride out a failover or a busy cluster: transient errors are retried here too.
        let retry = RetryPolicy()
        let counts = try await retry.run(isTransient: isTransient) { try await GraphCounts.source(self.settings.source) }
        if settings.export == nil || settings.export?.loaderRoleARN != nil {
            try await retry.run(isTransient: isTransient) { try await Self.checkTarget(self.settings.target) }
        }
        // Two source nodes with one target identity would overwrite each other: stop before anything is written.
        try await retry.run(isTransient: isTransient) { try await NodeIdentityCheck.run(self.settings.source, mapping: self.settings.mapping) }
        let fingerprint = Self.fingerprint(settings)
        let store = CheckpointStore(path: (checkpointDirectory as NSString).appendingPathComponent("graph-\(fingerprint.prefix(16)).json"))
        let begun = try await store.begin(migration: "graph", fingerprint: fingerprint, policy: resumePolicy, startedAt: startedAt)
        var checkpoint = begun.0
        let resumed = begun.resumed
        for partition in [GraphPartition.nodes, GraphPartition.relationships] where checkpoint.partitions[partition] == nil {
            checkpoint.partitions[partition] = Checkpoint.PartitionState(position: "-1")
        }
        let deadLetters = DeadLetterFile(path: (checkpointDirectory as NSString).appendingPathComponent("graph-\(fingerprint.prefix(16))-dead-letter.jsonl"))
        let progress = ProgressReporter(phase: "graph", unit: "records", total: settings.expectedRecords(counts), style: settings.progressStyle)
        await progress.restore(done: checkpoint.tally["nodes"] + checkpoint.tally["relationships"] + checkpoint.tally["dead-lettered"], bytes: 0)
        await progress.start()
        let runner = PipelineRunner(configuration: .init(concurrency: settings.concurrency, isTransient: isTransient,
                                                         rateLimiter: rateLimit.map { RateLimiter(perSecond: $0) }), logger: settings.logger)
        let settings = self.settings
        var outcome = MigrationReport.Outcome.succeeded
        var problems: [String] = []
        var notes: [String] = []
        do {
            // Relationships need both their nodes on the target: nodes first, to the end.
            for partition in [GraphPartition.nodes, GraphPartition.relationships] {
                let result = try await runner.run(
                    partitions: [PartitionPlan(name: partition, initialPosition: "-1")],
                    checkpoint: checkpoint, store: store, progress: progress,
                    makeReader: { name, position in try await settings.reader(name, position: position) },
                    makeWriter: { GraphSink(settings: settings, deadLetters: deadLetters) }
                )
                checkpoint = result.checkpoint
                problems += result.problems
            }
            if let export = settings.export {
                notes += try await Self.finishExport(export, target: settings.target)
            }
        } catch {
            outcome = .failed
            problems.insert("\(error)", at: 0)
            checkpoint = (try? await store.load()) ?? checkpoint
        }
        await progress.finish()
        let deadLettered = await deadLetters.count
        if checkpoint.tally["dead-lettered"] > 0 || deadLettered > 0 {
            problems.insert("\(checkpoint.tally["dead-lettered"]) record(s) the target refused are in \(deadLetters.path)", at: 0)
            if outcome == .succeeded { outcome = .incomplete }
        }
        return MigrationReport(
            command: "migrate graph", source: settings.sourceDisplayName, target: settings.target.displayName, outcome: outcome,
            startedAt: startedAt, resumed: resumed, totals: checkpoint.tally.excluding(["label ", "type ", "converted "]),
            checksum: checkpoint.checksum, sections: Self.sections(checkpoint.tally), problems: problems, notes: notes, checkpoint: store.path
        )
    }

    /// Uploads the CSV files and runs the bulk loader, as asked; returns the report's notes on what it did.
    private static func finishExport(_ export: BulkExport, target: GraphStore) async throws -> [String] {
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

/// Which errors a retry can fix.
@Sendable func isTransient(_ error: any Error) -> Bool {
    switch error {
    case let error as BoltError: return error.isTransient
    case let error as NeptuneError: return error.isTransient
    default: return false
    }
}
