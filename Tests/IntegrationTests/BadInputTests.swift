import Foundation
import MigrationCore
import Postgres
import Qdrant
import Testing
@testable import KeyMigration
@testable import RESP

extension Integration {
    /// Bad input for every store: each case exits non-zero with the problem and its fix, writes nothing to the
    /// target, and never prints a secret. (Redis connection cases: CommandLine.badConnectionsFailClearlyAndWriteNothing.)
    @Suite struct BadInput {
        struct Case: Sendable, CustomStringConvertible {
            var description: String
            var arguments: [String]
            var environment: [String: String] = [:]
            var status: Int32
            var expected: [String]
        }

        static let wrongPassword = "Wr0ng-Secret-4711"

        static var vectorCases: [Case] {
            let qdrant = VectorServers.qdrantTarget
            let pg = VectorServers.pgSource
            let withWrongPassword = pg.replacingOccurrences(of: "postgres://migrate@", with: "postgres://migrate:\(wrongPassword)@")
            let key = ["MIGRATE_TARGET_API_KEY": VectorServers.apiKey, "MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword]
            return [
                Case(description: "malformed source URI", arguments: ["--source", "postgres://h:port/db", "--target", qdrant], status: 64, expected: ["port"]),
                Case(description: "no database in the URI", arguments: ["--source", "postgres://migrate@127.0.0.1:1", "--target", qdrant], status: 64,
                     expected: ["names no database", "postgres://user@host:5432/DATABASE"]),
                Case(description: "wrong PostgreSQL password", arguments: ["--source", withWrongPassword, "--target", qdrant, "--table", "bad_input_vectors"],
                     environment: ["MIGRATE_TARGET_API_KEY": VectorServers.apiKey], status: 2, expected: ["password"]),
                Case(description: "missing table", arguments: ["--source", pg, "--target", qdrant, "--table", "no_such_table"], environment: key,
                     status: 2, expected: ["no_such_table"]),
                Case(description: "dimension mismatch", arguments: ["--source", pg, "--target", qdrant, "--table", "bad_input_vectors"], environment: key,
                     status: 2, expected: ["dimension mismatch", "4-dimensional"]),
                Case(description: "wrong Qdrant API key", arguments: ["--source", pg, "--target", qdrant, "--table", "bad_input_vectors", "--target-name", "fresh_name"],
                     environment: ["MIGRATE_TARGET_API_KEY": wrongPassword, "MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword], status: 2, expected: ["api-key"]),
                Case(description: "Qdrant TLS with an unknown CA", arguments: ["--source", pg, "--target", VectorServers.qdrantTLS, "--table", "bad_input_vectors"],
                     environment: key, status: 2, expected: ["did not verify"]),
                Case(description: "malformed mapping", arguments: ["--source", pg, "--target", qdrant, "--mapping", "/dev/null/none.yaml"], environment: key,
                     status: 64, expected: ["none.yaml"]),
            ]
        }

        static var graphCases: [Case] {
            let bolt = Servers.value("BOLT_URL").replacingOccurrences(of: "bolt://", with: "bolt://\(Servers.value("BOLT_USER"))@")
            let neptune = Servers.value("NEPTUNE_URL")
            let ca = Servers.value("GRAPH_CA")
            return [
                Case(description: "wrong Bolt password", arguments: ["--source", bolt, "--target", neptune, "--target-ca-file", ca],
                     environment: ["MIGRATE_SOURCE_PASSWORD": wrongPassword], status: 2, expected: ["auth"]),
                Case(description: "Neptune certificate from an unknown CA", arguments: ["--source", bolt, "--target", neptune],
                     environment: ["MIGRATE_SOURCE_PASSWORD": Servers.value("BOLT_PASSWORD")], status: 2, expected: ["did not verify"]),
                Case(description: "IAM without credentials", arguments: ["--source", bolt, "--target", neptune, "--iam"],
                     environment: ["MIGRATE_SOURCE_PASSWORD": Servers.value("BOLT_PASSWORD"), "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                                   "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"],
                     status: 2, expected: ["no AWS credentials", "AWS_ACCESS_KEY_ID"]),
                Case(description: "Neptune unreachable", arguments: ["--source", bolt, "--target", "https://127.0.0.1:1", "--connect-timeout", "3"],
                     environment: ["MIGRATE_SOURCE_PASSWORD": Servers.value("BOLT_PASSWORD")], status: 2, expected: ["127.0.0.1:1", "refused"]),
                Case(description: "unsupported target scheme", arguments: ["--source", bolt, "--target", "ftp://127.0.0.1:21"], status: 64, expected: ["bolt://"]),
            ]
        }

        /// A source table of ten 4-dimensional vectors.
        static func createVectorTable(_ name: String) async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await connection.execute("""
                DROP TABLE IF EXISTS \(name);
                CREATE TABLE \(name) (id int PRIMARY KEY, v vector(4));
                INSERT INTO \(name) SELECT i, '[1,2,3,4]' FROM generate_series(1, 10) AS i;
                """)
            await connection.close()
        }

        @Test func vectorsAndGraphRefuseBadInputWithTheFix() async throws {
            try await Self.createVectorTable("bad_input_vectors")
            let qdrant = VectorServers.client(VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey))
            for name in try await qdrant.collectionNames() { _ = try? await qdrant.deleteCollection(name) }
            try await qdrant.createCollection("bad_input_vectors", body: .object([("vectors", .object([("size", .int(8)), ("distance", .string("Cosine"))]))]))
            _ = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 20)
            try await GraphServers.admin("/reset")

            for (command, cases) in [("vectors", Self.vectorCases), ("graph", Self.graphCases)] {
                for testCase in cases {
                    let result = try await CLI.run([command] + testCase.arguments + ["--fresh", "--checkpoint-dir", checkpointDirectory()],
                                                   environment: testCase.environment)
                    #expect(result.status == testCase.status, "\(command): \(testCase): exit \(result.status): \(result.output)")
                    for fragment in testCase.expected {
                        #expect(result.stderr.localizedCaseInsensitiveContains(fragment), "\(command): \(testCase): \(result.stderr)")
                    }
                    #expect(!result.output.contains(Self.wrongPassword), "\(command): \(testCase) printed the secret")
                }
            }
            // Nothing was written: the one collection is the test's own and empty; Neptune holds nothing.
            #expect(try await qdrant.collectionNames() == ["bad_input_vectors"])
            #expect(try await qdrant.count("bad_input_vectors") == 0)
            await qdrant.close()
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == 0)
        }

