import Bolt
import Foundation
import GraphMigration
import JSON
import MigrationCore
import Neptune
import Testing

extension Integration {
    @Suite struct Graph {
        @Test func lightragGraphLandsInNeptuneAndARerunAddsNothing() async throws {
            let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 300)
            try await GraphServers.admin("/reset")
            let settings = GraphServers.settings(target: .neptune(GraphServers.neptune()), mapping: try GraphServers.lightragMapping())
            let report = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.totals["nodes"] == nodes)
            #expect(report.totals["relationships"] == relationships)
            #expect(report.sections.first { $0.title.hasPrefix("property conversions") }?.rows.contains { $0[0] == "list→json" && $0[1] == "60" } == true)

            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
            #expect(try await GraphServers.count("MATCH ()-[r:DIRECTED]->() RETURN count(r) AS c") == relationships)
            let entity = try #require(try await GraphServers.query("MATCH (n) WHERE id(n) = $id RETURN n", parameters: .object([("id", .string(GraphServers.targetID(15)))])).first?["n"])
            #expect(Set(entity["~labels"]?.array?.compactMap(\.string) ?? []) == ["base", "person"])
            #expect(entity["~properties"]?["tags"]?.string == #"["a","b15"]"#)
            #expect(entity["~properties"]?["seen"]?.string == "2026-11-17")
            #expect(entity["~properties"]?["description"]?.string == "Entity 15 – a person in the graph. «Ünïcödé» 🚀")
            #expect(try await GraphServers.count("MATCH (n:vip) RETURN count(n) AS c") == 30)

            // Deterministic ids: a second full run merges into the same nodes and edges.
            let again = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
            #expect(again.outcome == .succeeded)
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
            #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships)

            let verification = try await GraphVerification(settings: settings).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            #expect(verification.totals["matched"] == nodes + relationships)
            // One checksum definition: the copy's summary and verify print the same number.
            #expect(verification.checksum == report.checksum)

