import ArgumentParser
import Foundation
import MigrationCore
import Postgres
import Qdrant
import Transport
import VectorMigration

/// Connection options for one side of a vectors migration.
struct VectorSideOptions {
    var uri: String?
    var passwordFile: String?
    var apiKeyFile: String?
    var caFile: String?
    var insecureSkipVerify: Bool
    var schema: String

    /// Builds the store: `postgres://…` (pgvector) or `http(s)://…` (Qdrant). The `fallback…` values are the
    /// application's own environment (POSTGRES_*, QDRANT_*), used when nothing more specific is given.
    func store(role: String, fallbackURI: String?, fallbackPassword: String? = nil, fallbackAPIKey: String?, timeouts: TimeoutOptions) throws -> VectorStore {
        let environment = CommandEnvironment.current
        let upper = role.uppercased()
        guard let text = uri ?? environment["MIGRATE_\(upper)_URI"] ?? fallbackURI else {
            throw ValidationError("no \(role) given: pass --\(role) postgres://user@host:5432/db or --\(role) https://qdrant:6333 (or set MIGRATE_\(upper)_URI)")
        }
        let parsed: ServiceURI
        do {
            parsed = try ServiceURI(text, defaultPorts: ["postgres": 5432, "postgresql": 5432, "http": 6333, "https": 6333])
        } catch {
            throw ValidationError("--\(role): \(error.description)")
        }
        var display = parsed
        func secret(file: String?, option: String, environmentName: String, fallback: String?) throws -> Secret? {
            if let fromFile = try OptionCheck.secret("--\(role)-\(option)", path: file) { return fromFile }
            return (environment[environmentName] ?? fallback).map(Secret.init)
        }
        switch parsed.scheme {
        case "postgres", "postgresql":
            let password = try secret(file: passwordFile, option: "password-file", environmentName: "MIGRATE_\(upper)_PASSWORD", fallback: nil) ?? parsed.password
                ?? fallbackPassword.map(Secret.init)
            guard !parsed.path.isEmpty else { throw ValidationError("--\(role) '\(parsed)' names no database: use postgres://user@host:5432/DATABASE") }
            let mode = parsed.queryValue("sslmode").flatMap(PostgresConfiguration.TLSMode.init(rawValue:))
                ?? (caFile != nil ? .verifyFull : .prefer)
            if insecureSkipVerify { throw ValidationError("--\(role)-insecure-skip-verify: use ?sslmode=require for PostgreSQL instead") }
            let configuration = PostgresConfiguration(
                endpoint: parsed.endpoint, database: parsed.path, user: parsed.user ?? "postgres", password: password,
                tlsMode: mode, caFile: caFile ?? parsed.queryValue("sslrootcert"), connectTimeoutSeconds: timeouts.connect)
            display.password = password == nil ? nil : Secret("")
            return .postgres(configuration, schema: parsed.queryValue("schema") ?? schema, displayName: display.description)
        case "http", "https":
            let apiKey = try secret(file: apiKeyFile, option: "api-key-file", environmentName: "MIGRATE_\(upper)_API_KEY", fallback: fallbackAPIKey)
            if parsed.scheme == "http" && (caFile != nil || insecureSkipVerify) {
                throw ValidationError("--\(role)-ca-file/--\(role)-insecure-skip-verify need an https:// URL")
            }
            let tls = parsed.scheme == "https" ? TLSConfiguration(caFile: caFile, verifyPeer: !insecureSkipVerify) : nil
            display.password = nil
            return .qdrant(QdrantConfiguration(endpoint: parsed.endpoint, tls: tls, apiKey: apiKey, connectTimeout: .seconds(timeouts.connect),
                                               requestTimeout: .seconds(timeouts.io), displayName: display.description))
        default:
            throw ValidationError("--\(role) '\(parsed)': use postgres:// (pgvector) or http(s):// (Qdrant)")
        }
    }
}

