import Foundation
import HTTP
import JSON
import MigrationCore
import Qdrant
import Testing
import Transport
@testable import VectorMigration

/// A private stand-in started as a cluster of three peers with its test controls, and a single-node one.
struct ClusterPair {
    let source: PrivateQdrant
    let target: PrivateQdrant

    static func start(sourceIsCluster: Bool = false) async throws -> ClusterPair {
        let source = try await PrivateQdrant.start((sourceIsCluster ? ["--peers", "3"] : []) + ["--data-dir", checkpointDirectory() + "/source"])
        do {
            return ClusterPair(source: source, target: try await PrivateQdrant.start(["--peers", "3", "--test-controls", "--data-dir", checkpointDirectory() + "/target"]))
        } catch {
            source.stop()
            throw error
        }
    }

    var sourceStore: VectorStore { VectorServers.qdrant(source.url) }
    var targetStore: VectorStore { VectorServers.qdrant(target.url) }

    func stop() {
        source.stop()
        target.stop()
    }

    /// A test control of the target stand-in (`POST /standin/…`).
    func control(_ path: String, _ body: JSONValue) async throws {
        let uri = try ServiceURI(target.url, defaultPorts: ["http": 6333])
        let http = HTTPClient(endpoint: uri.endpoint, options: ConnectionOptions())
        let response = try await http.send(HTTPRequest(method: "POST", path: "/standin/" + path, headers: [("Content-Type", "application/json")],
                                                       body: JSONWriter.bytes(body)))
        await http.close()
        #expect(response.status == 200, "test control \(path): \(response.text)")
    }

