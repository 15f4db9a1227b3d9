import Foundation
import MigrationCore
import Postgres
import Qdrant
import Testing
import Transport
@testable import KeyMigration
@testable import RESP

extension Integration {
    /// `migrate plan` and `migrate run` over the whole stack: keys, vectors and a graph, from the application's `.env`.
    @Suite struct PlanAndRun {
        static let keys = 20_000
        static let rowsPerWorkspace = 300
        static let graphNodes = 300

        /// Fills every source and empties every target; returns the graph's relationship count.
        static func prepareStack() async throws -> Int {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            for start in stride(from: 0, to: keys, by: 2000) {
                _ = try await source.pipeline((start..<(start + 2000)).map { KeyedCommand(key: nil, RESPCommand("SET", "base_kv:\($0)", "{\"n\":\($0)}")) })
            }
            await source.close()
            await target.close()
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await dropLightRAGTables(connection)
            try await createLightRAGTables(connection, dimensions: 16, rows: rowsPerWorkspace, suffix: "")
            await connection.close()
            try await VectorServers.clear(VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey))
            let graph = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: graphNodes)
            try await GraphServers.admin("/reset")
            return graph.relationships
        }

        /// The application's environment today (`app.env`) and after cutover (`aws.env`), in a new directory.
        static func writeEnvironments() throws -> String {
            let directory = checkpointDirectory()
            let pg = try ServiceURI(VectorServers.pgSource, defaultPorts: ["postgres": 5432])
            let bolt = Servers.value("BOLT_URL")
            try """
                REDIS_URI=\(Servers.source)
                VECTOR_STORAGE=PGVectorStorage
                POSTGRES_HOST=\(pg.endpoint.host)
                POSTGRES_PORT=\(pg.endpoint.port)
                POSTGRES_USER=\(pg.user ?? "postgres")
                POSTGRES_PASSWORD='\(VectorServers.pgPassword)'
                POSTGRES_DATABASE=\(pg.path)
                GRAPH_STORAGE=Neo4JStorage
                NEO4J_URI=\(bolt)
                NEO4J_USERNAME=\(Servers.value("BOLT_USER"))
                NEO4J_PASSWORD="\(Servers.value("BOLT_PASSWORD"))"
                """.write(toFile: directory + "/app.env", atomically: true, encoding: .utf8)
            try """
                REDIS_URI=\(Servers.target)
                QDRANT_URL=\(VectorServers.qdrantTarget)
                QDRANT_API_KEY=\(VectorServers.apiKey)
                """.write(toFile: directory + "/aws.env", atomically: true, encoding: .utf8)
            return directory
        }

        static var secrets: [String] {
            [VectorServers.pgPassword, Servers.value("BOLT_PASSWORD"), VectorServers.apiKey]
        }

        @Test func planFromTheAppEnvironmentThenRunSurvivesKill() async throws {
            let relationships = try await Self.prepareStack()
            let directory = try Self.writeEnvironments()
            let configuration = directory + "/migration.yaml"
            let environment = ["GRAPH_TARGET_URI": Servers.value("NEPTUNE_URL")]

            // The generated plan finds the one thing the application's files cannot say: which CA signed Neptune's certificate.
            let first = try await CLI.run(["plan", "--from-env", directory + "/app.env", "--to-env", directory + "/aws.env",
                                           "--write-config", configuration], environment: environment)
            #expect(first.status == 2, "\(first.output)")
            #expect(first.stdout.contains("keys: READY") && first.stdout.contains("vectors: READY"), "\(first.stdout)")
            #expect(first.stdout.contains("graph: 1 PROBLEM") && first.stdout.contains("certificate"), "\(first.stdout)")
            for secret in Self.secrets { #expect(!first.output.contains(secret)) }

            // Point the graph at the CA, throttle keys so the run can be killed, keep checkpoints here.
            var text = try String(contentsOfFile: configuration, encoding: .utf8)
            #expect(!Self.secrets.contains { text.contains($0) }, "the configuration copies a secret")
            text = text.replacingOccurrences(of: "checkpoint-dir: .migrate", with: "checkpoint-dir: \(directory)/checkpoints")
            text = text.replacingOccurrences(of: "  mapping: mappings/lightrag-graph.yaml", with: "  mapping: mappings/lightrag-graph.yaml\n  target-ca-file: \(Servers.value("GRAPH_CA"))")
            text = text.replacingOccurrences(of: "  target: ${target:REDIS_URI}", with: "  target: ${target:REDIS_URI}\n  rate: 8000\n  batch: 200")
            try text.write(toFile: configuration, atomically: true, encoding: .utf8)

            let plan = try await CLI.run(["plan", "--config", configuration, "--json"], environment: environment)
            #expect(plan.status == 0, "\(plan.output)")
            let planLine = try #require(plan.stdout.split(separator: "\n").first { $0.contains("\"event\":\"plan\"") })
            #expect(planLine.contains("\"problem_count\":0") && planLine.contains("\"estimated_seconds\""), "\(planLine)")
            #expect(planLine.contains("\"records\":\(Self.keys)"))
            #expect(planLine.contains("\"records\":\(Self.rowsPerWorkspace * 2 * 3)"))
            #expect(planLine.contains("\"records\":\(Self.graphNodes + relationships)"))
            #expect(planLine.contains("list→json"), "Neptune's literal rule is reported: \(planLine)")
            // Planning wrote nothing.
            let target = try await Servers.client(Servers.target)
            #expect(try await target.keyCount() == 0)
            #expect(try await VectorServers.client(VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)).collectionNames().isEmpty)

            // kill -9 in the middle of the keys phase, then run again: it resumes and every phase verifies.
            let (process, _, _) = try CLI.start(["run", "--config", configuration], environment: environment)
            let killedAt = try await killAfterProgress(process, checkpointDirectory: directory + "/checkpoints", after: 2000)
            #expect(killedAt != nil, "the run ended before it could be killed")
            #expect(try await target.keyCount() < Self.keys)
            let status = try await CLI.run(["status", "--checkpoint-dir", directory + "/checkpoints"])
            #expect(status.stdout.contains("redis: UNFINISHED"), "\(status.stdout)")

            let run = try await CLI.run(["run", "--config", configuration, "--report", directory + "/run.json"], environment: environment)
            #expect(run.status == 0, "\(run.output)")
            #expect(run.stdout.contains("migrate run --config \(configuration): SUCCEEDED"), "\(run.stdout)")
            #expect(run.stderr.contains("== [1/3] keys: copy") && run.stderr.contains("== [3/3] graph: verify"))
            for secret in Self.secrets { #expect(!run.output.contains(secret)) }
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/run.json"))) as? [String: Any]
            #expect(report?["outcome"] as? String == "succeeded")
            let phases = report?["phases"] as? [[String: Any]] ?? []
            #expect(phases.map { $0["phase"] as? String } == ["keys", "vectors", "graph"])
            for phase in phases {
                #expect((phase["verification"] as? [String: Any])?["outcome"] as? String == "succeeded", "\(phase["phase"] ?? "")")
            }
            #expect((phases.first?["copy"] as? [String: Any])?["resumed"] as? Bool == true)
            #expect(try await target.keyCount() == Self.keys)
            await target.close()

            // A third run copies nothing again: every phase's checkpoint is finished; it only verifies.
            let again = try await CLI.run(["run", "--config", configuration, "--phase", "keys", "--json"], environment: environment)
            #expect(again.status == 0, "\(again.output)")
            #expect(!again.stdout.contains("\"phase\":\"vectors\""))
        }

        @Test func planListsEveryProblemAndWritesNothing() async throws {
            _ = try await Self.prepareStack()
            let directory = checkpointDirectory()
            // A collection with other dimensions already on the target.
            let qdrant = VectorServers.client(VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey))
            try await qdrant.createCollection("lightrag_vdb_chunks", body: .object([("vectors", .object([("size", .int(8)), ("distance", .string("Cosine"))]))]))
            await qdrant.close()
            let configuration = directory + "/migration.yaml"
            try """
                checkpoint-dir: \(directory)/checkpoints
                keys:
                  source: \(Servers.source)
                  target: \(Servers.auth)
                  target-password: wrong-password
                vectors:
                  source: \(VectorServers.pgSource)
                  source-password: ${PG_PASSWORD}
                  target: \(VectorServers.qdrantTarget)
                  target-api-key: ${QDRANT_API_KEY}
                  mapping: mappings/lightrag.yaml
                graph:
                  source: \(Servers.value("BOLT_URL"))
                  source-user: \(Servers.value("BOLT_USER"))
                  source-password: ${BOLT_PASSWORD}
                  target: https://127.0.0.1:1
                """.write(toFile: configuration, atomically: true, encoding: .utf8)
            let plan = try await CLI.run(["plan", "--config", configuration])
            #expect(plan.status == 2, "\(plan.output)")
            #expect(plan.stdout.contains("keys: 1 PROBLEM") && plan.stdout.contains("password"), "\(plan.stdout)")
            #expect(plan.stdout.contains("vectors: 1 PROBLEM") && plan.stdout.contains("16") && plan.stdout.contains("8"), "\(plan.stdout)")
            #expect(plan.stdout.contains("graph: 1 PROBLEM") && plan.stdout.contains("127.0.0.1:1"), "\(plan.stdout)")
            #expect(plan.stdout.contains("3 PROBLEMS to fix before `migrate run`"))
            #expect(!plan.output.contains("wrong-password"))
            #expect(!FileManager.default.fileExists(atPath: directory + "/checkpoints"), "planning wrote a checkpoint")
            let auth = try await Servers.client(Servers.auth, password: Servers.authPassword)
            #expect(try await auth.keyCount() == 0)
            await auth.close()

            // `migrate run` stops at the first failing phase and says which were not started.
            let run = try await CLI.run(["run", "--config", configuration])
            #expect(run.status == 2, "\(run.output)")
            #expect(run.stdout.contains("keys: FAILED") && run.stdout.contains("not started"), "\(run.stdout)")
            #expect(!run.output.contains("wrong-password"))
        }

        @Test func shardedRunsCoverEveryPhaseOnce() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            _ = try await source.pipeline((0..<5000).map { KeyedCommand(key: nil, RESPCommand("SET", "k:\($0)", "\($0)")) })
            let directory = checkpointDirectory()
            try """
                checkpoint-dir: \(directory)/checkpoints
                keys:
                  source: \(Servers.source)
                  target: \(Servers.target)
                """.write(toFile: directory + "/migration.yaml", atomically: true, encoding: .utf8)
            var copied = 0
            for shard in ["0/2", "1/2"] {
                let run = try await CLI.run(["run", "--config", directory + "/migration.yaml", "--shard", shard, "--report", directory + "/run.json"])
                #expect(run.status == 0, "\(shard): \(run.output)")
                let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/run.json"))) as? [String: Any]
                let phase = (report?["phases"] as? [[String: Any]])?.first
                copied += ((phase?["copy"] as? [String: Any])?["totals"] as? [String: Int])?["copied"] ?? 0
                #expect((phase?["verification"] as? [String: Any])?["outcome"] as? String == "succeeded", "\(shard)")
            }
            #expect(copied == 5000, "the shards together copied every key once")
            #expect(try await target.keyCount() == 5000)
            let whole = try await CLI.run(["verify", "redis", "--source", Servers.source, "--target", Servers.target])
            #expect(whole.status == 0, "\(whole.output)")
            await source.close()
            await target.close()
        }

        @Test func badConfigurationsAreRefusedWithTheFix() async throws {
            let directory = checkpointDirectory()
            let configuration = directory + "/migration.yaml"
            for (text, message) in [
                ("keys:\n  source: \(Servers.source)\n  bogus: 1\n", "keys: Unknown option '--bogus'"),
                ("keys:\n  source: ${UNSET_FOR_TEST}\n", "${UNSET_FOR_TEST} is not set"),
                ("vectors:\n  source: mysql://h/db\n", "unsupported scheme 'mysql'"),
            ] {
                try text.write(toFile: configuration, atomically: true, encoding: .utf8)
                let plan = try await CLI.run(["plan", "--config", configuration])
                let run = try await CLI.run(["run", "--config", configuration])
                #expect(plan.status != 0 && run.status != 0)
                #expect(plan.output.contains(message), "\(plan.output)")
                #expect(run.output.contains(message), "\(run.output)")
            }
            // A mistake in a later phase stops the run before the first phase writes anything.
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            try await fillEveryType(source)
            try """
                checkpoint-dir: \(directory)/checkpoints
                keys: {source: \(Servers.source), target: \(Servers.target)}
                graph: {source: \(Servers.value("BOLT_URL")), target: \(Servers.value("NEPTUNE_URL")), bogus: 1}
                """.write(toFile: configuration, atomically: true, encoding: .utf8)
            let late = try await CLI.run(["run", "--config", configuration])
            #expect(late.status == 64, "\(late.output)")
            #expect(late.stderr.contains("graph: Unknown option '--bogus'"), "\(late.stderr)")
            #expect(try await target.keyCount() == 0)
            await source.close()
            await target.close()

            let missing = try await CLI.run(["run", "--config", directory + "/nope.yaml"])
            #expect(missing.status == 64)
            #expect(missing.stderr.contains("--config '\(directory)/nope.yaml': no such file"), "\(missing.stderr)")
        }
    }
}
