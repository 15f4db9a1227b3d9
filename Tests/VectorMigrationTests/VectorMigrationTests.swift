import Foundation
import JSON
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
        #expect(source.difference(from: changed, normalized: [nil]) == "vector (unnamed) differs")
        let payload = VectorRecord(key: ["1"], id: .int(1), vectors: [(nil, .dense([0.6, 0.8]))], payload: [("p", .int(2))], rawFields: nil)
        #expect(source.difference(from: payload, normalized: [nil]) == "payload differs")
    }

    @Test func timestampsFormatAsISO8601() {
        #expect(PayloadConversion.iso8601(microsecondsSince2000: 0, zoned: true) == "2000-01-01T00:00:00Z")
        #expect(PayloadConversion.iso8601(microsecondsSince2000: 847_234_567_250_000, zoned: false) == "2026-11-05T22:56:07.250000")
        #expect(PayloadConversion.iso8601(microsecondsSince2000: -1, zoned: false) == "1999-12-31T23:59:59.999999")
    }
}
