import Foundation
import JSON
import Logging
import MigrationCore
import Postgres
import Qdrant
import Testing
import Transport
@testable import VectorMigration

/// The PostgreSQL and Qdrant servers of `scripts/servers.sh`.
enum VectorServers {
    static var pgSource: String { Servers.value("PG_SOURCE_URL") }
    static var pgTarget: String { Servers.value("PG_TARGET_URL") }
    static var pgPassword: String { Servers.value("PG_PASSWORD") }
    static var qdrantSource: String { Servers.value("QDRANT_SOURCE_URL") }
    static var qdrantTarget: String { Servers.value("QDRANT_TARGET_URL") }
    static var qdrantTLS: String { Servers.value("QDRANT_TLS_URL") }
    static var apiKey: String { Servers.value("QDRANT_API_KEY") }
    static var testCA: String { Servers.value("TEST_CA") }

    static func postgres(_ url: String, password: String? = nil) -> VectorStore {
        let uri = try! ServiceURI(url, defaultPorts: ["postgres": 5432])
        return .postgres(PostgresConfiguration(endpoint: uri.endpoint, database: uri.path, user: uri.user ?? "postgres",
                                               password: Secret(password ?? pgPassword), tlsMode: .disable),
                         schema: "public", displayName: uri.description)
    }

    static func qdrant(_ url: String, apiKey: String? = nil) -> VectorStore {
        let uri = try! ServiceURI(url, defaultPorts: ["http": 6333, "https": 6333])
        return .qdrant(QdrantConfiguration(endpoint: uri.endpoint, tls: uri.scheme == "https" ? TLSConfiguration(caFile: testCA) : nil,
                                           apiKey: apiKey.map(Secret.init), displayName: uri.description))
    }

    static func connect(_ url: String) async throws -> PostgresConnection {
        guard case .postgres(let configuration, _, _) = postgres(url) else { fatalError() }
        return try await PostgresConnection.connect(configuration)
    }

    static func client(_ store: VectorStore) -> QdrantClient {
        guard case .qdrant(let configuration) = store else { fatalError() }
        return QdrantClient(configuration)
    }

    /// Drops every collection of a Qdrant stand-in.
    static func clear(_ store: VectorStore) async throws {
        let client = client(store)
        for name in try await client.collectionNames() {
            _ = try? await client.deleteCollection(name)
        }
        await client.close()
    }
}

func vectorSettings(source: VectorStore, target: VectorStore, mapping: [CollectionMapping]? = nil, tables: [String] = [],
                    targetName: String? = nil, batch: Int = 64, shard: Shard? = nil, createTables: Bool = false) -> VectorRunSettings {
    var logger = Logger(label: "integration")
    logger.logLevel = .error
    return VectorRunSettings(source: source, target: target, mappings: mapping, sourceNames: tables, targetName: targetName,
                             batchSize: batch, concurrency: 3, shard: shard, createTables: createTables, progressStyle: .silent, logger: logger)
}

func lightragMapping() throws -> [CollectionMapping] {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return try VectorMappingFile.load(repository.appendingPathComponent("mappings/lightrag.yaml").path).collections
}

/// Drops every LightRAG vector table, so a `{suffix}` mapping sees only what a test creates.
func dropLightRAGTables(_ connection: PostgresConnection) async throws {
    let rows = try await connection.query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'lightrag_vdb_%'")
    for row in rows.rows.indices {
        try await connection.execute("DROP TABLE IF EXISTS \"\(rows.text(row, 0)!)\"")
    }
}

/// Only LightRAG's three tables (see ``createLightRAGTables``) on the source, and an empty Qdrant target.
func freshLightRAGSource(dimensions: Int, rows: Int, suffix: String, workspaces: [String] = ["ws_a", "ws_b"]) async throws -> VectorStore {
    let connection = try await VectorServers.connect(VectorServers.pgSource)
    try await dropLightRAGTables(connection)
    try await createLightRAGTables(connection, dimensions: dimensions, rows: rows, suffix: suffix, workspaces: workspaces)
    await connection.close()
    let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
    try await VectorServers.clear(target)
    return target
}