/// `--source …` for vectors.
struct VectorSourceOptions: ParsableArguments {
    @Option(name: .customLong("source"), help: ArgumentHelp("postgres://user@host:5432/db (pgvector) or http(s)://host:6333 (Qdrant). Default: $MIGRATE_SOURCE_URI, then the app's POSTGRES_* variables.", valueName: "uri"))
    var uri: String?
    @Option(name: .customLong("source-password-file"), help: ArgumentHelp("PostgreSQL password file (else $MIGRATE_SOURCE_PASSWORD, $POSTGRES_PASSWORD).", valueName: "path"))
    var passwordFile: String?
    @Option(name: .customLong("source-api-key-file"), help: ArgumentHelp("Qdrant API key file (else $MIGRATE_SOURCE_API_KEY).", valueName: "path"))
    var apiKeyFile: String?
    @Option(name: .customLong("source-ca-file"), help: ArgumentHelp("PEM CA for the source's TLS certificate.", valueName: "path"))
    var caFile: String?
    @Flag(name: .customLong("source-insecure-skip-verify"), help: "Do not verify the source's TLS certificate (unsafe; Qdrant only).")
    var insecureSkipVerify = false
    @Option(name: .customLong("schema"), help: "The source's PostgreSQL schema.")
    var schema = "public"

    func store(_ timeouts: TimeoutOptions) throws -> VectorStore {
        let environment = CommandEnvironment.current
        var fallback: String?
        if let host = environment["POSTGRES_HOST"], let database = environment["POSTGRES_DATABASE"] {
            fallback = "postgres://\(environment["POSTGRES_USER"] ?? "postgres")@\(host):\(environment["POSTGRES_PORT"] ?? "5432")/\(database)"
        }
        return try VectorSideOptions(uri: uri, passwordFile: passwordFile, apiKeyFile: apiKeyFile, caFile: caFile,
                                     insecureSkipVerify: insecureSkipVerify, schema: schema)
            .store(role: "source", fallbackURI: fallback, fallbackPassword: environment["POSTGRES_PASSWORD"], fallbackAPIKey: nil, timeouts: timeouts)
    }
}

/// `--target …` for vectors.
struct VectorTargetOptions: ParsableArguments {
    @Option(name: .customLong("target"), help: ArgumentHelp("https://qdrant.internal:6333 (Qdrant) or postgres://user@rds:5432/db (pgvector). Default: $MIGRATE_TARGET_URI, then $QDRANT_URL.", valueName: "uri"))
    var uri: String?
    @Option(name: .customLong("target-password-file"), help: ArgumentHelp("PostgreSQL password file (else $MIGRATE_TARGET_PASSWORD).", valueName: "path"))
    var passwordFile: String?
    @Option(name: .customLong("target-api-key-file"), help: ArgumentHelp("Qdrant API key file (else $MIGRATE_TARGET_API_KEY, then $QDRANT_API_KEY).", valueName: "path"))
    var apiKeyFile: String?
    @Option(name: .customLong("target-ca-file"), help: ArgumentHelp("PEM CA for the target's TLS certificate.", valueName: "path"))
    var caFile: String?
    @Flag(name: .customLong("target-insecure-skip-verify"), help: "Do not verify the target's TLS certificate (unsafe; Qdrant only).")
    var insecureSkipVerify = false
    @Option(name: .customLong("target-schema"), help: "The target's PostgreSQL schema.")
    var schema = "public"

    func store(_ timeouts: TimeoutOptions) throws -> VectorStore {
        let environment = CommandEnvironment.current
        return try VectorSideOptions(uri: uri, passwordFile: passwordFile, apiKeyFile: apiKeyFile, caFile: caFile,
                                     insecureSkipVerify: insecureSkipVerify, schema: schema)
            .store(role: "target", fallbackURI: environment["QDRANT_URL"], fallbackAPIKey: environment["QDRANT_API_KEY"], timeouts: timeouts)
    }
}

