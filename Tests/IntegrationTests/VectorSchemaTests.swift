import Foundation
import Postgres
import Testing
@testable import VectorMigration

extension Integration {
    /// pgvector → pgvector: the target tables keep the source's definition.
    @Suite(.serialized) struct VectorSchema {
        /// LightRAG's three tables, as LightRAG creates them, with its indexes and an HNSW index each.
        static func createLightRAGLayout(_ connection: PostgresConnection, dimensions: Int, rows: Int) async throws {
            for (table, columns) in [
                ("lightrag_vdb_chunks", "full_doc_id VARCHAR(256), chunk_order_index INTEGER, tokens INTEGER, content TEXT, content_vector VECTOR(\(dimensions)), file_path TEXT NULL"),
                ("lightrag_vdb_entity", "entity_name VARCHAR(512), content TEXT, content_vector VECTOR(\(dimensions)), chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL"),
                ("lightrag_vdb_relation", "source_id VARCHAR(512), target_id VARCHAR(512), content TEXT, content_vector VECTOR(\(dimensions)), chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL"),
            ] {
                try await connection.execute("""
                    CREATE TABLE \(table.uppercased()) (id VARCHAR(255), workspace VARCHAR(255), \(columns),
                        create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
                        CONSTRAINT \(table.uppercased())_PK PRIMARY KEY (workspace, id));
                    CREATE INDEX idx_\(table)_id ON \(table) (id);
                    CREATE INDEX idx_\(table)_workspace_id ON \(table) (workspace, id);
                    CREATE INDEX idx_\(table)_hnsw_cosine ON \(table) USING hnsw (content_vector vector_cosine_ops) WITH (m = 16, ef_construction = 64);
                    """)
            }
            let vector = "ARRAY(SELECT (random() - 0.5 + i * 0)::real FROM generate_series(1, \(dimensions)))::vector(\(dimensions))"
            try await connection.execute("""
                INSERT INTO lightrag_vdb_chunks (id, workspace, full_doc_id, chunk_order_index, tokens, content, content_vector, file_path)
                    SELECT 'chunk-' || md5(i::text), w, 'doc-' || (i / 10), i % 10, 50 + i % 7, 'chunk ' || i, \(vector), 'docs/' || i || '.md'
                    FROM generate_series(1, \(rows)) AS i, unnest(ARRAY['default', 'other']) AS w;
                INSERT INTO lightrag_vdb_entity (id, workspace, entity_name, content, content_vector, chunk_ids)
                    SELECT 'ent-' || md5(i::text), 'default', 'Entity ' || i, 'about ' || i, \(vector), ARRAY['chunk-' || md5(i::text)]
                    FROM generate_series(1, \(rows)) AS i;
                INSERT INTO lightrag_vdb_relation (id, workspace, source_id, target_id, content, content_vector)
                    SELECT 'rel-' || md5(i::text), 'default', 'Entity ' || i, 'Entity ' || (i + 1), 'related', \(vector)
                    FROM generate_series(1, \(rows)) AS i;
                """)
        }

        /// A table with every kind of definition a copy carries: halfvec and sparsevec columns, a collation,
        /// defaults, checks, a unique constraint, IVFFlat and HNSW indexes with options, a partial index, and a
        /// second table whose foreign key refers to it.
        static func createOtherKinds(_ connection: PostgresConnection) async throws {
            try await connection.execute("""
                CREATE TABLE doc_embeddings (id bigint NOT NULL, tenant text COLLATE "C" NOT NULL DEFAULT 'default',
                    title varchar(200) NOT NULL, tokens integer DEFAULT 0 CONSTRAINT tokens_not_negative CHECK (tokens >= 0),
                    summary halfvec(8), keywords sparsevec(16), embedding vector(8) NOT NULL, created timestamptz NOT NULL DEFAULT now(),
                    CONSTRAINT doc_embeddings_pkey PRIMARY KEY (id), CONSTRAINT doc_embeddings_title_key UNIQUE (tenant, title));
                CREATE INDEX doc_embeddings_embedding_ivfflat ON doc_embeddings USING ivfflat (embedding vector_l2_ops) WITH (lists = 4);
                CREATE INDEX doc_embeddings_summary_hnsw ON doc_embeddings USING hnsw (summary halfvec_ip_ops) WITH (m = 8, ef_construction = 32);
                CREATE INDEX doc_embeddings_keywords_hnsw ON doc_embeddings USING hnsw (keywords sparsevec_l1_ops);
                CREATE INDEX doc_embeddings_recent ON doc_embeddings (created DESC) WHERE tokens > 10;
                CREATE TABLE doc_links (id integer PRIMARY KEY, doc_id bigint NOT NULL REFERENCES doc_embeddings (id) ON DELETE CASCADE, v vector(2));
                INSERT INTO doc_embeddings (id, title, tokens, summary, keywords, embedding)
                    SELECT i, 'title ' || i, i, ARRAY[i, 1, 2, 3, 4, 5, 6, 7]::real[]::halfvec(8), ('{1:' || i || ',5:2}/16')::sparsevec(16),
                           ARRAY[i, 0, 0, 0, 0, 0, 0, 1]::real[]::vector(8)
                    FROM generate_series(1, 50) AS i;
                INSERT INTO doc_links SELECT i, i, '[1,2]' FROM generate_series(1, 50) AS i;
                """)
        }

        static let tables = ["lightrag_vdb_chunks", "lightrag_vdb_entity", "lightrag_vdb_relation", "doc_embeddings", "doc_links"]