            // A missing edge and a changed property are caught.
            let edge = try #require(try await GraphServers.query("MATCH ()-[r]->() RETURN id(r) AS id LIMIT 1").first?["id"]?.string)
            _ = try await GraphServers.query("MATCH ()-[r]->() WHERE id(r) = $id DELETE r", parameters: .object([("id", .string(edge))]))
            _ = try await GraphServers.query("MATCH (n) WHERE id(n) = $id SET n.description = 'changed'", parameters: .object([("id", .string(GraphServers.targetID(7)))]))
            let dirty = try await GraphVerification(settings: settings).run()
            #expect(dirty.outcome == .mismatched)
            #expect(dirty.problems.contains { $0.hasPrefix("missing in target: relationship \(edge)") }, "\(dirty.problems)")
            #expect(dirty.problems.contains { $0.hasPrefix("differs: node \(GraphServers.targetID(7))") && $0.contains("property description: source \"Entity 7") && $0.contains("target \"changed\"") }, "\(dirty.problems)")
        }

        @Test func transientErrorsAreRetriedAndRefusedRecordsAreDeadLettered() async throws {
            let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 100)
            try await GraphServers.admin("/reset")
            try await GraphServers.admin("/faults", body: .object([("code", .string("ConcurrentModificationException")), ("count", .int(3))]))
            try await GraphServers.admin("/faults", body: .object([("code", .string("drop")), ("count", .int(1))]))
            var mapping = try GraphServers.lightragMapping()
            mapping.properties.lists = .refuse
            let directory = checkpointDirectory()
            let settings = GraphServers.settings(target: .neptune(GraphServers.neptune()), mapping: mapping, batch: 50)
            let report = try await GraphMigration(settings: settings, checkpointDirectory: directory, resumePolicy: .fresh).run()
            // Every fifth node has a list: refused, with the edges that touch it; everything else lands.
            #expect(report.outcome == .incomplete, "\(report.rendered())")
            let refusedNodes = 20
            let refusedEdges = (0..<nodes).reduce(0) { total, i in
                total + [1, 7].filter { i + $0 < nodes && (i % 5 == 0 || (i + $0) % 5 == 0) }.count
            }
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes - refusedNodes)
            #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships - refusedEdges)
            #expect(report.totals["dead-lettered"] == refusedNodes + refusedEdges)
            let file = try #require(report.problems.first { $0.contains("dead-letter") }.flatMap { $0.split(separator: " ").last.map(String.init) })
            let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == refusedNodes + refusedEdges)
            #expect(lines.first { $0.contains(GraphServers.entityID(5)) && $0.contains("\"kind\":\"node\"") }?.contains("is a list") == true)
        }

        @Test func iamSignaturesAreCheckedByTheTarget() async throws {
            try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 30)
            try await GraphServers.admin("/reset", iam: true)
            let signed = GraphServers.settings(target: .neptune(GraphServers.neptune(iam: true)), mapping: try GraphServers.lightragMapping())
            let report = try await GraphMigration(settings: signed, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.totals["nodes"] == 30)

            var wrong = GraphServers.credentials
            wrong.secretAccessKey = .init("not-the-secret")
            let refused = GraphServers.settings(target: .neptune(GraphServers.neptune(iam: true, credentials: wrong)), mapping: try GraphServers.lightragMapping())
            do {
                _ = try await GraphMigration(settings: refused, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
                Issue.record("a wrong signature was accepted")
            } catch {
                #expect("\(error)".contains("403"), "\(error)")
                #expect("\(error)".contains("AWS_ACCESS_KEY_ID"))
                #expect(!"\(error)".contains("not-the-secret"))
            }
            var unsigned = GraphServers.neptune(iam: true)
            unsigned.credentials = nil
            await #expect(throws: NeptuneError.self) {
                _ = try await GraphMigration(settings: GraphServers.settings(target: .neptune(unsigned), mapping: GraphMapping()),
                                             checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
            }
        }

        @Test func memgraphToABoltTarget() async throws {
            let memgraph = GraphServers.bolt("MEMGRAPH")
            let (nodes, relationships) = try await GraphServers.fillLightRAG(memgraph, nodes: 120)
            let target = GraphServers.bolt()
            try await GraphServers.clear(target)
            let settings = GraphServers.settings(target: .bolt(target, displayName: "bolt target"), mapping: try GraphServers.lightragMapping(), source: memgraph)
            let report = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            let check = try await BoltConnection.connect(target)
            #expect(try await check.query("MATCH (n) RETURN count(n)").first?.first?.int == Int64(nodes))
            #expect(try await check.query("MATCH ()-[r:DIRECTED]->() RETURN count(r)").first?.first?.int == Int64(relationships))
            // Bolt targets keep lists and temporal values as they are.
            let tags = try await check.query("MATCH (n {entity_id: $id}) RETURN n.tags, n.seen", parameters: [("id", .string(GraphServers.entityID(15)))])
            #expect(tags.first?[0] == .list([.string("a"), .string("b15")]))
            #expect(tags.first?[1] == .structure(tag: 0x44, fields: [.int(20_774)]))
            await check.close()
            let verification = try await GraphVerification(settings: settings).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            #expect(verification.checksum == report.checksum, "a Bolt target's copy checksums the same records as verify")
        }

        @Test func killedRunsResumeAndBadCredentialsFailClearly() async throws {
            let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 3000)
            try await GraphServers.admin("/reset")
            let directory = checkpointDirectory()
            let user = Servers.value("BOLT_USER")
            let source = Servers.value("BOLT_URL").replacingOccurrences(of: "bolt://", with: "bolt://\(user)@")
            let arguments = ["graph", "--source", source, "--target", Servers.value("NEPTUNE_URL"), "--target-ca-file", Servers.value("GRAPH_CA"),
                             "--mapping", "mappings/lightrag-graph.yaml", "--batch", "100", "--rate", "3000", "--checkpoint-dir", directory, "--json"]
            let environment = ["MIGRATE_SOURCE_PASSWORD": Servers.value("BOLT_PASSWORD")]
            let (process, _, _) = try CLI.start(arguments, environment: environment)
            let killed = try await killAfterProgress(process, checkpointDirectory: directory)
            #expect(killed != nil, "the run finished before it could be killed")
            let partial = try await GraphServers.count("MATCH (n) RETURN count(n) AS c") + GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c")
            #expect(partial < nodes + relationships)
            let resumed = try await CLI.run(arguments + ["--resume"], environment: environment)
            #expect(resumed.status == 0, "\(resumed.output)")
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
            #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships)
            let verify = try await CLI.run(["verify"] + arguments.prefix(9) + ["--batch", "500"], environment: environment)
            #expect(verify.stdout.contains("SUCCEEDED"))
            #expect(verify.status == 0, "\(verify.output)")

            let wrong = try await CLI.run(arguments + ["--fresh"], environment: ["MIGRATE_SOURCE_PASSWORD": "Wr0ng-bolt-pass"])
            #expect(wrong.status == 2)
            #expect(wrong.stderr.contains("Unauthorized") && wrong.stderr.contains("password"), "\(wrong.stderr)")
            #expect(!wrong.output.contains("Wr0ng-bolt-pass"))
            let plain = try await CLI.run(Array(arguments.prefix(4)) + [Servers.value("NEPTUNE_URL").replacingOccurrences(of: "https", with: "http"), "--fresh"], environment: environment)
            #expect(plain.status == 2, "\(plain.output)")
        }
    }
}