/// What is copied, for both `migrate vectors` and `migrate verify vectors`.
struct VectorSelectionOptions: ParsableArguments {
    @Option(name: .customLong("mapping"), help: ArgumentHelp("A mapping file, e.g. mappings/lightrag.yaml (LightRAG's pgvector tables into its own Qdrant layout).", valueName: "path"))
    var mapping: String?
    @Option(name: .customLong("table"), help: ArgumentHelp("Without a mapping: a source table (repeatable; default: every table with a vector column).", valueName: "name"))
    var tables: [String] = []
    @Option(name: .customLong("collection"), help: ArgumentHelp("Without a mapping: a source Qdrant collection (repeatable; default: all).", valueName: "name"))
    var collections: [String] = []
    @Option(name: .customLong("target-name"), help: ArgumentHelp("Without a mapping: the target collection or table for the one source (default: the source's name).", valueName: "name"))
    var targetName: String?
    @Option(name: .customLong("shard"), help: ArgumentHelp("Handle only shard i of N (by a hash of the key), e.g. 0/4; N processes with 0/N … N-1/N cover the source exactly once.", valueName: "i/N"))
    var shard: Shard?
    @Option(name: .customLong("workspace"), help: ArgumentHelp("With a mapping that has a workspaces: rule: source workspace FROM is TO on the target, in point ids and payload (repeatable; replaces the mapping's rename of FROM), e.g. default=_ or default=prod.", valueName: "FROM=TO"))
    var workspaces: [String] = []

    func mappings() throws -> [CollectionMapping]? {
        guard let mapping else {
            if !workspaces.isEmpty { throw ValidationError("--workspace needs --mapping with a workspaces: rule (e.g. mappings/lightrag.yaml)") }
            return nil
        }
        var file: VectorMappingFile
        do {
            file = try VectorMappingFile.load(mapping)
        } catch {
            throw ValidationError(error.description)
        }
        guard !workspaces.isEmpty else { return file.collections }
        guard var rule = file.workspaces else {
            throw ValidationError("--workspace: \(mapping) has no workspaces: rule naming the workspace column; add one (see mappings/lightrag.yaml) or drop --workspace")
        }
        for text in workspaces {
            guard let (from, to) = WorkspaceRule.pair(text) else {
                throw ValidationError("--workspace '\(text)': expected FROM=TO with a non-empty TO, e.g. default=_")
            }
            rule.rename[from] = to
        }
        return file.collections.map { mapping in
            var mapping = mapping
            mapping.workspaces = rule
            return mapping
        }
    }

    func settings(source: VectorStore, target: VectorStore, run: RunOptions, createTables: Bool, maxRequestBytes: Int) throws -> VectorRunSettings {
        if mapping != nil && (!tables.isEmpty || !collections.isEmpty || targetName != nil) {
            throw ValidationError("--mapping names the tables and targets itself: drop --table/--collection/--target-name")
        }
        return VectorRunSettings(source: source, target: target, mappings: try mappings(), sourceNames: tables + collections,
                                 targetName: targetName, batchSize: run.batch, concurrency: run.concurrency, shard: shard,
                                 createTables: createTables, maxRequestBytes: maxRequestBytes,
                                 progressStyle: .automatic(json: run.json), logger: run.logger())
    }
}

/// Qdrant collection settings and write ordering for `migrate vectors`.
struct VectorCollectionOptions: ParsableArguments {
    @Option(name: .customLong("shards"), help: ArgumentHelp("shard_number of new Qdrant collections (over the mapping's; default on a cluster: one per peer).", valueName: "n"))
    var shards: Int?
    @Option(name: .customLong("replication-factor"), help: ArgumentHelp("replication_factor of new Qdrant collections: copies of each shard on different peers (default on a cluster: 2).", valueName: "n"))
    var replicationFactor: Int?
    @Option(name: .customLong("write-consistency-factor"), help: ArgumentHelp("write_consistency_factor of new Qdrant collections: replicas that must apply each write.", valueName: "n"))
    var writeConsistencyFactor: Int?
    @Option(name: .customLong("write-ordering"), help: ArgumentHelp("ordering of upserts: weak, medium or strong (default: medium on a cluster, else Qdrant's weak).", valueName: "ordering"))
    var writeOrdering: String?

