import Foundation
import JSON
import Postgres
@testable import Qdrant
import Testing
@testable import VectorMigration

@Suite struct PointIDTests {
    @Test func lightragIDsMatchLightRAGsPythonRule() throws {
        // uuid.UUID(bytes=hashlib.sha256(("base" + "chunk-abc").encode()).digest()[:16], version=4)
        #expect(try PointIDRule.lightrag.pointID(for: ["base", "chunk-abc"]) == .string("ec2a18b0-705f-42e1-97d9-d2e0ae4b2feb"))
        #expect(try PointIDRule.lightrag.pointID(for: ["ws2", "ent-1"]) == .string("d8e9072b-1b45-4ab6-a2df-e6dd25420155"))
        // The same id in two workspaces is two points.
        #expect(try PointIDRule.lightrag.pointID(for: ["a", "x"]) != PointIDRule.lightrag.pointID(for: ["b", "x"]))
    }

    @Test func uuid5IsStableAndSeparatesCompositeKeys() throws {
        let first = try PointIDRule.uuid5.pointID(for: ["ws", "id"])
        #expect(first == (try PointIDRule.uuid5.pointID(for: ["ws", "id"])))
        #expect(first != (try PointIDRule.uuid5.pointID(for: ["wsi", "d"])))
        #expect(first.string?.dropFirst(14).first == "5")
    }

    @Test func keepAcceptsOnlyWhatQdrantAccepts() throws {
        #expect(try PointIDRule.keep.pointID(for: ["42"]) == .int(42))
        #expect(try PointIDRule.keep.pointID(for: ["EC2A18B0705F42E197D9D2E0AE4B2FEB"]) == .string("ec2a18b0-705f-42e1-97d9-d2e0ae4b2feb"))
        #expect(throws: PointIDError.self) { try PointIDRule.keep.pointID(for: ["chunk-1"]) }
        #expect(throws: PointIDError.self) { try PointIDRule.keep.pointID(for: ["-1"]) }
        #expect(throws: PointIDError.self) { try PointIDRule.keep.pointID(for: ["a", "b"]) }
    }
}

@Suite struct MappingTests {
    @Test func suffixesMatchLightRAGTableNames() {
        let tables = ["lightrag_vdb_chunks", "lightrag_vdb_chunks_text_embedding_3_large_3072d", "lightrag_vdb_chunksx", "other"]
        #expect(CollectionMapping.suffixes(of: "lightrag_vdb_chunks{suffix}", in: tables) == ["", "_text_embedding_3_large_3072d"])
        #expect(CollectionMapping.suffixes(of: "other", in: tables) == [""])
        #expect(CollectionMapping.suffixes(of: "missing", in: tables).isEmpty)
    }