    /// A 4-dimensional collection of `points` points on the source.
    func seed(_ name: String, points: Int = 40, body: JSONValue? = nil) async throws {
        let client = VectorServers.client(sourceStore)
        try await client.createCollection(name, body: body ?? .object([("vectors", .object([("size", .int(4)), ("distance", .string("Cosine"))]))]))
        let list = (1...points).map { i -> String in
            let vector = (0..<4).map { String(Double(i + $0) / 10) }.joined(separator: ",")
            return #"{"id":\#(i),"vector":[\#(vector)],"payload":{"kind":"\#(i % 2 == 0 ? "even" : "odd")"}}"#
        }
        try await client.upsert(name, body: Array(#"{"points":[\#(list.joined(separator: ","))]}"#.utf8))
        await client.close()
    }

    func settings(_ mapping: [CollectionMapping]? = nil, collections: [String] = [], targetName: String? = nil) -> VectorRunSettings {
        vectorSettings(source: sourceStore, target: targetStore, mapping: mapping, tables: collections, targetName: targetName, batch: 16)
    }
}

/// A mapping of one source collection to one target, with `target` settings.
func clusterMapping(_ source: String, _ target: CollectionMapping.Target) -> [CollectionMapping] {
    [CollectionMapping(name: source, source: .init(collection: source), target: target)]
}

extension Integration {
    /// `migrate vectors` into a Qdrant cluster: shards and replicas that survive a lost node, waited writes, health.
    @Suite(.serialized) struct VectorCluster {
        func run(_ settings: VectorRunSettings) async throws -> MigrationReport {
            try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
        }

        func shardSettings(_ store: VectorStore, _ name: String) async throws -> (ShardSettings, CollectionClusterInfo) {
            let client = VectorServers.client(store)
            let info = try #require(try await client.collection(name))
            let cluster = try await client.collectionCluster(name)
            await client.close()
            return (ShardSettings(config: info.config), cluster)
        }

        @Test func aClusterTargetGetsAShardPerPeerAndTwoReplicasAndTheWritesWait() async throws {
            let servers = try await ClusterPair.start()
            defer { servers.stop() }
            try await servers.seed("docs")
            let settings = servers.settings(collections: ["docs"])

            let plan = await VectorInventory(settings: settings).take()
            #expect(plan.problems.isEmpty, "\(plan.rendered())")
            #expect(plan.facts.contains(["target cluster", "enabled, 3 peers"]))
            #expect(plan.facts.contains(["write ordering", "medium, wait=true"]))
            let row = try #require(plan.sections.first { $0.title == "target collections" }?.rows.first)
            #expect(row == ["docs", "create", "3", "2", "1", "false", "true"], "\(plan.rendered())")
            #expect(!plan.notes.contains { $0.contains("replication_factor 1") }, "two replicas need no warning: \(plan.notes)")

            let report = try await run(settings)
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.notes.contains("target: a Qdrant cluster of 3 peers"))
            #expect(report.notes.contains { $0.contains("ordering=medium") })
            let (actual, cluster) = try await shardSettings(servers.targetStore, "docs")
            #expect(actual.shards == 3 && actual.replicationFactor == 2 && actual.writeConsistencyFactor == 1)
            #expect(cluster.replicas.count == 6 && cluster.inactive.isEmpty)
            #expect(Set(cluster.replicas.map(\.peerID)).count == 3, "replicas spread over every peer")

            let verification = try await VectorVerification(settings: settings).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            #expect(verification.sections.first { $0.title == "target collection health" }?.rows == [["docs", "green", "3", "6", "0"]])
        }

        @Test func theMappingsValuesAndTheOptionsDecideTheSettings() async throws {
            let servers = try await ClusterPair.start()
            defer { servers.stop() }
            try await servers.seed("docs")
            let mapped = servers.settings(clusterMapping("docs", .init(collection: "docs_mapped", shards: 6, replicationFactor: 2,
                                                                       writeConsistencyFactor: 1, onDisk: true, onDiskPayload: false)))
            #expect(try await run(mapped).outcome == .succeeded)
            let (fromMapping, placement) = try await shardSettings(servers.targetStore, "docs_mapped")
            #expect(fromMapping == ShardSettings(shards: 6, replicationFactor: 2, writeConsistencyFactor: 1, onDiskVectors: true, onDiskPayload: false))
            #expect(placement.replicas.count == 12)

            // Options override the mapping.
            var optioned = servers.settings(clusterMapping("docs", .init(collection: "docs_optioned", shards: 6, replicationFactor: 2)))
            optioned.collectionSettings = ShardSettings(shards: 2, replicationFactor: 3, writeConsistencyFactor: 2)
            optioned.writeOrdering = .strong
            let report = try await run(optioned)
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.notes.contains { $0.contains("ordering=strong") })
            let (fromOptions, _) = try await shardSettings(servers.targetStore, "docs_optioned")
            #expect(fromOptions.shards == 2 && fromOptions.replicationFactor == 3 && fromOptions.writeConsistencyFactor == 2)
        }

        @Test func replicationFactorOneOnAClusterIsAPlanWarningNamingTheRisk() async throws {
            let servers = try await ClusterPair.start()
            defer { servers.stop() }
            try await servers.seed("docs")
            var settings = servers.settings(collections: ["docs"])
            settings.collectionSettings.replicationFactor = 1
            let plan = await VectorInventory(settings: settings).take()
            #expect(plan.problems.isEmpty)
            let warning = try #require(plan.notes.first { $0.hasPrefix("warning: collection docs will have replication_factor 1") }, "\(plan.notes)")
            #expect(warning.contains("cluster of 3 peers") && warning.contains("losing one node") && warning.contains("--replication-factor 2"))

            settings.collectionSettings.replicationFactor = 5
            let wide = await VectorInventory(settings: settings).take()
            #expect(wide.notes.contains { $0.contains("replication_factor 5 on 3 peers") }, "\(wide.notes)")
        }

        @Test func anExistingCollectionWithOtherSettingsIsReportedNeverReused() async throws {
            let servers = try await ClusterPair.start()
            defer { servers.stop() }
            try await servers.seed("docs")
            let target = VectorServers.client(servers.targetStore)
            try await target.createCollection("docs", body: .object([("vectors", .object([("size", .int(4)), ("distance", .string("Cosine"))])),
                                                                     ("shard_number", .int(1)), ("replication_factor", .int(1))]))
            await target.close()

            let explicit = servers.settings(clusterMapping("docs", .init(collection: "docs", replicationFactor: 2)))
            let plan = await VectorInventory(settings: explicit).take()
            let problem = try #require(plan.problems.first, "\(plan.rendered())")
            #expect(problem.contains("collection docs exists with other settings than asked for: replication_factor 2 (the collection has 1)"))
            await #expect(throws: VectorMigrationError.self) { _ = try await run(explicit) }
            #expect(try await VectorServers.client(servers.targetStore).count("docs") == 0, "nothing was written")

            // Asked for nothing: used as it is, and said so, with the one-copy risk.
            let report = try await run(servers.settings(collections: ["docs"]))
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.notes.contains { $0.contains("collection docs exists and is used as it is") && $0.contains("replication_factor 2 (the collection has 1)") },
                    "\(report.notes)")
            #expect(report.notes.contains { $0.hasPrefix("warning: collection docs has replication_factor 1") })
        }

