import Foundation
import JSON
import Logging
import MigrationCore
import Postgres
import Qdrant
import Transport

/// A vector store: PostgreSQL with pgvector, or Qdrant over HTTP(S).
public enum VectorStore: Sendable {
    case postgres(PostgresConfiguration, schema: String, displayName: String)
    case qdrant(QdrantConfiguration)

    /// The store as it may be shown (no secrets).
    public var displayName: String {
        switch self {
        case .postgres(_, _, let name): return name
        case .qdrant(let configuration): return configuration.displayName
        }
    }
}

/// What `migrate vectors` and `migrate verify vectors` read and write.
public struct VectorRunSettings: Sendable {
    /// The source store.
    public var source: VectorStore
    /// The target store.
    public var target: VectorStore
    /// Mappings (from `--mapping`); `nil` for the generic default.
    public var mappings: [CollectionMapping]?
    /// With no mapping: the source tables or collections (all with vectors when empty).
    public var sourceNames: [String]
    /// With no mapping and one source: the target's name (else the source's own).
    public var targetName: String?
    /// Rows or points per batch.
    public var batchSize: Int
    /// Concurrent writers.
    public var concurrency: Int
    /// This process's share of the source.
    public var shard: Shard?
    /// Create missing target tables (PostgreSQL targets).
    public var createTables: Bool
    /// The largest upsert request, in bytes (Qdrant refuses over 32 MiB).
    public var maxRequestBytes: Int
    /// How progress is shown.
    public var progressStyle: ProgressStyle
    /// Where warnings go.
    public var logger: Logger
    /// Qdrant collection settings from the command line (`--shards`, …); they override the mapping's.
    public var collectionSettings = ShardSettings()
    /// The `ordering` of upserts; `medium` on a cluster target and Qdrant's own default elsewhere when `nil`.
    public var writeOrdering: WriteOrdering?
    /// Whether an api-key over plain `http://` is an error rather than a warning.
    public var requireTLS = false

    /// Creates settings.
    public init(source: VectorStore, target: VectorStore, mappings: [CollectionMapping]?, sourceNames: [String], targetName: String?,
                batchSize: Int, concurrency: Int, shard: Shard?, createTables: Bool, maxRequestBytes: Int = 30 << 20,
                progressStyle: ProgressStyle, logger: Logger) {
        self.source = source
        self.target = target
        self.mappings = mappings
        self.sourceNames = sourceNames
        self.targetName = targetName
        self.batchSize = batchSize
        self.concurrency = concurrency
        self.shard = shard
        self.createTables = createTables
        self.maxRequestBytes = maxRequestBytes
        self.progressStyle = progressStyle
        self.logger = logger
    }
}

/// The jobs of a run, with their target tables and row estimates, after every check that can fail before
/// anything is written: tables and columns exist, dimensions and distances match, no NaN in float arrays.
struct VectorPlan {
    /// What is done to the targets while planning.
    enum TargetStep {
        /// Nothing (dry runs, verification).
        case skip
        /// Check what exists; say in the notes what a run would create (`migrate plan`).
        case check
        /// Check what exists and create what is missing (a run).
        case prepare
    }

    var jobs: [VectorJob]
    var targetTables: [String: TargetTable]
    /// Rows (or points) per job, this shard's share.
    var rowsPerJob: [String: Int]
    var notes: [String]
    /// What `GET /cluster` says about a Qdrant target (`nil` for PostgreSQL, or a target without the endpoint).
    var targetCluster: ClusterStatus?
    /// The Qdrant target collections as planned (when targets were checked).
    var collections: [PlannedCollection] = []
    /// The `ordering` of upserts.
    var writeOrdering: WriteOrdering?

    var estimatedRows: Int { rowsPerJob.values.reduce(0, +) }