    @Test func shippedLightRAGMappingLoads() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try VectorMappingFile.load(repository.appendingPathComponent("mappings/lightrag.yaml").path)
        #expect(file.collections.map(\.target.collection) == ["lightrag_vdb_chunks{suffix}", "lightrag_vdb_entities{suffix}", "lightrag_vdb_relationships{suffix}"])
        let chunks = file.collections[0].resolved(suffix: "_bge_m3_1024d")
        #expect(chunks.source.table == "lightrag_vdb_chunks_bge_m3_1024d")
        #expect(chunks.target.collection == "lightrag_vdb_chunks_bge_m3_1024d")
        #expect(chunks.id == .lightrag)
        #expect(chunks.tenant == "workspace_id")
        #expect(file.collections[1].payload?.first { $0.field == "source_id" }?.separator == "<SEP>")
    }

    /// A misspelt field anywhere in the file is refused with the nearest allowed name, instead of being ignored.
    @Test func misspeltFieldsAreRefusedWithTheNearestName() throws {
        func problem(_ yaml: String) -> String {
            let path = NSTemporaryDirectory() + "vectors-\(UUID().uuidString).yaml"
            FileManager.default.createFile(atPath: path, contents: Data(yaml.utf8))
            do {
                _ = try VectorMappingFile.load(path)
                return "loaded"
            } catch {
                return error.description
            }
        }
        let entry = "  - name: x\n    source: {table: a}\n    target: {collection: c}\n"
        #expect(problem("colections:\n" + entry).contains("unknown field `colections`: did you mean `collections`?"))
        #expect(problem("collections:\n  - name: x\n    source: {tabel: a}\n    target: {collection: c}\n")
            .contains("unknown field `tabel` in collections[0].source: did you mean `table`?"))
        #expect(problem("collections:\n" + entry + "    id_column: [id]\n").contains("did you mean `id_columns`?"))
        #expect(problem("collections:\n" + entry + "    payload:\n      - {field: f, colum: a}\n")
            .contains("unknown field `colum` in collections[0].payload[0]: did you mean `column`?"))
        #expect(problem("collections:\n" + entry + "    vectors:\n      - {column: v, distanse: Cosine}\n").contains("did you mean `distance`?"))
        #expect(problem("workspaces: {column: workspace, renam: {default: _}}\ncollections:\n" + entry).contains("did you mean `rename`?"))
        #expect(problem("collections:\n" + entry + "    optional: true\n") == "loaded")
    }

    /// A source pattern that matches nothing suggests the nearest existing name, `{suffix}` kept.
    @Test func unmatchedPatternsSuggestTheNearestName() {
        let tables = ["lightrag_vdb_chunks_test_model_8d", "lightrag_vdb_entity_test_model_8d", "lightrag_vdb_relation_test_model_8d"]
        #expect(CollectionMapping.closestPattern(to: "lightrag_vdb_entitiy{suffix}", in: tables) == "lightrag_vdb_entity{suffix}")
        #expect(CollectionMapping.closestPattern(to: "lightrag_vdb_chunk_test_model_8d", in: tables) == "lightrag_vdb_chunks_test_model_8d")
        #expect(CollectionMapping.closestPattern(to: "documents{suffix}", in: tables) == nil)
    }

    /// The shipped rule: PostgreSQL's `default` is Qdrant's `_` in the point id and in `workspace_id`; other
    /// workspaces keep their names; `--workspace` replaces a rename.
    @Test func workspaceRuleRenamesIDAndPayloadAlike() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try VectorMappingFile.load(repository.appendingPathComponent("mappings/lightrag.yaml").path)
        #expect(file.workspaces == WorkspaceRule(column: "workspace", rename: ["default": "_"]))
        let mapping = file.collections[0]
        #expect(mapping.workspaces == file.workspaces)
        var types = PostgresTypes()
        types.vector = 90_000
        let schema = TableSchema(schema: "public", table: "lightrag_vdb_chunks", columns: [
            TableColumn(name: "id", type: PostgresTypes.varchar, typeName: "character varying(255)"),
            TableColumn(name: "workspace", type: PostgresTypes.varchar, typeName: "character varying(255)"),
            TableColumn(name: "full_doc_id", type: PostgresTypes.varchar, typeName: "character varying(255)"),
            TableColumn(name: "content", type: PostgresTypes.text, typeName: "text"),
            TableColumn(name: "content_vector", type: 90_000, typeName: "vector(2)", dimensions: 2),
            TableColumn(name: "file_path", type: PostgresTypes.text, typeName: "text"),
            TableColumn(name: "create_time", type: PostgresTypes.timestamptz, typeName: "timestamp with time zone"),
        ], primaryKey: ["workspace", "id"], types: types)
        func point(_ mapping: CollectionMapping, workspace: String) throws -> VectorRecord {
            let job = try VectorJob.forTable(schema, mapping: mapping, target: .collection("c"), shard: nil)
            var row: [[UInt8]?] = [Array("chunk-1".utf8), Array(workspace.utf8), nil, Array("text".utf8), PostgresBinary.encodeVector([1, 0]), nil, nil]
            for index in job.selectList.indices.dropFirst(row.count) {
                row.append(Array((job.selectList[index].hasPrefix("\"workspace\"") ? workspace : "chunk-1").utf8))
            }
            return try job.record(fromRow: row)
        }
        let unset = try point(mapping, workspace: "default")
        #expect(unset.id == (try PointIDRule.lightrag.pointID(for: ["_", "chunk-1"])))
        #expect(unset.payload.first { $0.0 == "workspace_id" }?.1 == .string("_"))
        #expect(unset.key == ["default", "chunk-1"], "the key stays the source's, for resume and lookups")
        let named = try point(mapping, workspace: "prod")
        #expect(named.id == (try PointIDRule.lightrag.pointID(for: ["prod", "chunk-1"])))
        #expect(named.payload.first { $0.0 == "workspace_id" }?.1 == .string("prod"))
        var overridden = mapping
        overridden.workspaces?.rename["default"] = "team"
        let team = try point(overridden, workspace: "default")
        #expect(team.id == (try PointIDRule.lightrag.pointID(for: ["team", "chunk-1"])))
        #expect(team.payload.first { $0.0 == "workspace_id" }?.1 == .string("team"))
    }

    /// Qdrant → PostgreSQL: the rule renames the payload's workspace field (Qdrant's `_` back to `default`).
    @Test func workspaceRuleAppliesToQdrantSources() throws {
        let mapping = CollectionMapping(name: "c", source: .init(collection: "c"), target: .init(table: "t"),
                                        workspaces: WorkspaceRule(column: "workspace_id", rename: ["_": "default"]))
        let info = CollectionInfo(vectors: [VectorSpace(name: nil, size: 2, distance: "Cosine")], config: .object([]), payloadSchema: [], pointsCount: nil)
        let job = try VectorJob.forCollection("c", info: info, mapping: mapping, target: .table(schema: "public", table: "t"), shard: nil)
        let point = JSONValue.object([("id", .int(7)), ("vector", .array([.double(1), .double(0)])),
                                      ("payload", .object([("id", .string("ent-1")), ("workspace_id", .string("_"))]))])
        let record = try job.record(fromPoint: point)
        #expect(record.payload.first { $0.0 == "workspace_id" }?.1 == .string("default"))
        #expect(record.payload.first { $0.0 == "id" }?.1 == .string("ent-1"))
        #expect(record.id == .int(7))
    }

    @Test func invalidMappingsNameTheProblem() throws {
        let path = NSTemporaryDirectory() + "vectors-\(UUID().uuidString).yaml"
        try Data("collections:\n  - name: x\n    source: {table: a, collection: b}\n    target: {collection: c}\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: VectorMappingFile.Invalid.self) { try VectorMappingFile.load(path) }
    }
}

