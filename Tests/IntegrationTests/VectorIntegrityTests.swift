import Foundation
import JSON
import Postgres
import Qdrant
import Testing
@testable import VectorMigration

/// A private Qdrant stand-in from this checkout, with `arguments` (e.g. its test-only fault switch).
struct PrivateQdrant {
    let process: Process
    let url: String

    static func start(_ arguments: [String]) async throws -> PrivateQdrant {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let port = Int.random(in: 20_000..<30_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Servers.value("MIGRATE_VENV") + "/bin/python")
        process.arguments = [repository.appendingPathComponent("scripts/standins/qdrant_standin.py").path, "--port", String(port),
                             "--data-dir", checkpointDirectory() + "/qdrant"] + arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = PrivateQdrant(process: process, url: "http://127.0.0.1:\(port)")
        for _ in 0..<200 {
            let client = VectorServers.client(VectorServers.qdrant(server.url))
            let up = (try? await client.collectionNames()) != nil
            await client.close()
            if up { return server }
            try await Task.sleep(for: .milliseconds(50))
        }
        server.stop()
        throw CancellationError()
    }

    /// SIGTERM, and SIGKILL when it has not exited within five seconds.
    func stop() {
        process.terminate()
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

extension Integration {
    /// Runs that would leave rows behind, merge them or believe a lying target must not end in success.
    @Suite struct VectorIntegrity {
        var environment: [String: String] {
            ["MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword, "MIGRATE_TARGET_API_KEY": VectorServers.apiKey]
        }

        /// The shipped mapping with `edit` applied to its text, in a temporary file.
        func mapping(_ edit: (String) -> String) throws -> String {
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let text = try String(contentsOf: repository.appendingPathComponent("mappings/lightrag.yaml"), encoding: .utf8)
            let path = checkpointDirectory() + "/mapping.yaml"
            try edit(text).write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        @Test func aMisspeltSourceTableStopsCopyAndVerify() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await dropLightRAGTables(connection)
            try await createLightRAGTables(connection, dimensions: 8, rows: 20, suffix: "_typo_8d")
            try await connection.execute("DROP TABLE IF EXISTS uncovered_vectors; CREATE TABLE uncovered_vectors (id int PRIMARY KEY, v vector(2))")
            await connection.close()
            let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(target)
            let typo = try mapping { $0.replacingOccurrences(of: "lightrag_vdb_entity{suffix}", with: "lightrag_vdb_entitiy{suffix}") }
            let base = ["--source", VectorServers.pgSource, "--target", VectorServers.qdrantTarget, "--mapping", typo]
            for arguments in [["vectors"] + base + ["--checkpoint-dir", checkpointDirectory()], ["verify", "vectors"] + base] {
                let result = try await CLI.run(arguments, environment: environment)
                #expect(result.status != 0, "\(arguments[0]) exited 0: \(result.output)")
                #expect(result.stderr.contains("mapping 'entities{suffix}': no table named like 'lightrag_vdb_entitiy{suffix}'. Did you mean 'lightrag_vdb_entity{suffix}'?"), "\(result.output)")
                #expect(result.stderr.contains("lightrag_vdb_entity_typo_8d"), "the error lists what exists: \(result.stderr)")
            }
            let client = VectorServers.client(target)
            #expect(try await client.collectionNames().isEmpty, "something was written before the error")
            await client.close()

            // Marked optional, the entry is skipped and said so; a vector table no entry covers is a note, not a problem.
            let optional = try mapping {
                $0.replacingOccurrences(of: "lightrag_vdb_entity{suffix}\"}", with: "lightrag_vdb_entitiy{suffix}\"}\n    optional: true")
            }
            let plan = await VectorInventory(settings: vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target,
                                                                      mapping: try VectorMappingFile.load(optional).collections)).take()
            #expect(plan.problems.isEmpty, "\(plan.problems)")
            #expect(plan.notes.contains { $0.contains("mapping 'entities{suffix}' (optional): no table named like 'lightrag_vdb_entitiy{suffix}'") }, "\(plan.notes)")
            #expect(plan.notes.contains { $0.contains("table lightrag_vdb_entity_typo_8d has vectors but no mapping entry covers it") }, "\(plan.notes)")
            #expect(plan.notes.contains { $0.contains("table uncovered_vectors has vectors but no mapping entry covers it") }, "\(plan.notes)")
            #expect(plan.notes.contains("workspaces (workspace): 'default' → '_'; every other workspace keeps its name, in point ids and payload"), "\(plan.notes)")
        }

        @Test func rowsThatWouldShareAPointAreRefusedBeforeWriting() async throws {
            let target = try await freshLightRAGSource(dimensions: 8, rows: 10, suffix: "_merge_8d")
            // The id leaves out the workspace: (ws_a, chunk-x) and (ws_b, chunk-x) would become one point.
            let ignoresWorkspace = try VectorMappingFile.load(try mapping { $0.replacingOccurrences(of: "id_columns: [workspace, id]", with: "id_columns: [id]") }).collections
            let settings = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target, mapping: ignoresWorkspace)
            do {
                _ = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
                Issue.record("the run merged rows of two workspaces into one point")
            } catch {
                #expect("\(error)".contains("point id collision in collection lightrag_vdb_chunks_merge_8d"), "\(error)")
                #expect("\(error)".contains("\"public\".\"lightrag_vdb_chunks_merge_8d\" (ws_a, chunk-"), "\(error)")
                #expect("\(error)".contains("and \"public\".\"lightrag_vdb_chunks_merge_8d\" (ws_b, chunk-"), "\(error)")
            }
            // The workspace rule maps `default` onto `_`, which the table also holds.
            let again = try await VectorServers.connect(VectorServers.pgSource)
            try await createLightRAGTables(again, dimensions: 8, rows: 10, suffix: "_merge_8d", workspaces: ["default", "_"])
            await again.close()
            let renamed = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target, mapping: try lightragMapping())
            do {
                _ = try await VectorMigration(settings: renamed, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
                Issue.record("the run merged workspaces 'default' and '_' into one point each")
            } catch {
                #expect("\(error)".contains("(_, chunk-") && "\(error)".contains("(default, chunk-"), "\(error)")
                #expect("\(error)".contains("'default' → '_'"), "\(error)")
            }
            let client = VectorServers.client(target)
            #expect(try await client.collectionNames().isEmpty, "something was written before the error")
            await client.close()
        }

        @Test func aTargetThatDropsAcknowledgedPointsFailsTheRunNamingThem() async throws {
            _ = try await freshLightRAGSource(dimensions: 8, rows: 30, suffix: "_lossy_8d")
            let server = try await PrivateQdrant.start(["--fault-drop-every", "25"])
            defer { server.stop() }
            let directory = checkpointDirectory()
            let result = try await CLI.run(["vectors", "--source", VectorServers.pgSource, "--target", server.url, "--mapping", try mapping { $0 },
                                            "--checkpoint-dir", directory, "--batch", "20"], environment: environment)
            #expect(result.status == 4, "a run that lost 7 of 180 points must end incomplete (exit 4): \(result.output)")
            #expect(result.output.contains("acknowledged the upsert as completed but does not hold"), "\(result.output)")
            let deadLetters = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix("dead-letter.jsonl") }
            let lines = try deadLetters.flatMap { try String(contentsOfFile: directory + "/" + $0, encoding: .utf8).split(separator: "\n") }
            #expect(lines.count == 7, "every lost point is in the dead-letter file: \(lines)")
            let named = try #require(result.output.firstMatch(of: /point ([0-9a-f-]{36}) \(row (\w+), ((?:chunk|ent|rel)-[0-9a-f]+)\)/)?.output, "\(result.output)")
            let client = VectorServers.client(VectorServers.qdrant(server.url))
            var held = 0
            for name in try await client.collectionNames() {
                held += try await client.retrieve(name, ids: [.string(String(named.1))]).count
            }
            await client.close()
            #expect(held == 0, "the named point \(named.1) is on the target")
            #expect(try PointIDRule.lightrag.pointID(for: [String(named.2), String(named.3)]) == .string(String(named.1)))
        }

        /// LightRAG's own Qdrant storage (lightrag-hku) reads the migrated collections: without a workspace it
        /// reads `_` and finds every row PostgreSQL held under `default`; with WORKSPACE=prod it finds prod's rows.
        @Test func lightragsOwnQdrantStorageFindsEveryMigratedRow() async throws {
            let target = try await freshLightRAGSource(dimensions: 8, rows: 40, suffix: "_test_model_8d", workspaces: ["default", "prod"])
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            var ids: [String: [String: [String]]] = [:]
            for (namespace, table) in [("chunks", "lightrag_vdb_chunks"), ("entities", "lightrag_vdb_entity"), ("relationships", "lightrag_vdb_relation")] {
                let rows = try await connection.query("SELECT workspace::text, id::text FROM \(table)_test_model_8d ORDER BY 1, 2")
                for row in rows.rows.indices {
                    ids[rows.text(row, 0)!, default: [:]][namespace, default: []].append(rows.text(row, 1)!)
                }
            }
            await connection.close()
            let settings = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target, mapping: try lightragMapping())
            let report = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.notes.contains { $0.contains("'default' → '_'") }, "the report states the workspace rule: \(report.notes)")
            let ledger = try #require(report.ledger)
            #expect(ledger.rows.map(\.unit) == ["chunks_test_model_8d", "entities_test_model_8d", "relationships_test_model_8d"])
            #expect(ledger.rows.allSatisfy { $0.entry.selected == 80 && $0.entry.written == 80 && $0.onTarget == 80 && $0.problem == nil }, "\(ledger.rows)")