        /// A checkpoint directory on a full file system stops each command before its first write.
        @Test func fullCheckpointDirectoryStopsBeforeAnyWrite() async throws {
            let mountPoint = checkpointDirectory()
            let mount = try await Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint])
            try #require(mount.status == 0, "mounting a small tmpfs needs root (CI runs as root): \(mount.output)")
            defer { _ = try? Shell.runBlocking("/bin/umount", [mountPoint]) }
            // Fill it: the next file cannot get a block.
            _ = try await Shell.run("/bin/dd", ["if=/dev/zero", "of=\(mountPoint)/filler", "bs=4k", "count=100"])

            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            try await fillEveryType(source)
            let keys = try await CLI.run(["redis", "--source", Servers.source, "--target", Servers.target, "--checkpoint-dir", mountPoint + "/checkpoints"])
            #expect(keys.status == 2, "\(keys.output)")
            #expect(keys.stderr.contains("No space left on device") && keys.stderr.contains("Free disk space"), "\(keys.stderr)")
            #expect(try await target.keyCount() == 0)

            try await Self.createVectorTable("full_disk_vectors")
            let vectors = try await CLI.run(["vectors", "--source", VectorServers.pgSource, "--target", VectorServers.qdrantTarget, "--table", "full_disk_vectors",
                                             "--checkpoint-dir", mountPoint + "/checkpoints"],
                                            environment: ["MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword, "MIGRATE_TARGET_API_KEY": VectorServers.apiKey])
            #expect(vectors.status == 2, "\(vectors.output)")
            #expect(vectors.stderr.contains("No space left on device"), "\(vectors.stderr)")
            let qdrant = VectorServers.client(VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey))
            #expect(try await qdrant.count("full_disk_vectors") == 0)
            await qdrant.close()

            try await GraphServers.admin("/reset")
            _ = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 20)
            let bolt = Servers.value("BOLT_URL").replacingOccurrences(of: "bolt://", with: "bolt://\(Servers.value("BOLT_USER"))@")
            let graph = try await CLI.run(["graph", "--source", bolt, "--target", Servers.value("NEPTUNE_URL"), "--target-ca-file", Servers.value("GRAPH_CA"),
                                           "--checkpoint-dir", mountPoint + "/checkpoints"],
                                          environment: ["MIGRATE_SOURCE_PASSWORD": Servers.value("BOLT_PASSWORD")])
            #expect(graph.status == 2, "\(graph.output)")
            #expect(graph.stderr.contains("No space left on device"), "\(graph.stderr)")
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == 0)
            await source.close()
            await target.close()
        }
    }
}

/// Runs system tools for test fixtures.
enum Shell {
    struct Result {
        var status: Int32
        var output: String
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> Result {
        try await Task.detached { try runBlocking(executable, arguments) }.value
    }

    static func runBlocking(_ executable: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