extension Integration.Graph {
    @Test func bulkLoadThroughCSVAndS3() async throws {
        let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 200)
        try await GraphServers.admin("/reset")
        let directory = checkpointDirectory()
        let user = Servers.value("BOLT_USER")
        let source = Servers.value("BOLT_URL").replacingOccurrences(of: "bolt://", with: "bolt://\(user)@")
        let prefix = "run-\(UUID().uuidString)"
        let result = try await CLI.run([
            "graph", "--source", source, "--target", Servers.value("NEPTUNE_URL"), "--target-ca-file", Servers.value("GRAPH_CA"),
            "--mapping", "mappings/lightrag-graph.yaml", "--batch", "64", "--checkpoint-dir", directory,
            "--export-csv", directory + "/csv", "--s3", "s3://\(Servers.value("S3_BUCKET"))/\(prefix)", "--s3-endpoint", Servers.value("S3_ENDPOINT"),
            "--loader-role-arn", Servers.value("NEPTUNE_LOADER_ROLE_ARN"), "--region", Servers.value("NEPTUNE_REGION"),
        ], environment: ["MIGRATE_SOURCE_PASSWORD": Servers.value("BOLT_PASSWORD"), "AWS_ACCESS_KEY_ID": "testing",
                         "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_REGION": Servers.value("NEPTUNE_REGION")])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdout.contains("Neptune bulk load completed"), "\(result.stdout)")
        // Where the files went is an outcome for the report's notes, not a problem.
        #expect(result.stdout.contains("notes:") && result.stdout.contains("bulk-load CSV files are in") && !result.stdout.contains("problems ("),
                "\(result.stdout)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/csv")
        #expect(files.contains { $0.hasPrefix("nodes-") } && files.contains { $0.hasPrefix("relationships-") })
        #expect(!result.output.contains("testing-secret"))
        #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
        #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships)
        let verification = try await GraphVerification(settings: GraphServers.settings(target: .neptune(GraphServers.neptune()),
                                                                                        mapping: try GraphServers.lightragMapping())).run()
        #expect(verification.outcome == .succeeded, "\(verification.rendered())")
    }
}

extension Integration.Graph {
    @Test func aBatchNeptuneRefusesIsSplitUntilTheRefusedRowIsFound() async throws {
        let connection = try await BoltConnection.connect(GraphServers.bolt())
        _ = try await connection.query("MATCH (n) DETACH DELETE n")
        let rows: [PackStreamValue] = (0..<4).map { .map([("props", .map([("entity_id", .string("P\($0)")), ("n", .int(Int64($0)))]))]) }
        _ = try await connection.query("UNWIND $rows AS row CREATE (n:base:person) SET n += row.props", parameters: [("rows", .list(rows))])
        await connection.close()
        try await GraphServers.admin("/reset")
        // Three 400s for node writes: the batch of 4, its first half, then that half's first node alone.
        try await GraphServers.admin("/faults", body: .object([("status", .int(400)), ("code", .string("InvalidArgumentException")),
                                                                ("message", .string("Property value must be a simple literal")),
                                                                ("count", .int(3)), ("match", .string("MERGE (n"))]))
        var settings = GraphServers.settings(target: .neptune(GraphServers.neptune()), mapping: try GraphServers.lightragMapping(), batch: 4)
        settings.concurrency = 1
        let report = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
        #expect(report.outcome == .incomplete, "\(report.rendered())")
        #expect(report.totals["dead-lettered"] == 1)
        #expect(report.problems.contains { $0.contains("dead-lettered node base,person:P") && $0.contains("simple literal") }, "\(report.problems)")
        #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == 3)
    }
}