@Suite struct RecordTests {
    @Test func writesQdrantPoints() {
        let record = VectorRecord(key: ["ws", "1"], id: .string("ec2a18b0-705f-42e1-97d9-d2e0ae4b2feb"), vectors: [(nil, .dense([0.5, -1]))],
                                  payload: [("id", .string("1")), ("n", .int(3))], rawFields: nil)
        var out: [UInt8] = []
        record.writePoint(into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"id":"ec2a18b0-705f-42e1-97d9-d2e0ae4b2feb","vector":[0.5,-1.0],"payload":{"id":"1","n":3}}"#)
        let named = VectorRecord(key: ["1"], id: .int(1), vectors: [("dense", .dense([1])), ("sparse", .sparse(indices: [3], values: [0.25]))],
                                 payload: [], rawFields: nil)
        out = []
        named.writePoint(into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"id":1,"vector":{"dense":[1.0],"sparse":{"indices":[3],"values":[0.25]}},"payload":{}}"#)
    }

    @Test func refusesNaNAndInfinityNamingTheRow() {
        let record = VectorRecord(key: ["ws", "chunk-9"], id: .int(1), vectors: [(nil, .dense([0, .nan]))], payload: [], rawFields: nil)
        do {
            try record.checkFinite()
            Issue.record("NaN passed")
        } catch {
            #expect(error.description.contains("chunk-9"))
            #expect(error.description.contains("component 1"))
        }
    }