/// Creates LightRAG's three vector tables (suffix `_test_model_<dim>d`) with `rows` rows per workspace in
/// `workspaces` (two by default), which share every id.
func createLightRAGTables(_ connection: PostgresConnection, dimensions: Int, rows: Int, suffix: String,
                          workspaces: [String] = ["ws_a", "ws_b"]) async throws {
    let workspaceArray = "ARRAY[" + workspaces.map { "'\($0)'" }.joined(separator: ", ") + "]"
    for table in ["lightrag_vdb_chunks", "lightrag_vdb_entity", "lightrag_vdb_relation"] {
        try await connection.execute("DROP TABLE IF EXISTS \(table)\(suffix)")
    }
    let vector = "ARRAY(SELECT (random() - 0.5 + i * 0)::real FROM generate_series(1, \(dimensions)))::vector(\(dimensions))"
    try await connection.execute("""
        CREATE TABLE lightrag_vdb_chunks\(suffix) (id VARCHAR(255), workspace VARCHAR(255), full_doc_id VARCHAR(256),
            chunk_order_index INTEGER, tokens INTEGER, content TEXT, content_vector VECTOR(\(dimensions)), file_path TEXT NULL,
            create_time TIMESTAMP(0) WITH TIME ZONE, update_time TIMESTAMP(0) WITH TIME ZONE, PRIMARY KEY (workspace, id));
        CREATE TABLE lightrag_vdb_entity\(suffix) (id VARCHAR(255), workspace VARCHAR(255), entity_name VARCHAR(512), content TEXT,
            content_vector VECTOR(\(dimensions)), create_time TIMESTAMP(0) WITH TIME ZONE, update_time TIMESTAMP(0) WITH TIME ZONE,
            chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL, PRIMARY KEY (workspace, id));
        CREATE TABLE lightrag_vdb_relation\(suffix) (id VARCHAR(255), workspace VARCHAR(255), source_id VARCHAR(512), target_id VARCHAR(512),
            content TEXT, content_vector VECTOR(\(dimensions)), create_time TIMESTAMP(0) WITH TIME ZONE, update_time TIMESTAMP(0) WITH TIME ZONE,
            chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL, PRIMARY KEY (workspace, id));
        INSERT INTO lightrag_vdb_chunks\(suffix)
            SELECT 'chunk-' || md5(i::text), w, 'doc-' || md5((i / 10)::text), i % 10, 50 + i % 7,
                   'Ünïcödé chunk ' || i || ' 知识图谱 🚀 "quoted" \\ back', \(vector), 'docs/' || i || '.md',
                   TIMESTAMPTZ '2026-11-01 12:00:00+00' + i * INTERVAL '1 minute', now()
            FROM generate_series(1, \(rows)) AS i, unnest(\(workspaceArray)) AS w;
        INSERT INTO lightrag_vdb_entity\(suffix)
            SELECT 'ent-' || md5(i::text), w, 'Entity ' || i, 'Entity ' || i || ' description', \(vector),
                   TIMESTAMPTZ '2026-11-02 00:00:00+00', now(), ARRAY['chunk-' || md5(i::text), 'chunk-' || md5((i + 1)::text)], 'docs/e.md'
            FROM generate_series(1, \(rows)) AS i, unnest(\(workspaceArray)) AS w;
        INSERT INTO lightrag_vdb_relation\(suffix)
            SELECT 'rel-' || md5(i::text), w, 'Entity ' || i, 'Entity ' || (i + 1), 'related', \(vector),
                   TIMESTAMPTZ '2026-11-03 00:00:00+00', now(), ARRAY['chunk-' || md5(i::text)], NULL
            FROM generate_series(1, \(rows)) AS i, unnest(\(workspaceArray)) AS w;
        """)
}