    static func make(_ settings: VectorRunSettings, targets: TargetStep) async throws -> VectorPlan {
        var notes: [String] = []
        var jobs: [VectorJob] = []
        switch settings.source {
        case .postgres(let configuration, let schemaName, _):
            (jobs, notes) = try await withConnection(configuration) { connection in
                var jobs: [VectorJob] = []
                var notes: [String] = []
                let tables = try await TableSchema.tables(connection, schema: schemaName)
                for mapping in try await mappings(settings, existing: tables, notes: &notes, connection: connection, schemaName: schemaName) {
                    guard let table = mapping.source.table else { continue }
                    let schema = try await TableSchema.load(connection, schema: mapping.source.schema ?? schemaName, table: table)
                    jobs.append(try VectorJob.forTable(schema, mapping: mapping, target: target(for: mapping, settings: settings), shard: settings.shard))
                }
                return (jobs, notes)
            }
        case .qdrant(let configuration):
            let client = QdrantClient(configuration)
            let collections = try await client.collectionNames()
            for mapping in try await mappings(settings, existing: collections, notes: &notes, connection: nil, schemaName: "") {
                guard let name = mapping.source.collection, let info = try await client.collection(name) else { continue }
                jobs.append(try VectorJob.forCollection(name, info: info, mapping: mapping, target: target(for: mapping, settings: settings), shard: settings.shard))
            }
            await client.close()
        }
        guard !jobs.isEmpty else {
            throw VectorMigrationError.noMatchingSources("nothing to migrate in \(settings.source.displayName): " +
                (notes.isEmpty ? "no table or collection with vectors" : notes.joined(separator: "; ")))
        }
        jobs = try await probeDimensions(jobs, settings: settings)
        for rule in Set(jobs.compactMap(\.workspaces)).sorted(by: { $0.summary < $1.summary }) {
            notes.append(rule.summary + ", in point ids and payload")
        }
        notes += try transportWarnings(settings)
        if case .postgres = settings.target, settings.collectionSettings != ShardSettings() || settings.writeOrdering != nil {
            throw VectorMigrationError.unsupported("--shards, --replication-factor, --write-consistency-factor and --write-ordering are Qdrant settings, but the target \(settings.target.displayName) is PostgreSQL: drop them")
        }
        var targetCluster: ClusterStatus?
        if case .qdrant(let configuration) = settings.target {
            targetCluster = try await ClusterSettings.status(configuration)
            if let cluster = targetCluster {
                notes.append(cluster.enabled ? "target: a Qdrant cluster of \(cluster.peers.count) peers" : "target: a single Qdrant node (cluster mode off)")
            }
        }
        let ordering = settings.writeOrdering ?? (targetCluster?.enabled == true ? .medium : nil)
        var targetTables: [String: TargetTable] = [:]
        var collections: [PlannedCollection] = []
        if targets != .skip {
            if case .postgres(let configuration, _, _) = settings.source {
                try await withConnection(configuration) { try await IDCollisions.check(jobs, connection: $0) }
            }
            let cluster = ClusterSettings(target: targetCluster, source: try await sourceCluster(settings), options: settings.collectionSettings)
            (targetTables, collections) = try await prepare(jobs, settings: settings, cluster: cluster, apply: targets == .prepare, notes: &notes)
        }
        if let ordering, case .qdrant = settings.target {
            notes.append("upserts wait for the target's acknowledgement (wait=true) with ordering=\(ordering.rawValue)")
        }
        return VectorPlan(jobs: jobs, targetTables: targetTables, rowsPerJob: try await rows(jobs, settings: settings), notes: notes,
                          targetCluster: targetCluster, collections: collections, writeOrdering: ordering)
    }