    @Test func checksumsIgnorePayloadOrderAndIdSpellingButNotContent() {
        let first = VectorRecord(key: [], id: .string("EC2A18B0705F42E197D9D2E0AE4B2FEB"), vectors: [(nil, .dense([1, 2]))],
                                 payload: [("a", .int(1)), ("b", .string("x"))], rawFields: nil)
        let second = VectorRecord(key: [], id: .string("ec2a18b0-705f-42e1-97d9-d2e0ae4b2feb"), vectors: [(nil, .dense([1, 2]))],
                                  payload: [("b", .string("x")), ("a", .double(1))], rawFields: nil)
        #expect(first.checksumDigest(approximate: []) == second.checksumDigest(approximate: []))
        let altered = VectorRecord(key: [], id: second.id, vectors: [(nil, .dense([1, 2.0000002]))], payload: second.payload, rawFields: nil)
        #expect(altered.checksumDigest(approximate: []) != second.checksumDigest(approximate: []))
        #expect(altered.checksumDigest(approximate: [nil]) == second.checksumDigest(approximate: [nil]))
    }

    @Test func cosineVectorsCompareAsQdrantStoresThem() {
        let source = VectorRecord(key: ["k"], id: .int(1), vectors: [(nil, .dense([3, 4]))], payload: [("p", .int(1))], rawFields: nil)
        let stored = VectorRecord(key: ["1"], id: .int(1), vectors: [(nil, .dense([0.6, 0.8]))], payload: [("p", .int(1))], rawFields: nil)
        #expect(source.difference(from: stored, normalized: [nil]) == nil)
        #expect(source.difference(from: stored, normalized: []) != nil)
        let changed = VectorRecord(key: ["1"], id: .int(1), vectors: [(nil, .dense([0.8, 0.6]))], payload: [("p", .int(1))], rawFields: nil)
        #expect(source.difference(from: changed, normalized: [nil]) == "vector (unnamed) differs at index 0: source 0.6, target 0.8")
        let payload = VectorRecord(key: ["1"], id: .int(1), vectors: [(nil, .dense([0.6, 0.8]))], payload: [("p", .int(2))], rawFields: nil)
        #expect(source.difference(from: payload, normalized: [nil]) == "payload field `p`: source 1, target 2")
    }

    /// Verify names the field that differs, the one missing and the one only the target has, and the vector index.
    @Test func differencesNameTheFieldAndTheIndex() {
        let source = VectorRecord(key: ["k"], id: .int(1), vectors: [("dense", .dense([1, 2, 3]))],
                                  payload: [("content", .string("alpha")), ("file_path", .string("a.md")), ("n", .int(1))], rawFields: nil)
        let stored = VectorRecord(key: ["1"], id: .int(1), vectors: [("dense", .dense([1, 2, 3.5]))],
                                  payload: [("content", .string("beta")), ("n", .int(1)), ("extra", .bool(true))], rawFields: nil)
        #expect(source.difference(from: stored, normalized: []) == [
            "payload field `content`: source \"alpha\", target \"beta\"",
            "payload field `extra` is only on the target (true)",
            "payload field `file_path` is missing on the target (source \"a.md\")",
            "vector dense differs at index 2: source 3.0, target 3.5",
        ].joined(separator: "; "))
    }

    @Test func timestampsFormatAsISO8601() {
        #expect(PayloadConversion.iso8601(microsecondsSince2000: 0, zoned: true) == "2000-01-01T00:00:00Z")
        #expect(PayloadConversion.iso8601(microsecondsSince2000: 847_234_567_250_000, zoned: false) == "2026-11-05T22:56:07.250000")
        #expect(PayloadConversion.iso8601(microsecondsSince2000: -1, zoned: false) == "1999-12-31T23:59:59.999999")
    }
}
