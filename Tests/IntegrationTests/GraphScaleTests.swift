import Bolt
import Foundation
import MigrationCore
import Testing
import Transport
@testable import GraphMigration

/// A Bolt stand-in of this checkout on a port the system chooses, over its own FalkorDB graph, so that the
/// records its reads examine (`CALL standin.examined()`) are this test's alone.
struct PrivateBoltStandin {
    let process: Process
    let graph: String
    let configuration: BoltConfiguration

    static func start(flavor: String = "neo4j") async throws -> PrivateBoltStandin {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let graph = "scale_\(UUID().uuidString.prefix(8))"
        let portFile = NSTemporaryDirectory() + "bolt-standin-\(graph)"
        let (user, password) = flavor == "neo4j" ? ("neo4j", "test-pass") : ("memgraph", "mg-pass")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Servers.value("MIGRATE_VENV") + "/bin/python")
        process.arguments = [repository.appendingPathComponent("scripts/graph/bolt_standin.py").path, "--flavor", flavor,
                             "--falkordb-port", Servers.value("FALKORDB_PORT"), "--graph", graph, "--port-file", portFile, "--verbose"]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        if let log = ProcessInfo.processInfo.environment["BOLT_STANDIN_LOG"] { FileManager.default.createFile(atPath: log, contents: nil); process.standardError = FileHandle(forWritingAtPath: log) }
        try process.run()
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                try? FileManager.default.removeItem(atPath: portFile)
                let configuration = BoltConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: port), user: user, password: Secret(password))
                return PrivateBoltStandin(process: process, graph: graph, configuration: configuration)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(process.processIdentifier, SIGKILL)
        throw BoltError.protocolViolation("the Bolt stand-in did not start")
    }

    /// Runs one query and returns its records.
    @discardableResult
    func query(_ text: String, _ parameters: [(String, PackStreamValue)] = []) async throws -> [[PackStreamValue]] {
        let connection = try await BoltConnection.connect(configuration)
        defer { Task { await connection.close() } }
        return try await connection.query(text, parameters: parameters)
    }

    /// The records the stand-in's reads examined since it started (or since ``resetExamined()``).
    func examined() async throws -> Int {
        Int(try await query("CALL standin.examined()").first?.first?.int ?? -1)
    }

    /// The records PULL sent since the start (or since ``resetExamined()``).
    func returned() async throws -> Int {
        Int(try await query("CALL standin.examined()").first?.last?.int ?? -1)
    }

    func resetExamined() async throws {
        try await query("CALL standin.resetExamined()")
    }

    /// Stops the stand-in and deletes its graph.
    func stop() async throws {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let falkordb = try await Servers.client(Servers.value("FALKORDB_URL"))
        try await falkordb.must("GRAPH.DELETE", graph)
        await falkordb.close()
    }

    /// A LightRAG-shaped graph made on the server: `nodes` entities (`base:person`, `entity_id`), and DIRECTED
    /// edges i→i+1 and i→i+7. Returns the counts.
    func fillChain(nodes: Int) async throws -> (nodes: Int, relationships: Int) {
        try await query("""
            UNWIND range(0, $n - 1) AS i CREATE (:base:person {entity_id: 'Entity ' + toString(i), i: i, entity_type: 'person', \
            description: 'Entity ' + toString(i) + ' is a person in the graph', created_at: 1793534460 + i})
            """, [("n", .int(Int64(nodes)))])
        try await query("CREATE INDEX FOR (n:base) ON (n.i)")
        for step in [1, 7] {
            try await query("MATCH (a:base) MATCH (b:base {i: a.i + \(step)}) CREATE (a)-[:DIRECTED {weight: \(step).5, description: 'step \(step)'}]->(b)")
        }
        return (nodes, max(0, nodes - 1) + max(0, nodes - 7))
    }
}

extension Integration {
    /// Reading a graph examines each record about once, at any size (the Bolt stand-in counts what each read
    /// examines as Neo4j 5 and Memgraph would: an `id()` range scans every node).
    @Suite struct GraphScale {
        /// Reads both partitions as `migrate graph` does, stopping (as after kill -9) and resuming from the last
        /// position every `resumeEvery` batches; returns the internal ids read per partition.
        static func readAll(_ settings: GraphRunSettings, resumeEvery: Int) async throws -> [String: [Int64]] {
            var read: [String: [Int64]] = [:]
            for partition in [GraphPartition.nodes, GraphPartition.relationships] {
                var position = "-1"
                var reader = try await settings.reader(partition, position: position)
                var batches = 0
                while true {
                    let batch = try await reader.next()
                    #expect(batch.items.count <= settings.batchSize)
                    for item in batch.items {
                        switch item {
                        case .node(let node): read[partition, default: []].append(node.sourceID)
                        case .relationship(let relationship): read[partition, default: []].append(relationship.sourceID)
                        }
                    }
                    position = batch.position
                    batches += 1
                    if batch.isLast { break }
                    if batches % resumeEvery == 0 {
                        await reader.connection.close()
                        reader = try await settings.reader(partition, position: position)
                    }
                }
            }
            return read
        }

