import Bolt
import Foundation
import JSON
import MigrationCore
import Testing
@testable import GraphMigration

/// Node identity on the target, and runs that must not report success when the target dropped, refused or
/// merged records.
extension Integration.Graph {
    @Test func workspacesSharingEntityNamesLandSeparatelyInNeptune() async throws {
        let (nodes, relationships) = try await GraphServers.fillWorkspaces(GraphServers.bolt(), ["ws_a", "ws_b"], entities: 12)
        try await GraphServers.admin("/reset")
        let settings = GraphServers.settings(target: .neptune(GraphServers.neptune()), mapping: try GraphServers.lightragMapping(), batch: 5)
        let report = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
        #expect(report.outcome == .succeeded, "\(report.rendered())")
        #expect(report.totals["nodes"] == nodes && report.totals["relationships"] == relationships && report.totals["dead-lettered"] == 0)
        // The ledger per label set and type, held against the target's own counts.
        let ledger = try #require(report.ledger)
        #expect(ledger.problems.isEmpty, "\(report.rendered())")
        #expect(ledger.rows.first { $0.unit == "nodes :person:ws_b" }.map { "\($0.entry.selected) \($0.entry.written) \($0.onTarget ?? -1)" } == "12 12 12")
        #expect(ledger.rows.first { $0.unit == "relationships DIRECTED" }.map { "\($0.entry.written) \($0.onTarget ?? -1)" } == "\(relationships) \(relationships)")
        #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
        #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships)
        // The application's lookup (workspace label + entity_id) finds each workspace's own node and edges.
        let found = try await GraphServers.query("MATCH (n:ws_b {entity_id: 'E3'})-[r:DIRECTED]->(m) RETURN id(n) AS id, n.description AS d, r.weight AS w, m.entity_id AS m")
        #expect(found.count == 1)
        #expect(found.first?["id"]?.string == "ws_b:E3" && found.first?["d"]?.string == "E3 of ws_b" && found.first?["m"]?.string == "E4")
        #expect(found.first?["w"]?.double == 1.3)

        let verification = try await GraphVerification(settings: settings).run()
        #expect(verification.outcome == .succeeded, "\(verification.rendered())")
        let counts = verification.sections.first?.rows ?? []
        #expect(counts.contains(["nodes in scope", "ws_b", "12", "12", ""]), "\(counts)")
        #expect(counts.contains(["relationships from scope", "ws_a", "11", "11", ""]), "\(counts)")

        // A changed property is named with both values; a node missing in one workspace shows in its count.
        _ = try await GraphServers.query("MATCH (n:ws_b {entity_id: 'E3'}) SET n.description = 'changed'")
        _ = try await GraphServers.query("MATCH (n:ws_a {entity_id: 'E11'}) DETACH DELETE n")
        let dirty = try await GraphVerification(settings: settings).run()
        #expect(dirty.outcome == .mismatched)
        #expect(dirty.problems.contains("nodes in scope ws_a: source 12, target 11"), "\(dirty.problems)")
        #expect(dirty.problems.contains { $0.hasPrefix("differs: node ws_b:E3") && $0.hasSuffix("property description: source \"E3 of ws_b\", target \"changed\"") },
                "\(dirty.problems)")
    }

    @Test func workspacesSharingEntityNamesLandSeparatelyOnABoltTarget() async throws {
        let (nodes, relationships) = try await GraphServers.fillWorkspaces(GraphServers.bolt(), ["ws_a", "ws_b"], entities: 12)
        let target = GraphServers.bolt("MEMGRAPH")
        try await GraphServers.clear(target)
        let settings = GraphServers.settings(target: .bolt(target, displayName: "bolt target"), mapping: try GraphServers.lightragMapping(), batch: 5)
        let report = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
        #expect(report.outcome == .succeeded, "\(report.rendered())")
        let check = try await BoltConnection.connect(target)
        #expect(try await check.query("MATCH (n) RETURN count(n)").first?.first?.int == Int64(nodes))
        #expect(try await check.query("MATCH ()-[r]->() RETURN count(r)").first?.first?.int == Int64(relationships))
        // Each edge joins two nodes of one workspace: none crosses over to the other's node of the same name.
        #expect(try await check.query("MATCH (a:ws_a)-[r]->(b:ws_b) RETURN count(r)").first?.first?.int == 0)
        #expect(try await check.query("MATCH (n:ws_b:person {entity_id: 'E3'}) RETURN n.description").first?.first == .string("E3 of ws_b"))
        await check.close()
        let verification = try await GraphVerification(settings: settings).run()
        #expect(verification.outcome == .succeeded, "\(verification.rendered())")
        #expect(verification.totals["matched"] == nodes + relationships)
    }

    @Test func sourceNodesWithOneTargetIdentityStopTheRunBeforeAnyWrite() async throws {
        try await GraphServers.fillWorkspaces(GraphServers.bolt(), ["ws_a"], entities: 4)
        let connection = try await BoltConnection.connect(GraphServers.bolt())
        // A second `E2` in ws_a (another entity_type): one `~id` for two source nodes.
        _ = try await connection.query("CREATE (:ws_a:concept {entity_id: 'E2', entity_type: 'concept'})")
        await connection.close()
        try await GraphServers.admin("/reset")
        let settings = GraphServers.settings(target: .neptune(GraphServers.neptune()), mapping: try GraphServers.lightragMapping())
        do {
            let report = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
            Issue.record("the run went on: \(report.rendered())")
        } catch let collision as NodeIdentityCollision {
            #expect(collision.count == 1)
            #expect(collision.examples.first?.identity.targetID == "ws_a:E2")
            #expect(collision.description.contains("`ws_a:E2` (entity_id E2 in scope ws_a)") && collision.description.contains("nothing was written"),
                    "\(collision)")
        }
        #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == 0)
        // migrate plan names it too, and the command line exits non-zero with the same words.
        let plan = await GraphInventory(settings: settings).take()
        #expect(plan.problems.contains { $0.contains("`ws_a:E2`") }, "\(plan.problems)")
        let run = try await CLI.run(["graph"] + GraphServers.commandLineEndpoints + ["--checkpoint-dir", checkpointDirectory()],
                                    environment: GraphServers.commandLineEnvironment)
        #expect(run.status != 0)
        #expect(run.stderr.contains("`ws_a:E2`"), "\(run.output)")
        #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == 0)
    }

    @Test func aTargetNodeHoldingTheSameIDIsReportedNotOverwritten() async throws {
        let (nodes, _) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 40)
        try await GraphServers.admin("/reset")
        // Something else already uses entity 3's `~id`, with other labels: Neptune refuses a second vertex with it.
        _ = try await GraphServers.query("CREATE (:legacy {`~id`: $id, note: 'not ours'})", parameters: .object([("id", .string(GraphServers.targetID(3)))]))
        let settings = GraphServers.settings(target: .neptune(GraphServers.neptune()), mapping: try GraphServers.lightragMapping(), batch: 10)
        let report = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
        #expect(report.outcome == .incomplete, "\(report.rendered())")
        #expect(report.totals["nodes"] == nodes - 1)
        #expect(report.problems.contains { $0.contains("dead-lettered node \(GraphServers.targetID(3))") && $0.contains("same ~id already exists") },
                "\(report.problems)")
        let kept = try await GraphServers.query("MATCH (n) WHERE id(n) = $id RETURN labels(n) AS l, n.note AS note", parameters: .object([("id", .string(GraphServers.targetID(3)))]))
        #expect(kept.count == 1 && kept.first?["note"]?.string == "not ours")
    }

    @Test func aRelationshipWhoseEndpointVanishedOnABoltTargetIsRefusedNotCounted() async throws {
        let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 120)
        let target = GraphServers.bolt("MEMGRAPH")
        try await GraphServers.clear(target)
        let settings = GraphServers.settings(target: .bolt(target, displayName: "bolt target"), mapping: try GraphServers.lightragMapping(), batch: 10)
        // Slow enough that the relationships of the last entity are written seconds after the node phase ends.
        let run = Task { try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, rateLimit: 60).run() }
        let watch = try await BoltConnection.connect(target)
        let last = GraphServers.entityID(nodes - 1)
        while try await watch.query("MATCH (n) RETURN count(n)").first?.first?.int ?? 0 < Int64(nodes) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await watch.query("MATCH ()-[r]->({entity_id: $id}) RETURN count(r)", parameters: [("id", .string(last))]).first?.first?.int == 0,
                "the relationship phase reached the last entity before the test removed it")
        _ = try await watch.query("MATCH (n {entity_id: $id}) DETACH DELETE n", parameters: [("id", .string(last))])
        await watch.close()
        let report = try await run.value
        // Its two incoming edges (from entities nodes-2 and nodes-8) found no end node: refused, named, not counted;
        // and the ledger finds the node gone from its label set.
        #expect(report.outcome == .failed, "\(report.rendered())")
        #expect(report.ledger?.problems.contains { $0.unit == "nodes :base:\(["person", "organization", "concept"][(nodes - 1) % 3])" && $0.problem?.contains("dropped or merged") == true } == true,
                "\(report.rendered())")
        #expect(report.totals["relationships"] == relationships - 2)
        #expect(report.totals["dead-lettered"] == 2)
        #expect(report.problems.contains { $0.hasPrefix("dead-lettered relationship") && $0.contains("start or end node is not on the target") }, "\(report.problems)")
        let file = try #require(report.problems.first { $0.contains("dead-letter") && $0.contains(".jsonl") }.flatMap { $0.split(separator: " ").last.map(String.init) })
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains(GraphServers.targetID(nodes - 1)) })
    }
}