            for (workspace, arguments) in [("default", [String]()), ("prod", ["--workspace", "prod"])] {
                let answer = try await lightragReads(ids[workspace]!, arguments: arguments)
                #expect(answer["workspace"]?.string == (workspace == "default" ? "_" : "prod"))
                for namespace in ["chunks", "entities", "relationships"] {
                    let result = try #require(answer[namespace], "\(answer)")
                    #expect(result["asked"]?.int == 40)
                    #expect(result["found"]?.int == 40, "LightRAG found \(result["found"].map(JSONWriter.text) ?? "?") of 40 \(namespace) of workspace \(workspace): missing \(result["missing"].map(JSONWriter.text) ?? "")")
                    #expect(result["query_top"]?.string == ids[workspace]![namespace]!.first, "the workspace_id filter of LightRAG's query: \(result)")
                }
            }
        }

        /// Runs scripts/lightrag_qdrant_reads.py with the venv's lightrag-hku against the target stand-in.
        func lightragReads(_ ids: [String: [String]], arguments: [String]) async throws -> JSONValue {
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let python = Servers.value("MIGRATE_VENV") + "/bin/python"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [repository.appendingPathComponent("scripts/lightrag_qdrant_reads.py").path, "--model", "test_model", "--dim", "8"] + arguments
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasSuffix("WORKSPACE") }
            environment["QDRANT_URL"] = VectorServers.qdrantTarget
            environment["QDRANT_API_KEY"] = VectorServers.apiKey
            process.environment = environment
            process.currentDirectoryURL = URL(fileURLWithPath: checkpointDirectory())
            let input = Pipe(), output = Pipe(), errors = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            input.fileHandleForWriting.write(Data(JSONWriter.bytes(.object(ids.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.map { .string($0) })) }))))
            try input.fileHandleForWriting.close()
            async let out = Task.detached { output.fileHandleForReading.readDataToEndOfFile() }.value
            async let err = Task.detached { errors.fileHandleForReading.readDataToEndOfFile() }.value
            let (stdout, stderr) = await (out, err)
            process.waitUntilExit()
            guard process.terminationStatus == 0, let answer = try? JSONParser.parse(Array(stdout)) else {
                throw VectorMigrationError.unsupported("lightrag_qdrant_reads.py failed (\(python); lightrag-hku comes from scripts/install-deps.sh): "
                                                       + String(decoding: stderr.suffix(3000), as: UTF8.self))
            }
            return answer
        }
    }
}