        @Test func aQdrantToQdrantCopyKeepsTheWholeConfiguration() async throws {
            let servers = try await ClusterPair.start(sourceIsCluster: true)
            defer { servers.stop() }
            let dense: JSONValue = .object([("size", .int(4)), ("distance", .string("Dot")), ("on_disk", .bool(true)),
                                            ("hnsw_config", .object([("m", .int(8))])),
                                            ("quantization_config", .object([("scalar", .object([("type", .string("int8")), ("always_ram", .bool(true))]))]))])
            let colbert: JSONValue = .object([("size", .int(2)), ("distance", .string("Cosine")),
                                              ("multivector_config", .object([("comparator", .string("max_sim"))]))])
            let body: JSONValue = .object([
                ("vectors", .object([("dense", dense), ("colbert", colbert)])),
                ("sparse_vectors", .object([("words", .object([("modifier", .string("idf"))]))])),
                ("shard_number", .int(4)), ("replication_factor", .int(2)), ("write_consistency_factor", .int(2)), ("on_disk_payload", .bool(false)),
                ("hnsw_config", .object([("m", .int(32)), ("ef_construct", .int(200))])),
                ("optimizers_config", .object([("indexing_threshold", .int(5000))])),
                ("quantization_config", .object([("binary", .object([("always_ram", .bool(false))]))])),
            ])
            let source = VectorServers.client(servers.sourceStore)
            try await source.createCollection("rich", body: body)
            let points = (1...30).map { i -> String in
                let dense = (0..<4).map { String(Double(i * 4 + $0)) }.joined(separator: ",")
                let words = #"{"indices":[\#(i),\#(i + 100)],"values":[0.5,1.5]}"#
                let colbert = i % 2 == 0 ? #","colbert":[[\#(i),1.5],[0.25,\#(i * 2)],[3,4]]"# : ""
                return #"{"id":\#(i),"vector":{"dense":[\#(dense)],"words":\#(words)\#(colbert)},"payload":{"kind":"\#(i % 3 == 0 ? "a" : "b")","n":\#(i)}}"#
            }
            try await source.upsert("rich", body: Array(#"{"points":[\#(points.joined(separator: ","))]}"#.utf8))
            try await source.createPayloadIndex("rich", field: "kind", schema: .object([("type", .string("keyword")), ("is_tenant", .bool(true))]))
            try await source.createPayloadIndex("rich", field: "n", schema: .string("integer"))
            try await source.createAlias("rich_current", collection: "rich")
            await source.close()

            let settings = servers.settings(collections: ["rich"])
            let report = try await run(settings)
            #expect(report.outcome == .succeeded, "\(report.rendered())")

            let target = VectorServers.client(servers.targetStore)
            let copied = try #require(try await target.collection("rich"))
            let params = try #require(copied.config["params"])
            #expect(ShardSettings(config: copied.config) == ShardSettings(shards: 4, replicationFactor: 2, writeConsistencyFactor: 2, onDiskVectors: nil, onDiskPayload: false))
            #expect(params["vectors"]?["dense"]?["on_disk"] == .bool(true))
            #expect(params["vectors"]?["dense"]?["distance"]?.string == "Dot")
            #expect(params["vectors"]?["dense"]?["hnsw_config"]?["m"] == .int(8))
            #expect(params["vectors"]?["dense"]?["quantization_config"]?["scalar"]?["type"]?.string == "int8")
            #expect(params["vectors"]?["colbert"]?["multivector_config"]?["comparator"]?.string == "max_sim")
            #expect(params["sparse_vectors"]?["words"]?["modifier"]?.string == "idf")
            #expect(copied.config["hnsw_config"]?["m"] == .int(32) && copied.config["hnsw_config"]?["ef_construct"] == .int(200))
            #expect(copied.config["optimizer_config"]?["indexing_threshold"] == .int(5000))
            #expect(copied.config["quantization_config"]?["binary"] != nil)
            #expect(copied.payloadSchema.first { $0.0 == "kind" }?.1["params"]?["is_tenant"] == .bool(true))
            #expect(copied.payloadSchema.first { $0.0 == "n" }?.1["data_type"]?.string == "integer")
            #expect(try await target.aliases() == [CollectionAlias(alias: "rich_current", collection: "rich")])
            #expect(try await target.count("rich") == 30)
            await target.close()

            let multi = try #require(try await VectorServers.client(servers.targetStore).retrieve("rich", ids: [.int(4)]).first)
            #expect(multi["vector"]?["colbert"]?.array?.count == 3, "multivectors travel: \(multi)")

            let verification = try await VectorVerification(settings: settings).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            #expect(verification.totals["matched"] == 30)
        }

        @Test func verifyFlagsADeadReplicaAndACollectionThatIsNotGreen() async throws {
            let servers = try await ClusterPair.start()
            defer { servers.stop() }
            try await servers.seed("docs")
            let settings = servers.settings(collections: ["docs"])
            #expect(try await run(settings).outcome == .succeeded)
            let (_, cluster) = try await shardSettings(servers.targetStore, "docs")
            let replica = try #require(cluster.replicas.last)
            try await servers.control("collections/docs/replica", .object([("shard_id", .int(Int64(replica.shardID))),
                                                                           ("peer_id", .int(Int64(replica.peerID)!)), ("state", .string("Dead"))]))
            let dead = try await VectorVerification(settings: settings).run()
            #expect(dead.outcome == .mismatched)
            #expect(dead.totals["matched"] == 40, "every point is still there")
            #expect(dead.problems.contains { $0.contains("shard \(replica.shardID) on peer \(replica.peerID): Dead") }, "\(dead.problems)")

            try await servers.control("collections/docs/status", .object([("status", .string("yellow"))]))
            let yellow = try await VectorVerification(settings: settings).run()
            #expect(yellow.problems.contains { $0.hasPrefix("collection docs is yellow, not green") }, "\(yellow.problems)")
            #expect(yellow.totals["collection not healthy"] == 2)
        }

        @Test func upsertsRefusedWhileShardsMoveAreRetriedAndCounted() async throws {
            let servers = try await ClusterPair.start()
            defer { servers.stop() }
            try await servers.seed("docs")
            let settings = servers.settings(collections: ["docs"])
            _ = try await VectorInventory(settings: settings).take()
            try await servers.control("faults", .object([("fail_upserts", .int(2)), ("status", .int(503)), ("message", .string("Service Unavailable: shard transfer in progress"))]))
            let report = try await run(settings)
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.totals[CollectionWriter.retriedUpserts] == 2)
            #expect(try await VectorServers.client(servers.targetStore).count("docs") == 40)
        }

        @Test func anAPIKeyOverPlainHTTPIsAWarningAndWithRequireTLSAnError() async throws {
            let servers = try await ClusterPair.start()
            defer { servers.stop() }
            try await servers.seed("docs")
            var settings = servers.settings(collections: ["docs"])
            settings.target = VectorServers.qdrant(servers.target.url, apiKey: "not-a-real-key")
            let plan = await VectorInventory(settings: settings).take()
            let warning = try #require(plan.notes.first { $0.hasPrefix("warning: the target") }, "\(plan.notes)")
            #expect(warning.contains("plain http://") && warning.contains("https://") && warning.contains("--require-tls"))
            #expect(!warning.contains("not-a-real-key"))
            settings.requireTLS = true
            let refused = await VectorInventory(settings: settings).take()
            #expect(refused.problems.contains { $0.contains("--require-tls refuses") }, "\(refused.problems)")
        }
    
        @Test func theCommandLineTakesTheSettingsAndRefusesImpossibleOnes() async throws {
            let servers = try await ClusterPair.start()
            defer { servers.stop() }
            try await servers.seed("docs")
            let base = ["vectors", "--source", servers.source.url, "--target", servers.target.url, "--collection", "docs",
                        "--checkpoint-dir", checkpointDirectory()]
            let refused = try await CLI.run(base + ["--replication-factor", "0"])
            #expect(refused.status == 64 && refused.output.contains("--replication-factor must be 1 or more"), "\(refused.output)")
            let badOrdering = try await CLI.run(base + ["--write-ordering", "fast"])
            #expect(badOrdering.status == 64 && badOrdering.output.contains("weak, medium or strong"), "\(badOrdering.output)")

            let copied = try await CLI.run(base + ["--shards", "2", "--replication-factor", "3", "--write-consistency-factor", "2", "--write-ordering", "strong"])
            #expect(copied.status == 0, "\(copied.output)")
            #expect(copied.output.contains("collection docs created: 2 shard(s) × 3 replica(s), write consistency 2"), "\(copied.output)")
            let (settings, cluster) = try await shardSettings(servers.targetStore, "docs")
            #expect(settings.shards == 2 && settings.replicationFactor == 3 && settings.writeConsistencyFactor == 2)
            #expect(cluster.replicas.count == 6)

            // Asking again for other settings is refused before anything is written.
            let differs = try await CLI.run(base + ["--replication-factor", "2"])
            #expect(differs.status != 0 && differs.output.contains("replication_factor 2 (the collection has 3)"), "\(differs.output)")
            let verify = try await CLI.run(["verify", "vectors", "--source", servers.source.url, "--target", servers.target.url, "--collection", "docs"])
            #expect(verify.status == 0, "\(verify.output)")
        }
    }
}