        /// Every record of both partitions exactly once.
        static func expectEachOnce(_ read: [String: [Int64]], nodes: Int, relationships: Int) {
            #expect(read[GraphPartition.nodes]?.count == nodes)
            #expect(Set(read[GraphPartition.nodes] ?? []).count == nodes)
            #expect(read[GraphPartition.relationships]?.count == relationships)
            #expect(Set(read[GraphPartition.relationships] ?? []).count == relationships)
        }

        /// Fills a private stand-in with `nodes` nodes, reads it all, and holds the records examined to
        /// 2 × (nodes + relationships); with `resumeEvery`, reads it again stopping and resuming that often.
        static func examinedStaysLinear(nodes: Int, resumeEvery: Int? = nil) async throws {
            let standin = try await PrivateBoltStandin.start()
            do {
                let (nodeCount, relationshipCount) = try await standin.fillChain(nodes: nodes)
                // The cost model: one page of `id(n) > $last … LIMIT` (the old reader) examines every node.
                try await standin.resetExamined()
                try await standin.query("MATCH (n) WHERE id(n) > $last RETURN n ORDER BY id(n) LIMIT 500", [("last", .int(Int64(nodes / 2)))])
                #expect(try await standin.examined() == nodeCount)

                try await standin.resetExamined()
                let settings = GraphServers.settings(target: .bolt(standin.configuration, displayName: "unused"), mapping: try GraphServers.lightragMapping(),
                                                     source: standin.configuration, batch: 500)
                let started = ContinuousClock.now
                let read = try await Self.readAll(settings, resumeEvery: Int.max)
                let examined = try await standin.examined()
                let budget = 2 * (nodeCount + relationshipCount)
                print("graph scale: \(nodeCount) nodes, \(relationshipCount) relationships: \(examined) records examined (budget \(budget)), read in \(ContinuousClock.now - started)")
                #expect(examined <= budget)
                Self.expectEachOnce(read, nodes: nodeCount, relationships: relationshipCount)
                if let resumeEvery {
                    Self.expectEachOnce(try await Self.readAll(settings, resumeEvery: resumeEvery), nodes: nodeCount, relationships: relationshipCount)
                }
            } catch {
                try await standin.stop()
                throw error
            }
            try await standin.stop()
        }

        /// `--shard i/4`: each shard reads only its id range, so the four together read each record once (the
        /// stand-in counts the records PULL sends), and their union is the whole graph.
        @Test func fourShardsTogetherReadEachRecordOnce() async throws {
            let standin = try await PrivateBoltStandin.start()
            do {
                let (nodes, relationships) = try await standin.fillChain(nodes: 5_000)
                // What each shard reads to cut the id space (the same for every shard): two counts and the sampled ids.
                func sampled(_ count: String, _ sample: String) async throws -> Int {
                    let total = try await standin.query(count).first?.first?.int ?? 0
                    return Int(try await standin.query(sample, [("step", .int(max(1, total / 1_000)))]).first?.first?.int ?? 0)
                }
                let samples = try await 2 + sampled("MATCH (n) RETURN count(n)", "MATCH (n) WITH id(n) AS i WHERE i % $step = 0 RETURN count(*)")
                    + sampled("MATCH ()-[r]->() RETURN count(r)", "MATCH ()-[r]->() WITH id(r) AS i WHERE i % $step = 0 RETURN count(*)")
                try await standin.resetExamined()
                var read: [String: [Int64]] = [:]
                var shares: [Int] = []
                for index in 0..<4 {
                    var settings = GraphServers.settings(target: .bolt(standin.configuration, displayName: "unused"), mapping: try GraphServers.lightragMapping(),
                                                         source: standin.configuration, batch: 500)
                    settings.shard = Shard("\(index)/4")
                    let part = try await Self.readAll(settings, resumeEvery: Int.max)
                    shares.append(part.values.map(\.count).reduce(0, +))
                    read.merge(part) { $0 + $1 }
                }
                Self.expectEachOnce(read, nodes: nodes, relationships: relationships)
                let returned = try await standin.returned()
                print("graph shards: \(shares) records per shard; the source sent \(returned) records (\(nodes + relationships) + \(4 * samples) to cut the id space)")
                #expect(returned == nodes + relationships + 4 * samples)
                #expect(shares.allSatisfy { abs($0 - (nodes + relationships) / 4) < (nodes + relationships) / 10 }, "\(shares)")
            } catch {
                try await standin.stop()
                throw error
            }
            try await standin.stop()
        }

        @Test func readingTenThousandNodesExaminesEachRecordAboutOnce() async throws {
            try await Self.examinedStaysLinear(nodes: 10_000, resumeEvery: 7)
        }

        @Test func readingTwoHundredThousandNodesExaminesEachRecordAboutOnce() async throws {
            try await Self.examinedStaysLinear(nodes: 200_000)
        }
    }
}