    func validate() throws {
        for (name, value) in [("--shards", shards), ("--replication-factor", replicationFactor), ("--write-consistency-factor", writeConsistencyFactor)] {
            if let value, value < 1 { throw ValidationError("\(name) must be 1 or more") }
        }
        if let writeOrdering, WriteOrdering(rawValue: writeOrdering) == nil { throw ValidationError("--write-ordering: use weak, medium or strong") }
    }

    /// `settings` with these options applied.
    func apply(to settings: inout VectorRunSettings) {
        settings.collectionSettings = ShardSettings(shards: shards, replicationFactor: replicationFactor, writeConsistencyFactor: writeConsistencyFactor)
        settings.writeOrdering = writeOrdering.flatMap(WriteOrdering.init(rawValue:))
    }
}

/// `--require-tls`, for copy and verification.
struct VectorTransportOptions: ParsableArguments {
    @Flag(name: .customLong("require-tls"), help: "Refuse to send a Qdrant api-key over plain http:// (by default a warning).")
    var requireTLS = false
}

/// `migrate vectors`.
struct VectorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vectors",
        abstract: "Copy pgvector tables or Qdrant collections into Qdrant (HTTP API) or PostgreSQL with pgvector (RDS).",
        discussion: """
            Rows stream in key order with binary COPY (vector, halfvec, sparsevec decoded from their binary form); \
            points are upserted with wait=true in requests bounded by --batch and by bytes (under Qdrant's 32 MiB). \
            Composite keys such as (workspace, id) never collapse into one point. Before writing, the target \
            collection's dimensions and distance are checked (or it is created), and every row is checked for NaN.

            LightRAG: --mapping mappings/lightrag.yaml turns LIGHTRAG_VDB_CHUNKS/ENTITY/RELATION[_<model>_<dim>d] \
            into lightrag_vdb_{chunks,entities,relationships}[_<model>_<dim>d] with LightRAG's own point ids and payload.

            Example:
              MIGRATE_SOURCE_PASSWORD=… QDRANT_API_KEY=… migrate vectors \\
                --source postgres://rag@old-db:5432/rag --target https://qdrant.internal:6333 \\
                --mapping mappings/lightrag.yaml --batch 128
            """
    )

    @OptionGroup(title: "Source") var source: VectorSourceOptions
    @OptionGroup(title: "Target") var target: VectorTargetOptions
    @OptionGroup(title: "What") var selection: VectorSelectionOptions
    @OptionGroup(title: "Run") var run: RunOptions
    @OptionGroup(title: "Run") var throttle: ThrottleOptions
    @OptionGroup(title: "Timeouts") var timeouts: TimeoutOptions

    @OptionGroup(title: "Live sync until cutover") var live: VectorLiveOptions
    @OptionGroup(title: "Qdrant collections") var collections: VectorCollectionOptions
    @OptionGroup(title: "Target") var transport: VectorTransportOptions

    @Flag(name: .customLong("create-tables"), help: "Create missing PostgreSQL target tables (Qdrant collections are always created when missing).")
    var createTables = false
    @Option(name: .customLong("max-request-bytes"), help: "The largest upsert request (Qdrant refuses requests over 32 MiB).")
    var maxRequestBytes = 30 << 20
    @Flag(name: .customLong("dry-run"), help: "Read, check and count everything; write nothing.")
    var dryRun = false
    @Flag(name: .customLong("resume"), help: "Continue the unfinished run with the same source, target and mapping.")
    var resume = false
    @Flag(name: .customLong("fresh"), help: "Discard an unfinished run's checkpoint and start over.")
    var fresh = false
    @Option(name: .customLong("checkpoint-dir"), help: ArgumentHelp("Where checkpoints are kept.", valueName: "path"))
    var checkpointDirectory = ".migrate"

    func validate() throws {
        if resume && fresh { throw ValidationError("--resume and --fresh exclude each other") }
        try OptionCheck.writableDirectory("--checkpoint-dir", checkpointDirectory)
        try OptionCheck.readableFile("--mapping", selection.mapping)
        for (option, path) in [("--source-password-file", source.passwordFile), ("--source-api-key-file", source.apiKeyFile), ("--source-ca-file", source.caFile),
                               ("--target-password-file", target.passwordFile), ("--target-api-key-file", target.apiKeyFile), ("--target-ca-file", target.caFile)] {
            try OptionCheck.readableFile(option, path)
        }
        if live.enabled && dryRun { throw ValidationError("--live and --dry-run exclude each other") }
        guard (1 << 10...32 << 20).contains(maxRequestBytes) else { throw ValidationError("--max-request-bytes must be between 1 KiB and 32 MiB") }
    }

    func run() async throws {
        try await run.finish(facts: await ReportOutput.facts(of: self, wanted: run.wantsReportFile)) { try await execute() }
    }

    func execute() async throws -> MigrationReport {
        let migration = VectorMigration(settings: try settings(), checkpointDirectory: checkpointDirectory,
                                        resumePolicy: resume ? .resume : fresh ? .fresh : .refuseUnfinished, dryRun: dryRun, rateLimit: throttle.rate)
        guard live.enabled, let changedColumn = live.changedColumn else { return try await Interruption.run { try await migration.run() } }
        let stop = StopRequest()
        let signals = SignalHandlers(stop: stop)
        defer { signals.cancel() }
        return try await VectorLiveSync(migration: migration, changedColumn: changedColumn, pollInterval: .seconds(live.pollInterval),
                                        duration: live.duration.map { .seconds($0) }).run(stop: stop)
    }

    func inventory(sampleSize: Int) async throws -> PhasePlan {
        var settings = try settings()
        settings.batchSize = min(settings.batchSize, sampleSize)
        return await VectorInventory(settings: settings).take()
    }

    private func settings() throws -> VectorRunSettings {
        var settings = try selection.settings(source: try source.store(timeouts), target: try target.store(timeouts), run: run,
                                              createTables: createTables, maxRequestBytes: maxRequestBytes)
        collections.apply(to: &settings)
        settings.requireTLS = transport.requireTLS
        return settings
    }
}