        /// `pg_dump --schema-only --no-owner` of `tables`, without the lines that differ from dump to dump.
        static func schemaDump(_ url: String) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Servers.value("PG_BIN") + "/pg_dump")
            process.arguments = ["--schema-only", "--no-owner", "--dbname", url] + tables.flatMap { ["-t", $0] }
            process.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": VectorServers.pgPassword]) { $1 }
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }.joined(separator: "\n")
        }

        /// Runs `body` with two new databases that have pgvector (source, target URLs), and drops them after.
        static func withDatabases(_ body: (String, String) async throws -> Void) async throws {
            let names = ["migrate_schema_source_\(getpid())", "migrate_schema_target_\(getpid())"]
            let server = VectorServers.pgSource
            let base = String(server[..<server.lastIndex(of: "/")!])
            let admin = try await VectorServers.connect(server)
            for name in names {
                try await admin.execute("DROP DATABASE IF EXISTS \(name)")
                try await admin.execute("CREATE DATABASE \(name)")
                let connection = try await VectorServers.connect("\(base)/\(name)")
                try await connection.execute("CREATE EXTENSION vector")
                await connection.close()
            }
            do {
                try await body("\(base)/\(names[0])", "\(base)/\(names[1])")
            } catch {
                for name in names { try? await admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
                await admin.close()
                throw error
            }
            for name in names { try await admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
            await admin.close()
        }

        @Test func lightragTablesKeepTheirDefinitionOnAFreshTarget() async throws {
            try await Self.withDatabases { sourceURL, targetURL in
                let source = try await VectorServers.connect(sourceURL)
                try await Self.createLightRAGLayout(source, dimensions: 32, rows: 120)
                try await Self.createOtherKinds(source)
                await source.close()
                let settings = vectorSettings(source: VectorServers.postgres(sourceURL), target: VectorServers.postgres(targetURL),
                                              tables: Self.tables.filter { $0 != "doc_links" } + ["doc_links"], createTables: true)
                let report = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
                #expect(report.outcome == .succeeded, "\(report.rendered())")
                #expect(report.totals["written"] == 240 + 120 + 120 + 50 + 50)
                #expect(report.notes.contains { $0.contains("\"lightrag_vdb_chunks\": created 3 indexes and constraints after the load") }, "\(report.notes)")
                #expect(report.notes.contains { $0.contains("\"doc_links\": created 1 foreign keys after the load") }, "\(report.notes)")

                let sourceDump = try Self.schemaDump(sourceURL)
                #expect(sourceDump.contains("USING hnsw (content_vector public.vector_cosine_ops) WITH (m='16', ef_construction='64')"))
                // vector_l2_ops is ivfflat's default operator class, which the catalog leaves out.
                #expect(sourceDump.contains("USING ivfflat (embedding) WITH (lists='4')"))
                #expect(sourceDump.contains("USING hnsw (summary public.halfvec_ip_ops) WITH (m='8', ef_construction='32')"))
                #expect(try Self.schemaDump(targetURL) == sourceDump)

                // A rerun finds the tables as the source has them and copies again.
                let rerun = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
                #expect(rerun.outcome == .succeeded, "\(rerun.rendered())")
                #expect(try Self.schemaDump(targetURL) == sourceDump)

                let verification = try await VectorVerification(settings: settings, neighbourQueries: 0).run()
                #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            }
        }

        @Test func anExistingTargetTableWithAnotherDefinitionIsRefusedBeforeAnyWrite() async throws {
            try await Self.withDatabases { sourceURL, targetURL in
                let source = try await VectorServers.connect(sourceURL)
                try await Self.createOtherKinds(source)
                await source.close()
                let target = try await VectorServers.connect(targetURL)
                try await target.execute("""
                    CREATE TABLE doc_embeddings (id bigint NOT NULL, tenant text COLLATE "C" NOT NULL DEFAULT 'other',
                        title varchar(200) NOT NULL, tokens integer DEFAULT 0 CONSTRAINT tokens_not_negative CHECK (tokens >= 0),
                        summary halfvec(8), keywords sparsevec(16), embedding vector(8) NOT NULL, created timestamptz NOT NULL DEFAULT now(),
                        extra text, CONSTRAINT doc_embeddings_pkey PRIMARY KEY (id));
                    CREATE INDEX doc_embeddings_embedding_ivfflat ON doc_embeddings USING ivfflat (embedding vector_cosine_ops) WITH (lists = 4);
                    """)
                let settings = vectorSettings(source: VectorServers.postgres(sourceURL), target: VectorServers.postgres(targetURL),
                                              tables: ["doc_embeddings"], createTables: true)
                do {
                    _ = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
                    Issue.record("a differing target table was accepted")
                } catch let error as VectorMigrationError {
                    guard case .tableDefinitionDiffers(_, _, let differences) = error else { throw error }
                    #expect(differences == [
                        "column tenant: source `\"tenant\" text COLLATE pg_catalog.\"C\" DEFAULT 'default'::text NOT NULL`, target `\"tenant\" text COLLATE pg_catalog.\"C\" DEFAULT 'other'::text NOT NULL`",
                        "column extra is only on the target (`\"extra\" text`)",
                        "index doc_embeddings_embedding_ivfflat: source `USING ivfflat (embedding) WITH (lists='4')`, target `USING ivfflat (embedding vector_cosine_ops) WITH (lists='4')`",
                    ], "\(error)")
                    #expect("\(error)".contains("Nothing was written"))
                }
                #expect(try await countRows(target, "doc_embeddings") == 0)
                await target.close()
            }
        }
    }
}
