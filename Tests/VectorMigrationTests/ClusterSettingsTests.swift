import Foundation
import JSON
@testable import Qdrant
import Testing
@testable import VectorMigration

@Suite struct ClusterSettingsTests {
    func load(_ yaml: String) throws(VectorMappingFile.Invalid) -> VectorMappingFile {
        let path = NSTemporaryDirectory() + "cluster-\(UUID().uuidString).yaml"
        FileManager.default.createFile(atPath: path, contents: Data(yaml.utf8))
        return try VectorMappingFile.load(path)
    }

    @Test func theMappingsTargetTakesShardSettings() throws {
        let file = try load("""
            collections:
              - name: docs
                source: {collection: docs}
                target: {collection: docs, shards: 6, replication_factor: 2, write_consistency_factor: 1, on_disk: true, on_disk_payload: false}
            """)
        #expect(file.collections[0].target.shardSettings
            == ShardSettings(shards: 6, replicationFactor: 2, writeConsistencyFactor: 1, onDiskVectors: true, onDiskPayload: false))
    }

    @Test func impossibleShardSettingsAreRefusedNamingTheField() throws {
        func problem(_ target: String) -> String {
            do {
                _ = try load("collections:\n  - name: docs\n    source: {collection: docs}\n    target: \(target)\n")
                return ""
            } catch {
                return error.description
            }
        }
        #expect(problem("{collection: docs, replicas: 2}").contains("replicas"), "an unknown field is refused, not ignored")
        #expect(problem("{collection: docs, replication_factor: 0}").contains("target.replication_factor is 0"))
        #expect(problem("{collection: docs, replication_factor: 1, write_consistency_factor: 2}").contains("more than replication_factor 1"))
        #expect(problem("{table: docs, shards: 2}").contains("a target.table cannot take them"))
    }

    @Test func clusterAnswersParseLikeQdrantSendsThem() throws {
        let status = ClusterStatus(parsing: try JSONParser.parse(Array("""
            {"status":"enabled","peer_id":5395204346209286,"peers":{"5395204346209286":{"uri":"http://a:6335/"},"12717227311938127297":{"uri":"http://b:6335/"}},
             "raft_info":{"term":1,"commit":7,"pending_operations":0,"leader":5395204346209286,"role":"Leader","is_voter":true}}
            """.utf8)))
        #expect(status.enabled && status.peers.count == 2 && status.peerID == "5395204346209286")
        #expect(!ClusterStatus(parsing: .object([("status", .string("disabled"))])).enabled)

        let info = CollectionClusterInfo(parsing: try JSONParser.parse(Array("""
            {"peer_id":1,"shard_count":2,"local_shards":[{"shard_id":0,"points_count":5,"state":"Active"}],
             "remote_shards":[{"shard_id":0,"peer_id":2,"state":"Dead"},{"shard_id":1,"peer_id":2,"state":"Active"}],"shard_transfers":[]}
            """.utf8)))
        #expect(info.shardCount == 2 && info.replicas.count == 3 && info.transfers == 0)
        #expect(info.inactive == ["shard 0 on peer 2: Dead"])
    }

    @Test func aCollectionsSettingsComeFromItsParams() throws {
        let config = try JSONParser.parse(Array("""
            {"params":{"vectors":{"a":{"size":2,"distance":"Dot","on_disk":true},"b":{"size":2,"distance":"Dot"}},
             "shard_number":3,"replication_factor":2,"write_consistency_factor":1,"on_disk_payload":true}}
            """.utf8))
        let settings = ShardSettings(config: config)
        #expect(settings == ShardSettings(shards: 3, replicationFactor: 2, writeConsistencyFactor: 1, onDiskVectors: nil, onDiskPayload: true),
                "vectors that differ on disk give no single answer")
        #expect(ShardSettings(replicationFactor: 2).differences(from: settings).isEmpty)
        #expect(ShardSettings(replicationFactor: 1, onDiskPayload: false).differences(from: settings)
            == ["replication_factor 1 (the collection has 2)", "on_disk_payload false (the collection has true)"])
    }

    @Test func onlyWhatAClusterAnswersWhileShardsMoveIsRetriedInPlace() {
        #expect(QdrantError.status(503, message: "Service Unavailable", operation: "upsert").isShardMovement)
        #expect(QdrantError.status(500, message: "Service internal error: The replica set for shard 0 on peer 1 has no active replica", operation: "upsert").isShardMovement)
        #expect(QdrantError.status(500, message: "Service internal error: Failed to apply operation to at least one `Active` replica. Consistency of this update is not guaranteed. Please retry.", operation: "upsert").isShardMovement)
        #expect(!QdrantError.status(500, message: "Service internal error: disk full", operation: "upsert").isShardMovement)
        #expect(!QdrantError.status(400, message: "Wrong input: Vector dimension error", operation: "upsert").isShardMovement)
    }

    @Test func aNewCollectionsBodyCarriesTheShardSettingsAndTheSourcesOwnVectorParameters() throws {
        let config = try JSONParser.parse(Array("""
            {"params":{"vectors":{"dense":{"size":4,"distance":"Dot","on_disk":true,"hnsw_config":{"m":8},"datatype":"float16"}},
             "sparse_vectors":{"words":{"modifier":"idf"}},"shard_number":1,"replication_factor":1},
             "hnsw_config":{"m":32,"payload_m":null},"optimizer_config":{"indexing_threshold":5000,"max_segment_size":null},
             "quantization_config":null}
            """.utf8))
        let info = CollectionInfo(vectors: [VectorSpace(name: "dense", size: 4, distance: "Dot"), VectorSpace(name: "words", size: 0, distance: "", sparse: true)],
                                  config: config, payloadSchema: [], pointsCount: nil)
        let mapping = CollectionMapping(name: "c", source: .init(collection: "c"), target: .init(collection: "c"))
        let job = try VectorJob.forCollection("c", info: info, mapping: mapping, target: .collection("c"), shard: nil)
        let body = VectorPlan.collectionBody(for: job, settings: ShardSettings(shards: 3, replicationFactor: 2, writeConsistencyFactor: 1))
        #expect(JSONWriter.text(body) == #"{"vectors":{"dense":{"size":4,"distance":"Dot","hnsw_config":{"m":8},"datatype":"float16","on_disk":true}},"sparse_vectors":{"words":{"modifier":"idf"}},"shard_number":3,"replication_factor":2,"write_consistency_factor":1,"hnsw_config":{"m":32},"optimizers_config":{"indexing_threshold":5000}}"#)
    }

    @Test func multivectorsTravelAsListsOfVectors() throws {
        let point = try JSONParser.parse(Array(#"{"id":1,"vector":{"colbert":[[1.0,0.0],[0.5,0.5]]},"payload":{}}"#.utf8))
        let record = try VectorJob.record(fromPoint: point, payloadSpecs: [])
        #expect(record.vectors.first?.data == .multi([[1, 0], [0.5, 0.5]]))
        var out: [UInt8] = []
        record.writePoint(into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"id":1,"vector":{"colbert":[[1.0,0.0],[0.5,0.5]]},"payload":{}}"#)
        var changed = record
        changed.vectors = [("colbert", .multi([[1, 0], [0.5, 0.25]]))]
        #expect(record.difference(from: changed, normalized: []) == "vector colbert[1] differs at index 1: source 0.5, target 0.25")
        #expect(record.checksumDigest(approximate: []) != changed.checksumDigest(approximate: []))
    }

    @Test func aNewCollectionsSettingsComeFromDefaultsSourceMappingAndOptionsInThatOrder() throws {
        func job(shards: Int, replicas: Int, target: CollectionMapping.Target = .init(collection: "c")) throws -> VectorJob {
            let config = try JSONParser.parse(Array(#"{"params":{"vectors":{"size":2,"distance":"Dot"},"shard_number":\#(shards),"replication_factor":\#(replicas)}}"#.utf8))
            let info = CollectionInfo(vectors: [VectorSpace(name: nil, size: 2, distance: "Dot")], config: config, payloadSchema: [], pointsCount: nil)
            return try VectorJob.forCollection("c", info: info, mapping: CollectionMapping(name: "c", source: .init(collection: "c"), target: target),
                                               target: .collection("c"), shard: nil)
        }
        let three = ClusterStatus(enabled: true, peerID: "1", peers: ["1", "2", "3"])
        let single = ClusterStatus(enabled: false, peerID: nil, peers: [])
        let fromSingle = ClusterSettings(target: three, source: single, options: ShardSettings())
        #expect(fromSingle.creation(for: try job(shards: 1, replicas: 1)) == ShardSettings(shards: 3, replicationFactor: 2, onDiskVectors: false), "a single node's 1s are defaults")
        #expect(fromSingle.creation(for: try job(shards: 4, replicas: 1)).shards == 4, "a chosen shard count travels")
        let fromCluster = ClusterSettings(target: three, source: three, options: ShardSettings())
        #expect(fromCluster.creation(for: try job(shards: 6, replicas: 1)) == ShardSettings(shards: 6, replicationFactor: 1, onDiskVectors: false))
        #expect(fromCluster.creation(for: try job(shards: 6, replicas: 1, target: .init(collection: "c", replicationFactor: 3))).replicationFactor == 3)
        let optioned = ClusterSettings(target: three, source: three, options: ShardSettings(replicationFactor: 2))
        #expect(optioned.creation(for: try job(shards: 6, replicas: 1, target: .init(collection: "c", replicationFactor: 3))).replicationFactor == 2)
        let alone = ClusterSettings(target: single, source: nil, options: ShardSettings())
        #expect(alone.creation(for: try job(shards: 1, replicas: 1)) == ShardSettings(onDiskVectors: false), "a single-node target keeps Qdrant's defaults")
        let warnings = fromCluster.warnings(for: PlannedCollection(name: "c", exists: false, settings: ShardSettings(shards: 6, replicationFactor: 1), unasked: []),
                                            job: try job(shards: 6, replicas: 1))
        #expect(warnings.count == 1 && warnings[0].contains("about 1/3 of the collection"))
    }
}
