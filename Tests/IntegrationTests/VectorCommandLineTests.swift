import Foundation
import JSON
import Postgres
import Qdrant
import Testing
@testable import VectorMigration

extension Integration {
    /// `migrate vectors` and `migrate verify vectors` end to end.
    @Suite struct VectorCommandLine {
        var environment: [String: String] {
            ["MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword, "MIGRATE_TARGET_API_KEY": VectorServers.apiKey]
        }

        @Test func killedRunsResumeAndVerifyCatchesAlteredAndMissingPoints() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await createLightRAGTables(connection, dimensions: 384, rows: 3000, suffix: "_resume_384d")
            await connection.close()
            let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(target)
            let directory = checkpointDirectory()
            let arguments = ["vectors", "--source", VectorServers.pgSource, "--target", VectorServers.qdrantTarget,
                             "--table", "lightrag_vdb_chunks_resume_384d", "--batch", "50", "--concurrency", "2", "--rate", "1500",
                             "--checkpoint-dir", directory, "--json"]
            // Killed twice, each time just after a checkpoint recorded progress, then resumed to the end.
            var progress = 0
            for index in 0..<2 {
                let (process, _, _) = try CLI.start(index == 0 ? arguments : arguments + ["--resume"], environment: environment)
                let seen = try await killAfterProgress(process, checkpointDirectory: directory, after: progress)
                #expect(seen != nil, "run \(index + 1) finished before it could be killed")
                progress = seen ?? progress
            }
            let resumed = try await CLI.run(arguments + ["--resume"], environment: environment)
            #expect(resumed.status == 0, "\(resumed.output)")
            let client = VectorServers.client(target)
            #expect(try await client.count("lightrag_vdb_chunks_resume_384d") == 6000)

            let verifyArguments = ["verify", "vectors", "--source", VectorServers.pgSource, "--target", VectorServers.qdrantTarget,
                                   "--table", "lightrag_vdb_chunks_resume_384d", "--neighbour-queries", "3"]
            let clean = try await CLI.run(verifyArguments, environment: environment)
            #expect(clean.status == 0, "\(clean.output)")

            // Alter one point's vector and delete another.
            let ids = try await client.scroll("lightrag_vdb_chunks_resume_384d", limit: 2, offset: nil).points
            let altered = try #require(ids.first)
            var point = Array(#"{"points":[{"id":"#.utf8) + JSONWriter.bytes(altered["id"]!) + Array(#","vector":["#.utf8)
            point += Array((0..<384).map { _ in "0.5" }.joined(separator: ",").utf8)
            point += Array(#"],"payload":"#.utf8) + JSONWriter.bytes(altered["payload"]!) + Array("}]}".utf8)
            try await client.upsert("lightrag_vdb_chunks_resume_384d", body: point)
            let deletedID = try #require(ids.last?["id"])
            _ = try await client.delete("lightrag_vdb_chunks_resume_384d", ids: [deletedID])
            await client.close()

            let dirty = try await CLI.run(verifyArguments, environment: environment)
            #expect(dirty.status == 3, "\(dirty.output)")
            #expect(dirty.stdout.contains("differs: point \(UUIDText.canonical(altered["id"]!))"), "\(dirty.stdout)")
            #expect(dirty.stdout.contains("missing in target: collection lightrag_vdb_chunks_resume_384d has no point \(UUIDText.canonical(deletedID))"))
        }

        @Test func badInputFailsClearlyAndKeepsSecretsOut() async throws {
            let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(target)
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await connection.execute("DROP TABLE IF EXISTS tiny; CREATE TABLE tiny (id int PRIMARY KEY, v vector(3)); INSERT INTO tiny VALUES (1, '[1,2,3]')")
            await connection.close()
            let base = ["vectors", "--source", VectorServers.pgSource, "--fresh", "--checkpoint-dir", checkpointDirectory(), "--connect-timeout", "3"]
            let cases: [(name: String, arguments: [String], environment: [String: String], expected: String)] = [
                ("wrong PostgreSQL password", ["--target", VectorServers.qdrantTarget, "--table", "tiny"],
                 ["MIGRATE_SOURCE_PASSWORD": "Wr0ng-pg-Pa55", "MIGRATE_TARGET_API_KEY": VectorServers.apiKey], "password authentication failed"),
                ("missing table", ["--target", VectorServers.qdrantTarget, "--table", "no_such_table"], environment, "does not exist"),
                ("wrong API key", ["--target", VectorServers.qdrantTarget, "--table", "tiny"],
                 ["MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword, "MIGRATE_TARGET_API_KEY": "Wr0ng-api-key"], "API key"),
                ("private CA not trusted", ["--target", VectorServers.qdrantTLS, "--table", "tiny"], environment, "did not verify"),
                ("unreachable Qdrant", ["--target", "http://127.0.0.1:1", "--table", "tiny"], environment, "connection refused"),
                ("not a vector store", ["--target", "redis://127.0.0.1:6379", "--table", "tiny"], environment, "use postgres://"),
            ]
            for testCase in cases {
                let result = try await CLI.run(base + testCase.arguments, environment: testCase.environment)
                #expect(result.status != 0, "\(testCase.name): exit 0")
                #expect(result.stderr.contains(testCase.expected), "\(testCase.name): \(result.output)")
                for secret in ["Wr0ng-pg-Pa55", "Wr0ng-api-key", VectorServers.pgPassword, VectorServers.apiKey] {
                    #expect(!result.output.contains(secret), "\(testCase.name) leaked a secret")
                }
            }
            let client = VectorServers.client(target)
            #expect(try await client.collectionNames().isEmpty)
            await client.close()
        }
    }
}