    /// An api-key that would travel over plain `http://` (a load balancer without TLS): a warning, or with
    /// `requireTLS` an error.
    private static func transportWarnings(_ settings: VectorRunSettings) throws -> [String] {
        var warnings: [String] = []
        for (role, store) in [("source", settings.source), ("target", settings.target)] {
            guard case .qdrant(let configuration) = store, configuration.apiKey != nil, configuration.tls == nil else { continue }
            let message = "the \(role) \(configuration.displayName) is plain http:// but an api-key is sent: anyone on the network path (e.g. between a load balancer without TLS and the nodes) can read the key and every vector and payload. Use https:// (a TLS listener on the load balancer, or Qdrant's service.enable_tls)"
            if settings.requireTLS { throw VectorMigrationError.insecureTransport(message + "; --require-tls refuses to send the key in clear") }
            warnings.append("warning: " + message + ", or pass --require-tls to make this an error")
        }
        return warnings
    }

    /// `GET /cluster` of a Qdrant source (`nil` otherwise).
    private static func sourceCluster(_ settings: VectorRunSettings) async throws -> ClusterStatus? {
        guard case .qdrant(let configuration) = settings.source else { return nil }
        return try await ClusterSettings.status(configuration)
    }

    /// The mappings that apply: the file's, with `{suffix}` expanded over what exists, or one generic mapping
    /// per source table/collection.
    private static func mappings(_ settings: VectorRunSettings, existing: [String], notes: inout [String],
                                 connection: PostgresConnection?, schemaName: String) async throws -> [CollectionMapping] {
        let isTableSource = connection != nil
        if let mappings = settings.mappings {
            return try await resolve(mappings, existing: existing, notes: &notes, connection: connection, schemaName: schemaName,
                                     source: settings.source.displayName)
        }
        var names = settings.sourceNames
        if names.isEmpty, let connection {
            names = try await TableSchema.vectorTables(connection, schema: schemaName)
        } else if names.isEmpty {
            names = existing
        }
        for name in names where !existing.contains(name) {
            if isTableSource {
                throw VectorMigrationError.missingTable("\(schemaName).\(name)", database: settings.source.displayName)
            }
            throw VectorMigrationError.missingCollection(name)
        }
        if settings.targetName != nil && names.count > 1 {
            throw VectorMigrationError.unsupported("--target-name needs exactly one source table or collection; \(names.count) were found")
        }
        return names.map { name in
            let target = settings.targetName ?? name
            return CollectionMapping(name: name,
                                     source: isTableSource ? .init(table: name) : .init(collection: name),
                                     target: { if case .qdrant = settings.target { return .init(collection: target) } else { return .init(table: target) } }())
        }
    }

    /// The file's mappings with `{suffix}` expanded over what exists. An entry that matches nothing is an error
    /// (unless it is `optional`), naming what exists and the nearest name; sources with vectors that no entry
    /// covers are noted.
    private static func resolve(_ mappings: [CollectionMapping], existing: [String], notes: inout [String],
                                connection: PostgresConnection?, schemaName: String, source: String) async throws -> [CollectionMapping] {
        let kind = connection == nil ? "collection" : "table"
        let migratable = if let connection { try await TableSchema.vectorTables(connection, schema: schemaName) } else { existing }
        var resolved: [CollectionMapping] = []
        var unmatched: [String] = []
        for mapping in mappings {
            guard let pattern = connection == nil ? mapping.source.collection : mapping.source.table else {
                if !mapping.optional {
                    unmatched.append("mapping '\(mapping.name)' reads a \(connection == nil ? "table" : "collection"), but the source is \(source), which holds \(kind)s")
                }
                continue
            }
            let suffixes = CollectionMapping.suffixes(of: pattern, in: existing)
            resolved += suffixes.map(mapping.resolved(suffix:))
            guard suffixes.isEmpty else { continue }
            if mapping.optional {
                notes.append("mapping '\(mapping.name)' (optional): no \(kind) named like '\(pattern)' in \(source); skipped")
                continue
            }
            let hint = CollectionMapping.closestPattern(to: pattern, in: existing).map { " Did you mean '\($0)'?" } ?? ""
            unmatched.append("mapping '\(mapping.name)': no \(kind) named like '\(pattern)'.\(hint)")
        }
        if !unmatched.isEmpty {
            let shown = (migratable.isEmpty ? existing : migratable)
            let listing = shown.isEmpty ? "it holds no \(kind)s"
                : "its \(kind)s\(migratable.isEmpty ? "" : " with vectors") are " + shown.prefix(20).joined(separator: ", ") + (shown.count > 20 ? " and \(shown.count - 20) more" : "")
            throw VectorMigrationError.noMatchingSources(unmatched.joined(separator: "\n") + "\nIn \(source), \(listing). Fix the mapping's source names, or mark an entry `optional: true` when its \(kind) may not exist yet; nothing was written.")
        }
        let covered = Set(resolved.compactMap { connection == nil ? $0.source.collection : $0.source.table })
        for name in migratable where !covered.contains(name) {
            notes.append("\(kind) \(name) has vectors but no mapping entry covers it: it is not migrated (add an entry to the mapping if the application needs it)")
        }
        return resolved
    }