/// `migrate verify vectors`.
struct VerifyVectorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vectors",
        abstract: "Compare every source row with its point: id, vectors, payload; counts per collection and tenant; nearest neighbours (exit 3 on any difference)."
    )

    @OptionGroup(title: "Source") var source: VectorSourceOptions
    @OptionGroup(title: "Target") var target: VectorTargetOptions
    @OptionGroup(title: "What") var selection: VectorSelectionOptions
    @OptionGroup(title: "Run") var run: RunOptions
    @OptionGroup(title: "Timeouts") var timeouts: TimeoutOptions

    @OptionGroup(title: "Target") var transport: VectorTransportOptions

    @Option(name: .customLong("neighbour-queries"), help: "Source vectors used as nearest-neighbour queries on both sides.")
    var neighbourQueries = 10
    @Option(name: .customLong("neighbours"), help: "Neighbours compared per query (k).")
    var neighbours = 10
    @Option(name: .customLong("min-recall"), help: "The least average overlap of the neighbour lists (HNSW is approximate).")
    var minimumRecall = 0.9

    func validate() throws {
        guard neighbourQueries >= 0, neighbours > 0, (0...1).contains(minimumRecall) else {
            throw ValidationError("--neighbour-queries ≥ 0, --neighbours > 0 and 0 ≤ --min-recall ≤ 1")
        }
    }

    func run() async throws {
        try await run.finish { try await execute() }
    }

    func execute() async throws -> MigrationReport {
        var settings = try selection.settings(source: try source.store(timeouts), target: try target.store(timeouts), run: run,
                                              createTables: false, maxRequestBytes: 30 << 20)
        settings.requireTLS = transport.requireTLS
        let verification = settings
        return try await Interruption.run { try await VectorVerification(settings: verification, neighbourQueries: neighbourQueries, neighbours: neighbours, minimumRecall: minimumRecall).run() }
    }
}
