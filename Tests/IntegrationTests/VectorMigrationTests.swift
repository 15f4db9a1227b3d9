import Foundation
import JSON
import MigrationCore
import Postgres
import Qdrant
import Testing
@testable import VectorMigration

extension Integration {
    @Suite struct Vectors {
        @Test func lightragTablesBecomeLightRAGsQdrantLayout() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await dropLightRAGTables(connection)
            try await createLightRAGTables(connection, dimensions: 1536, rows: 150, suffix: "_test_model_1536d")
            await connection.close()
            let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(target)

            let settings = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target, mapping: try lightragMapping())
            let report = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.totals["written"] == 900)

            let client = VectorServers.client(target)
            let chunks = "lightrag_vdb_chunks_test_model_1536d"
            // Two workspaces share every id: each row is its own point.
            #expect(try await client.count(chunks) == 300)
            #expect(try await client.count("lightrag_vdb_entities_test_model_1536d") == 300)
            #expect(try await client.count("lightrag_vdb_relationships_test_model_1536d") == 300)
            let info = try #require(try await client.collection(chunks))
            #expect(info.vectors == [VectorSpace(name: nil, size: 1536, distance: "Cosine")])
            #expect(info.payloadSchema.first { $0.0 == "workspace_id" }?.1["data_type"]?.string == "keyword")

            // The point id LightRAG itself would compute for (ws_a, chunk-md5(1)).
            let chunkID = try PointIDRule.lightrag.pointID(for: ["ws_a", "chunk-c4ca4238a0b923820dcc509a6f75849b"])
            let point = try #require(try await client.retrieve(chunks, ids: [chunkID]).first)
            #expect(point["payload"]?["id"]?.string == "chunk-c4ca4238a0b923820dcc509a6f75849b")
            #expect(point["payload"]?["workspace_id"]?.string == "ws_a")
            #expect(point["payload"]?["created_at"] == .int(1_793_534_460))
            #expect(point["payload"]?["content"]?.string == "Ünïcödé chunk 1 知识图谱 🚀 \"quoted\" \\ back")
            #expect(point["payload"]?["full_doc_id"]?.string == "doc-cfcd208495d565ef66e7dff9f98764da")
            let entity = try #require(try await client.retrieve("lightrag_vdb_entities_test_model_1536d",
                                                                 ids: [try PointIDRule.lightrag.pointID(for: ["ws_b", "ent-c4ca4238a0b923820dcc509a6f75849b"])]).first)
            #expect(entity["payload"]?["source_id"]?.string == "chunk-c4ca4238a0b923820dcc509a6f75849b<SEP>chunk-c81e728d9d4c2f636f067f89cc14862c")
            let relation = try #require(try await client.retrieve("lightrag_vdb_relationships_test_model_1536d",
                                                                   ids: [try PointIDRule.lightrag.pointID(for: ["ws_a", "rel-c4ca4238a0b923820dcc509a6f75849b"])]).first)
            #expect(relation["payload"]?["src_id"]?.string == "Entity 1")
            #expect(relation["payload"]?["tgt_id"]?.string == "Entity 2")
            #expect(try await client.count(chunks, filter: .object([("must", .array([.object([("key", .string("workspace_id")), ("match", .object([("value", .string("ws_b"))]))])]))])) == 150)
            await client.close()

            let verification = try await VectorVerification(settings: settings).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            #expect(verification.totals["matched"] == 900)
            #expect(verification.checksum == report.checksum, "one checksum definition: the copy's summary and verify agree")
            // The ledger balances per mapping entry against the collections' exact counts.
            #expect(report.ledger?.rows.count == 3)
            #expect(report.ledger?.rows.allSatisfy { $0.entry.selected == 300 && $0.entry.written == 300 && $0.onTarget == 300 && $0.problem == nil } == true)
            #expect(verification.sections.contains { $0.title == "nearest neighbours" && $0.rows.first?[2] == "1.000" })
        }

        @Test func halfvecSparsevecAndPlainColumnsTravelExactly() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await connection.execute("""
                DROP TABLE IF EXISTS mixed_vectors;
                CREATE TABLE mixed_vectors (id bigint PRIMARY KEY, dense halfvec(8), sparse sparsevec(1000), title text, score numeric(10,3),
                    tags text[], meta jsonb, flag boolean, born date, at timestamp);
                INSERT INTO mixed_vectors SELECT i, ARRAY(SELECT (j * 0.25 + i)::real FROM generate_series(1, 8) AS j)::halfvec(8),
                    ('{' || (i % 1000 + 1) || ':1.5,' || ((i * 7) % 1000 + 1) || ':-0.25}/1000')::sparsevec,
                    'título ' || i, i * 1.125, ARRAY['a', 'b' || i], jsonb_build_object('n', i, 'nested', jsonb_build_object('ok', true)),
                    i % 2 = 0, DATE '2026-01-01' + i, TIMESTAMP '2026-01-01 00:00:00' + i * INTERVAL '1 second'
                FROM generate_series(1, 300) AS i;
                """)
            await connection.close()
            let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(target)
            let settings = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target, tables: ["mixed_vectors"])
            let report = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")

            let client = VectorServers.client(target)
            let info = try #require(try await client.collection("mixed_vectors"))
            #expect(Set(info.vectors) == [VectorSpace(name: "dense", size: 8, distance: "Cosine"), VectorSpace(name: "sparse", size: 0, distance: "", sparse: true)])
            let point = try #require(try await client.retrieve("mixed_vectors", ids: [.int(3)]).first)
            // Qdrant stores Cosine vectors normalized: same direction as the source's halfvec values.
            let source: [Double] = [3.25, 3.5, 3.75, 4, 4.25, 4.5, 4.75, 5]
            let length = source.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let stored = point["vector"]?["dense"]?.array?.compactMap(\.double) ?? []
            #expect(stored.count == 8)
            #expect(zip(stored, source).allSatisfy { abs($0 - $1 / length) < 1e-6 }, "\(stored)")
            #expect(point["vector"]?["sparse"]?["indices"]?.array?.compactMap(\.int).sorted() == [3, 21])
            #expect(point["payload"]?["title"]?.string == "título 3")
            #expect(point["payload"]?["score"]?.string == "3.375")
            #expect(point["payload"]?["tags"] == .array([.string("a"), .string("b3")]))
            #expect(point["payload"]?["meta"]?["nested"]?["ok"] == .bool(true))
            #expect(point["payload"]?["born"]?.string == "2026-01-04")
            #expect(point["payload"]?["at"]?.string == "2026-01-01T00:00:03")
            #expect(point["payload"]?["flag"] == .bool(false))
            await client.close()
            let verification = try await VectorVerification(settings: settings, neighbourQueries: 0).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
        }

        @Test func dimensionMismatchAndNaNAreRefusedBeforeAnyWrite() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await connection.execute("""
                DROP TABLE IF EXISTS small_vectors; DROP TABLE IF EXISTS array_vectors;
                CREATE TABLE small_vectors (id int PRIMARY KEY, v vector(4));
                INSERT INTO small_vectors SELECT i, '[1,2,3,4]' FROM generate_series(1, 10) AS i;
                CREATE TABLE array_vectors (id text PRIMARY KEY, v real[]);
                INSERT INTO array_vectors VALUES ('fine', '{1,2,3}'), ('broken-row', '{1,NaN,3}');
                """)
            await connection.close()
            let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(target)
            let client = VectorServers.client(target)
            try await client.createCollection("small_vectors", body: .object([("vectors", .object([("size", .int(8)), ("distance", .string("Cosine"))]))]))

            let mismatch = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target, tables: ["small_vectors"])
            do {
                _ = try await VectorMigration(settings: mismatch, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
                Issue.record("a dimension mismatch was not refused")
            } catch {
                #expect("\(error)".contains("dimension mismatch"), "\(error)")
                #expect("\(error)".contains("4-dimensional"))
            }
            #expect(try await client.count("small_vectors") == 0)

            let mapping = [CollectionMapping(name: "arrays", source: .init(table: "array_vectors"), target: .init(collection: "array_vectors"),
                                             vectors: [.init(column: "v", distance: "Dot")])]
            let nan = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target, mapping: mapping)
            do {
                _ = try await VectorMigration(settings: nan, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
                Issue.record("NaN was not refused")
            } catch {
                #expect("\(error)".contains("broken-row"), "\(error)")
                #expect("\(error)".contains("NaN"))
            }
            #expect(try await client.collection("array_vectors") == nil)
            await client.close()
        }

        @Test func pgvectorToPgvectorMirrorsTheTable() async throws {
            let source = try await VectorServers.connect(VectorServers.pgSource)
            try await createLightRAGTables(source, dimensions: 64, rows: 100, suffix: "_mirror_64d")
            await source.close()
            let target = try await VectorServers.connect(VectorServers.pgTarget)
            try await target.execute("DROP TABLE IF EXISTS lightrag_vdb_chunks_mirror_64d")
            await target.close()
            let settings = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: VectorServers.postgres(VectorServers.pgTarget),
                                          tables: ["lightrag_vdb_chunks_mirror_64d"], createTables: true)
            let first = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
            #expect(first.outcome == .succeeded, "\(first.rendered())")
            // A rerun overwrites: still 200 rows.
            let second = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
            #expect(second.outcome == .succeeded)
            let check = try await VectorServers.connect(VectorServers.pgTarget)
            #expect(try await countRows(check, "lightrag_vdb_chunks_mirror_64d") == 200)
            await check.close()
            let verification = try await VectorVerification(settings: settings, neighbourQueries: 0).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            #expect(verification.totals["matched"] == 200)
        }

        @Test func qdrantToQdrantOverTLSCopiesConfigurationAndPoints() async throws {
            let source = VectorServers.qdrant(VectorServers.qdrantSource)
            let target = VectorServers.qdrant(VectorServers.qdrantTLS, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(source)
            try await VectorServers.clear(target)
            let client = VectorServers.client(source)
            try await client.createCollection("docs", body: .object([
                ("vectors", .object([("text", .object([("size", .int(16)), ("distance", .string("Dot"))])), ("image", .object([("size", .int(4)), ("distance", .string("Euclid"))]))])),
                ("hnsw_config", .object([("m", .int(8)), ("ef_construct", .int(64))])),
            ]))
            try await client.createPayloadIndex("docs", field: "tenant", schema: .object([("type", .string("keyword")), ("is_tenant", .bool(true))]))
            var body = Array(#"{"points":["#.utf8)
            for index in 0..<250 {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                let text = (0..<16).map { _ in String(Float.random(in: -1...1)) }.joined(separator: ",")
                body += Array(#"{"id":\#(index + 1),"vector":{"text":[\#(text)],"image":[1,2,3,\#(index)]},"payload":{"tenant":"t\#(index % 3)","n":\#(index)}}"#.utf8)
            }
            body += Array("]}".utf8)
            try await client.upsert("docs", body: body)
            await client.close()

            let settings = vectorSettings(source: source, target: target, batch: 40)
            let report = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            let copied = VectorServers.client(target)
            let info = try #require(try await copied.collection("docs"))
            #expect(Set(info.vectors) == [VectorSpace(name: "text", size: 16, distance: "Dot"), VectorSpace(name: "image", size: 4, distance: "Euclid")])
            #expect(info.config["hnsw_config"]?["m"]?.int == 8)
            #expect(info.payloadSchema.contains { $0.0 == "tenant" })
            #expect(try await copied.count("docs") == 250)
            await copied.close()
            let verification = try await VectorVerification(settings: settings).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
        }

        @Test func shardsCoverTheSourceExactlyOnce() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await createLightRAGTables(connection, dimensions: 32, rows: 200, suffix: "_shard_32d")
            await connection.close()
            let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(target)
            var written = 0
            for index in 0..<3 {
                let settings = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target,
                                              tables: ["lightrag_vdb_chunks_shard_32d"], shard: Shard("\(index)/3"))
                let report = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
                #expect(report.outcome == .succeeded)
                written += report.totals["written"]
            }
            #expect(written == 400)
            let client = VectorServers.client(target)
            #expect(try await client.count("lightrag_vdb_chunks_shard_32d") == 400)
            await client.close()
            let all = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target, tables: ["lightrag_vdb_chunks_shard_32d"])
            let verification = try await VectorVerification(settings: all, neighbourQueries: 3).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
        }
    }
}