    private static func target(for mapping: CollectionMapping, settings: VectorRunSettings) throws -> VectorJob.TargetKind {
        switch settings.target {
        case .qdrant:
            guard let collection = mapping.target.collection else {
                throw VectorMigrationError.unsupported("mapping '\(mapping.name)' names a target table but the target is Qdrant: give target.collection")
            }
            return .collection(collection)
        case .postgres(_, let schema, _):
            guard let table = mapping.target.table ?? mapping.target.collection else {
                throw VectorMigrationError.unsupported("mapping '\(mapping.name)' has no target")
            }
            return .table(schema: schema, table: table)
        }
    }

    /// Fills in dimensions the catalog does not declare (an unconstrained `vector` column) from the first row,
    /// and refuses float-array vectors that hold NaN or infinities, naming the first such row.
    private static func probeDimensions(_ jobs: [VectorJob], settings: VectorRunSettings) async throws -> [VectorJob] {
        guard case .postgres(let configuration, _, _) = settings.source else { return jobs }
        return try await withConnection(configuration) { connection in
            var result: [VectorJob] = []
            for var job in jobs {
                guard case .table(let schema) = job.source else { continue }
                for index in job.vectors.indices where !job.vectors[index].sparse {
                    let column = quoteIdentifier(job.vectors[index].sourceName)
                    let isArray = [UInt32(1021), 1022].contains(job.vectors[index].sourceType)
                    if isArray {
                        let keys = job.keyColumns.map { "\(quoteIdentifier($0))::text" }.joined(separator: " || ', ' || ")
                        let bad = try await connection.query("""
                            SELECT \(keys) FROM \(schema.qualifiedName)
                            WHERE EXISTS (SELECT 1 FROM unnest(\(column)) AS v WHERE v::float8 = 'NaN'::float8 OR v::float8 IN ('Infinity'::float8, '-Infinity'::float8))
                            LIMIT 1
                            """)
                        if let key = bad.rows.first.flatMap({ _ in bad.text(0, 0) }) {
                            throw InvalidRecord(key: [key], reason: "\(job.vectors[index].sourceName) in \(schema.qualifiedName) holds NaN or an infinity; Qdrant accepts finite numbers only. Fix or exclude the row.")
                        }
                    }
                    guard job.vectors[index].dimensions == nil else { continue }
                    let dimension = isArray ? "cardinality(\(column))" : "vector_dims(\(column))"
                    let rows = try await connection.query("SELECT \(dimension)::int8 FROM \(schema.qualifiedName) WHERE \(column) IS NOT NULL LIMIT 1")
                    if let field = rows.rows.first?[0], case .int(let value) = try PostgresBinary.decode(field, type: PostgresTypes.int8, types: PostgresTypes()) {
                        job.vectors[index].dimensions = Int(value)
                    }
                }
                result.append(job)
            }
            return result
        }
    }

