import Foundation
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

extension Integration {
    /// No secret in any output, log line (at trace level), report, checkpoint, dead-letter file or the process
    /// list, for every store's copy and verification, whether the secret came in a URI or the environment.
    @Suite struct Secrets {
        /// Runs `arguments`, reading the process's command line while it runs; returns everything it showed.
        static func exposure(_ arguments: [String], environment: [String: String], directory: String) async throws -> (status: Int32, shown: String) {
            let (process, out, err) = try CLI.start(arguments + ["--log-level", "trace", "--report", directory + "/report-\(UUID().uuidString).json"],
                                                    environment: environment)
            async let stdout = Task.detached { out.fileHandleForReading.readDataToEndOfFile() }.value
            async let stderr = Task.detached { err.fileHandleForReading.readDataToEndOfFile() }.value
            // A password typed in a URI is in the process list from exec until `migrate` masks it, before it parses
            // its arguments: sample the list from 100 ms on (the README says to prefer the environment or files).
            try await Task.sleep(for: .milliseconds(100))
            var commandLines = ""
            while process.isRunning {
                commandLines += ((try? String(contentsOfFile: "/proc/\(process.processIdentifier)/cmdline", encoding: .utf8)) ?? "") + "\n"
                try await Task.sleep(for: .milliseconds(50))
            }
            let output = String(decoding: await stdout + stderr, as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, output + commandLines)
        }

        /// The text just before `secret` in `text`, if it is there.
        static func context(of secret: String, in text: String) -> String? {
            let range = (text as NSString).range(of: secret)
            guard range.location != NSNotFound else { return nil }
            let start = max(0, range.location - 120)
            return (text as NSString).substring(with: NSRange(location: start, length: range.location - start))
        }

        @Test func noSecretAnywhereForAnyStore() async throws {
            let directory = checkpointDirectory()
            let source = try await Servers.client(Servers.source)
            try await source.flushAll()
            for start in stride(from: 0, to: 3000, by: 1000) {
                _ = try await source.pipeline((start..<(start + 1000)).map { KeyedCommand(key: nil, RESPCommand("SET", "k:\($0)", "v")) })
            }
            await source.close()
            let tls = try await Servers.client(Servers.tls, user: Servers.tlsUser, password: Servers.tlsPassword, ca: Servers.tlsCA)
            try await tls.flushAll()
            await tls.close()
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await createLightRAGTables(connection, dimensions: 8, rows: 100, suffix: "_secrets_8d")
            await connection.close()
            try await VectorServers.clear(VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey))
            _ = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 150)
            try await GraphServers.admin("/reset", iam: true)

            let tlsTarget = Servers.tls.replacingOccurrences(of: "rediss://", with: "rediss://\(Servers.tlsUser):\(Servers.tlsPassword)@")
            let pgSource = VectorServers.pgSource.replacingOccurrences(of: "postgres://migrate@", with: "postgres://migrate:\(VectorServers.pgPassword)@")
            let bolt = Servers.value("BOLT_URL").replacingOccurrences(of: "bolt://", with: "bolt://\(Servers.value("BOLT_USER")):\(Servers.value("BOLT_PASSWORD"))@")
            let aws = ["AWS_ACCESS_KEY_ID": Servers.value("NEPTUNE_ACCESS_KEY_ID"), "AWS_SECRET_ACCESS_KEY": Servers.value("NEPTUNE_SECRET_ACCESS_KEY"),
                       "AWS_SESSION_TOKEN": Servers.value("NEPTUNE_SESSION_TOKEN"), "AWS_REGION": Servers.value("NEPTUNE_REGION")]
            let secrets = [Servers.tlsPassword, VectorServers.pgPassword, Servers.value("BOLT_PASSWORD"), VectorServers.apiKey,
                           Servers.value("NEPTUNE_SECRET_ACCESS_KEY"), Servers.value("NEPTUNE_SESSION_TOKEN")]
            let keys = ["--source", Servers.source, "--target", tlsTarget, "--target-ca-file", Servers.tlsCA]
            let vectors = ["--source", pgSource, "--target", VectorServers.qdrantTarget, "--mapping", "mappings/lightrag.yaml"]
            let graph = ["--source", bolt, "--target", Servers.value("NEPTUNE_IAM_URL"), "--iam", "--target-ca-file", Servers.value("GRAPH_CA"),
                         "--mapping", "mappings/lightrag-graph.yaml"]
            let apiKey = ["MIGRATE_TARGET_API_KEY": VectorServers.apiKey]
            let runs: [(String, [String], [String: String], Int32)] = [
                ("redis", ["redis"] + keys + ["--rate", "1500", "--checkpoint-dir", directory], [:], 0),
                ("verify redis", ["verify", "redis"] + keys + ["--batch", "100"], [:], 0),
                ("vectors", ["vectors"] + vectors + ["--rate", "300", "--checkpoint-dir", directory, "--json"], apiKey, 0),
                ("verify vectors", ["verify", "vectors"] + vectors, apiKey, 0),
                ("graph", ["graph"] + graph + ["--rate", "300", "--checkpoint-dir", directory], aws, 0),
                ("verify graph", ["verify", "graph"] + graph, aws, 0),
                ("a refused password", ["redis", "--source", Servers.source, "--target", tlsTarget.replacingOccurrences(of: "@", with: "x@"), "--target-ca-file", Servers.tlsCA,
                                        "--checkpoint-dir", directory, "--fresh"], [:], 2),
            ]
            for (name, arguments, environment, expected) in runs {
                let (status, shown) = try await Self.exposure(arguments, environment: environment, directory: directory)
                #expect(status == expected, "\(name): \(shown)")
                for secret in secrets {
                    let context = Self.context(of: secret, in: shown)
                    #expect(context == nil, "\(name) showed a secret after: \(context ?? "")")
                }
            }
            // Reports, checkpoints and dead-letter files.
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
                let contents = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
                for secret in secrets {
                    #expect(!contents.contains(secret), "\(file) holds a secret")
                }
            }
        }
    }
}