    private static func rows(_ jobs: [VectorJob], settings: VectorRunSettings) async throws -> [String: Int] {
        var rows: [String: Int] = [:]
        switch settings.source {
        case .postgres(let configuration, _, _):
            rows = try await withConnection(configuration) { connection in
                var rows: [String: Int] = [:]
                for job in jobs {
                    guard case .table(let schema) = job.source else { continue }
                    rows[job.name] = try await countRows(connection, schema.qualifiedName) / (job.shard?.count ?? 1)
                }
                return rows
            }
        case .qdrant(let configuration):
            let client = QdrantClient(configuration)
            for job in jobs {
                guard case .collection(let name, _) = job.source else { continue }
                rows[job.name] = try await client.count(name) / (job.shard?.count ?? 1)
            }
            await client.close()
        }
        return rows
    }

    // MARK: Targets

    /// Checks every target and, when `apply`, creates what is missing (else says so in `notes`); returns the
    /// PostgreSQL target tables by job.
    private static func prepare(_ jobs: [VectorJob], settings: VectorRunSettings, cluster: ClusterSettings, apply: Bool,
                                notes: inout [String]) async throws -> ([String: TargetTable], [PlannedCollection]) {
        switch settings.target {
        case .qdrant(let configuration):
            let client = QdrantClient(configuration)
            var planned: [PlannedCollection] = []
            do {
                let aliases = try await CollectionAliases.load(settings, target: client)
                for job in jobs {
                    guard case .collection(let name) = job.target else { continue }
                    let (collection, note) = try await prepareCollection(name, for: job, client: client, cluster: cluster, apply: apply)
                    planned.append(collection)
                    notes += cluster.warnings(for: collection, job: job)
                    notes.append(note ?? "collection \(name) \(collection.exists ? "exists" : "created"): \(cluster.summary(collection))")
                    notes += try await aliases.carry(job, to: name, client: client, apply: apply)
                }
            } catch {
                await client.close()
                throw error
            }
            await client.close()
            return ([:], planned)
        case .postgres(let configuration, _, _):
            let (tables, created) = try await withConnection(configuration) { connection in
                var tables: [String: TargetTable] = [:]
                var created: [String] = []
                let copied = Set(jobs.compactMap { job -> String? in if case .table(let source) = job.source { "\(source.schema).\(source.table)" } else { nil } })
                for job in jobs {
                    guard case .table(let schema, let table) = job.target else { continue }
                    let (target, note) = try await prepareTable(schema: schema, table: table, for: job, connection: connection,
                                                                create: settings.createTables, apply: apply, copied: copied)
                    tables[job.name] = target
                    created += note
                }
                return (tables, created)
            }
            notes += created
            return (tables, [])
        }
    }

    /// Checks (or creates, when `apply`) a collection; returns it as planned, and a note when a run would create it.
    private static func prepareCollection(_ name: String, for job: VectorJob, client: QdrantClient, cluster: ClusterSettings,
                                          apply: Bool) async throws -> (PlannedCollection, String?) {
        let planned: PlannedCollection
        if let info = try await client.collection(name) {
            let actual = ShardSettings(config: info.config)
            let asked = cluster.explicit(for: job)
            let differences = asked.differences(from: actual)
            guard differences.isEmpty else { throw VectorMigrationError.collectionSettingsDiffer(collection: name, differences: differences) }
            planned = PlannedCollection(name: name, exists: true, settings: actual, unasked: cluster.creation(for: job).differences(from: actual))
            for spec in job.vectors {
                guard let space = info.vectors.first(where: { $0.name == spec.targetName && $0.sparse == spec.sparse }) else {
                    throw VectorMigrationError.unsupported("collection \(name) has no \(spec.sparse ? "sparse " : "")vector named '\(spec.targetName ?? "(unnamed)")'; its vectors are \(info.vectors.map { $0.name ?? "(unnamed)" }.joined(separator: ", ")). Fix the mapping's vector names.")
                }
                if let dimensions = spec.dimensions, !space.sparse, space.size != dimensions {
                    throw VectorMigrationError.dimensionMismatch(source: "\(job.sourceDisplay).\(spec.sourceName)", sourceDimensions: dimensions,
                                                                 target: "collection \(name)", targetDimensions: space.size)
                }
                if !space.sparse, space.distance.lowercased() != spec.distance.lowercased() {
                    throw VectorMigrationError.distanceMismatch(target: "collection \(name)", expected: spec.distance, actual: space.distance)
                }
            }
        } else {
            let creation = cluster.creation(for: job)
            planned = PlannedCollection(name: name, exists: false, settings: creation, unasked: [])
            if apply {
                try await client.createCollection(name, body: collectionBody(for: job, settings: creation))
            } else {
                let vectors = job.vectors.map { "\($0.targetName ?? "(unnamed)") \($0.sparse ? "sparse" : "\($0.dimensions ?? 0)d \($0.distance)")" }
                return (planned, "collection \(name) will be created (\(vectors.joined(separator: ", "))): \(cluster.summary(planned))")
            }
        }
        guard apply else { return (planned, nil) }
        var indexes: [(String, JSONValue)] = []
        if let tenant = job.mapping.tenant {
            indexes.append((tenant, .object([("type", .string("keyword")), ("is_tenant", .bool(true))])))
        }
        if case .collection(_, let info) = job.source {
            for (field, schema) in info.payloadSchema where field != job.mapping.tenant {
                var params: [(String, JSONValue)] = [("type", schema["data_type"] ?? .string("keyword"))]
                for (key, value) in schema["params"]?.object ?? [] where key != "type" { params.append((key, value)) }
                indexes.append((field, .object(params)))
            }
        }
        for (field, schema) in indexes {
            try await client.createPayloadIndex(name, field: field, schema: schema)
        }
        return (planned, nil)
    }

    /// The body of `PUT /collections/{name}`: vectors as the job writes them, with a Qdrant source's own vector
    /// parameters (HNSW, quantization, on-disk, datatype, multivector) and its HNSW, optimizer and quantization
    /// settings, HNSW from the mapping when it gives one, and `settings` (shards, replicas, on-disk) over all.
    static func collectionBody(for job: VectorJob, settings: ShardSettings) -> JSONValue {
        var body: [(String, JSONValue)] = []
        var sourceConfig: JSONValue?
        if case .collection(_, let info) = job.source { sourceConfig = info.config }
        let sourceVectors = sourceConfig?["params"]?["vectors"]
        let dense = job.vectors.filter { !$0.sparse }
        let sparse = job.vectors.filter(\.sparse)
        func params(_ spec: VectorSpec) -> JSONValue {
            let inherited = sourceVectors?["size"] != nil && spec.sourceName.isEmpty ? sourceVectors : sourceVectors?[spec.sourceName]
            var members = withoutNulls(inherited ?? .object([])).object?.filter { !["size", "distance", "on_disk"].contains($0.0) } ?? []
            members.insert(contentsOf: [("size", .int(Int64(spec.dimensions ?? 0))), ("distance", .string(spec.distance))], at: 0)
            if let onDisk = settings.onDiskVectors ?? inherited?["on_disk"]?.flag { members.append(("on_disk", .bool(onDisk))) }
            return .object(members)
        }
        if dense.count == 1, dense[0].targetName == nil {
            body.append(("vectors", params(dense[0])))
        } else if !dense.isEmpty {
            body.append(("vectors", .object(dense.map { ($0.targetName ?? "", params($0)) })))
        }
        if !sparse.isEmpty {
            body.append(("sparse_vectors", .object(sparse.map { spec in
                (spec.targetName ?? spec.sourceName, withoutNulls(sourceConfig?["params"]?["sparse_vectors"]?[spec.sourceName] ?? .object([])))
            })))
        }
        let counts: [(String, Int?)] = [("shard_number", settings.shards), ("replication_factor", settings.replicationFactor),
                                        ("write_consistency_factor", settings.writeConsistencyFactor)]
        for (key, value) in counts {
            if let value { body.append((key, .int(Int64(value)))) }
        }
        if let onDiskPayload = settings.onDiskPayload { body.append(("on_disk_payload", .bool(onDiskPayload))) }
        if let hnsw = job.mapping.hnsw {
            body.append(("hnsw_config", .object(hnsw.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })))
        } else if let hnsw = sourceConfig?["hnsw_config"] {
            body.append(("hnsw_config", withoutNulls(hnsw)))
        }
        if let optimizers = sourceConfig?["optimizer_config"] { body.append(("optimizers_config", withoutNulls(optimizers))) }
        if let quantization = sourceConfig?["quantization_config"], !quantization.isNull { body.append(("quantization_config", quantization)) }
        return .object(body)
    }

    /// An object without its `null` members (what Qdrant echoes as unset is left unset on create).
    private static func withoutNulls(_ value: JSONValue) -> JSONValue {
        guard let members = value.object else { return value }
        return .object(members.filter { !$0.1.isNull })
    }

    /// Checks (or creates, when `apply` and `create`) a target table; returns notes on what a run would create
    /// and on what of the source's definition it leaves out. A mirrored source table is created with its columns,
    /// defaults, primary key and checks; its indexes and other constraints come after the load
    /// (``createDeferredObjects(_:configuration:)``). An existing one must have the source's definition.
    /// `copied` holds the copy's source tables (`schema.table`): foreign keys to others are left out.
    private static func prepareTable(schema: String, table: String, for job: VectorJob, connection: PostgresConnection, create: Bool,
                                     apply: Bool, copied: Set<String>) async throws -> (TargetTable, [String]) {
        let types = try await TableSchema.loadTypes(connection)
        let exists = !(try await TableSchema.tables(connection, schema: schema)).filter { $0 == table }.isEmpty
        let qualified = "\(quoteIdentifier(schema)).\(quoteIdentifier(table))"
        switch job.source {
        case .table(let source):
            let (referring, leftOut) = source.definition.referring(within: copied)
            let definition = referring.planned(into: table, from: source.table, key: job.keyColumns, sourceKey: source.primaryKey)
            let target = TargetTable(schema: schema, table: table, columns: source.columns.map(\.name), key: job.keyColumns, mirrorsSource: true,
                                     vectorColumns: [], definition: definition)
            var notes = (definition.omissions + leftOut).map { "\(qualified): \($0)" }
            if !exists {
                guard create else { throw VectorMigrationError.missingTable("\(schema).\(table)", database: "the target (add --create-tables to create it)") }
                guard types.vector != nil else {
                    throw VectorMigrationError.unsupported("the target database lacks the pgvector extension: run CREATE EXTENSION vector there (RDS: a user with rds_superuser)")
                }
                let statement = definition.createStatement(qualified)
                let none = TableDefinition(columns: [], constraints: [], indexes: [])
                let deferred = definition.deferredStatements(qualified, existing: none) + definition.deferredStatements(qualified, existing: none, foreignKeys: true)
                guard apply else {
                    return (target, notes + ["\(qualified) will be created: \(statement)" + (deferred.isEmpty ? "" : "; after the load: " + deferred.joined(separator: "; "))])
                }
                try await connection.execute(statement)
            } else {
                let existing = try await TableSchema.load(connection, schema: schema, table: table)
                for column in source.columns {
                    guard let match = existing.column(column.name)?.column else { throw VectorMigrationError.missingColumn(column.name, table: qualified) }
                    if match.typeName != column.typeName {
                        if let sourceDimensions = column.dimensions, let targetDimensions = match.dimensions, sourceDimensions != targetDimensions {
                            throw VectorMigrationError.dimensionMismatch(source: "\(source.qualifiedName).\(column.name)", sourceDimensions: sourceDimensions,
                                                                         target: "\(qualified).\(column.name)", targetDimensions: targetDimensions)
                        }
                        throw VectorMigrationError.unsupported("column \(column.name) is \(column.typeName) in the source but \(match.typeName) in \(qualified); make the types equal")
                    }
                }
                if Set(existing.primaryKey) != Set(job.keyColumns) {
                    throw VectorMigrationError.unsupported("\(qualified) needs a primary key on (\(job.keyColumns.joined(separator: ", "))) so reruns overwrite instead of duplicating")
                }
                let differences = definition.differences(from: existing.definition)
                guard differences.isEmpty else {
                    throw VectorMigrationError.tableDefinitionDiffers(table: qualified, source: source.qualifiedName, differences: differences)
                }
                let deferred = definition.deferredStatements(qualified, existing: existing.definition)
                    + definition.deferredStatements(qualified, existing: existing.definition, foreignKeys: true)
                if !deferred.isEmpty { notes.append("\(qualified) exists; after the load: " + deferred.joined(separator: "; ")) }
            }
            return (target, notes)
        case .collection:
            let vectorColumns = job.vectors.map { ($0.targetName, $0.targetName ?? "embedding") }
            let target = TargetTable(schema: schema, table: table, columns: ["id"] + vectorColumns.map(\.1) + ["payload"], key: ["id"],
                                     mirrorsSource: false, vectorColumns: vectorColumns)
            if !exists {
                guard create else { throw VectorMigrationError.missingTable("\(schema).\(table)", database: "the target (add --create-tables to create it)") }
                let vectors = job.vectors.map { spec in
                    "\(quoteIdentifier(spec.targetName ?? "embedding")) \(spec.sparse ? "sparsevec" : "vector(\(spec.dimensions ?? 0))")"
                }
                let statement = "CREATE TABLE \(qualified) (id text PRIMARY KEY, \(vectors.joined(separator: ", ")), payload jsonb)"
                guard apply else { return (target, ["\(qualified) will be created: \(statement)"]) }
                try await connection.execute(statement)
            }
            return (target, [])
        }
    }
}

extension VectorPlan {
    /// Creates what a mirrored table's definition defers until after the bulk load (indexes, vector indexes,
    /// unique, exclusion and foreign key constraints) where the target lacks it; returns a note per table.
    static func createDeferredObjects(_ targets: [TargetTable], configuration: PostgresConfiguration) async throws -> [String] {
        try await withConnection(configuration) { connection in
            var notes: [String] = []
            let tables = targets.filter { $0.definition != nil }.sorted { $0.qualifiedName < $1.qualifiedName }
            for foreignKeys in [false, true] {
                for target in tables {
                    guard let definition = target.definition else { continue }
                    let existing = try await TableDefinition.load(connection, schema: target.schema, table: target.table)
                    let statements = definition.deferredStatements(target.qualifiedName, existing: existing, foreignKeys: foreignKeys)
                    guard !statements.isEmpty else { continue }
                    let started = ContinuousClock.now
                    for statement in statements { try await connection.execute(statement) }
                    notes.append("\(target.qualifiedName): created \(statements.count) \(foreignKeys ? "foreign keys" : "indexes and constraints") after the load in \(started.duration(to: .now))")
                }
            }
            return notes
        }
    }
}

/// Runs `body` with a new connection and closes it afterwards, whatever happens.
func withConnection<T>(_ configuration: PostgresConfiguration, _ body: (PostgresConnection) async throws -> T) async throws -> T {
    let connection = try await PostgresConnection.connect(configuration)
    do {
        let result = try await body(connection)
        await connection.close()
        return result
    } catch {
        await connection.close()
        throw error
    }
}

/// `SELECT count(*)` of a table.
func countRows(_ connection: PostgresConnection, _ qualifiedName: String) async throws -> Int {
    let rows = try await connection.query("SELECT count(*)::int8 FROM \(qualifiedName)")
    guard let field = rows.rows.first?[0], case .int(let count) = try PostgresBinary.decode(field, type: PostgresTypes.int8, types: PostgresTypes()) else {
        throw PostgresError.malformed("count(*) returned no integer")
    }
    return Int(count)
}
