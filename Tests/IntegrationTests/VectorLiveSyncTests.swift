import Foundation
import MigrationCore
import Postgres
import Qdrant
import Testing

extension Integration {
    /// `migrate vectors --live`: the full copy, then changed rows by their updated-at column, until SIGINT; kill -9
    /// during the live phase and `--resume` misses nothing.
    @Suite struct VectorLiveSync {
        static let environment = ["MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword, "MIGRATE_TARGET_API_KEY": VectorServers.apiKey]

        static func arguments(_ directory: String) -> [String] {
            ["vectors", "--source", VectorServers.pgSource, "--target", VectorServers.qdrantTarget, "--table", "live_vectors",
             "--live", "--changed-column", "update_time", "--poll-interval", "1", "--checkpoint-dir", directory, "--json"]
        }

        /// Waits until `condition` holds, for at most 30 s.
        static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if try await condition() { return }
                try await Task.sleep(for: .milliseconds(200))
            }
            Issue.record("timed out waiting until \(what)")
        }

        static func verify() async throws -> CLI.Result {
            try await CLI.run(["verify", "vectors", "--source", VectorServers.pgSource, "--target", VectorServers.qdrantTarget,
                               "--table", "live_vectors"], environment: environment)
        }

        @Test func changesDuringAndAfterTheCopyArriveAndResumeMissesNone() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await connection.execute("""
                DROP TABLE IF EXISTS live_vectors;
                CREATE TABLE live_vectors (id int PRIMARY KEY, v vector(4), note text, update_time timestamptz NOT NULL DEFAULT now());
                INSERT INTO live_vectors SELECT i, ARRAY[i, 1, 2, 3]::real[]::vector, 'row ' || i, now() - interval '1 day' FROM generate_series(1, 3000) AS i;
                """)
            let qdrant = VectorServers.client(VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey))
            _ = try? await qdrant.deleteCollection("live_vectors")
            let directory = checkpointDirectory()

            // Throttled, so rows change while the full copy runs.
            let (process, out, _) = try CLI.start(Self.arguments(directory) + ["--rate", "1500"], environment: Self.environment)
            try await Task.sleep(for: .milliseconds(500))
            try await connection.execute("UPDATE live_vectors SET note = 'changed during the copy', update_time = now() WHERE id % 100 = 0")
            try await Self.eventually("the copy has 3,000 points") { (try? await qdrant.count("live_vectors")) == 3000 }
            try await connection.execute("""
                UPDATE live_vectors SET v = '[9,9,9,9]', note = 'changed after the copy', update_time = now() WHERE id <= 10;
                INSERT INTO live_vectors SELECT i, ARRAY[i, 1, 2, 3]::real[]::vector, 'new ' || i, now() FROM generate_series(3001, 3020) AS i;
                """)
            try await Self.eventually("the new rows arrive") { (try? await qdrant.count("live_vectors")) == 3020 }
            kill(process.processIdentifier, SIGINT)
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(output)")
            let report = try #require(output.split(separator: "\n").last { $0.contains("\"event\":\"report\"") })
            #expect(report.contains("\"live applied\":"), "\(report)")
            let equal = try await Self.verify()
            #expect(equal.status == 0, "\(equal.output)")

            // kill -9 in the live phase; what changes while it is down arrives after --resume.
            let (killed, _, _) = try CLI.start(Self.arguments(directory) + ["--resume"], environment: Self.environment)
            try await Task.sleep(for: .seconds(2))
            kill(killed.processIdentifier, SIGKILL)
            killed.waitUntilExit()
            try await connection.execute("UPDATE live_vectors SET note = 'changed while migrate was down', update_time = now() WHERE id BETWEEN 500 AND 520")
            #expect(try await Self.verify().status == 3, "the target lags until the sync resumes")
            let resumed = try await CLI.run(Self.arguments(directory) + ["--resume", "--live-for", "2"], environment: Self.environment)
            #expect(resumed.status == 0, "\(resumed.output)")
            let after = try await Self.verify()
            #expect(after.status == 0, "\(after.output)")
            await qdrant.close()
            await connection.close()
        }

        @Test func aPostgreSQLTargetReceivesTheChanges() async throws {
            let source = try await VectorServers.connect(VectorServers.pgSource)
            try await source.execute("""
                DROP TABLE IF EXISTS live_rows;
                CREATE TABLE live_rows (id int PRIMARY KEY, v vector(4), note text, update_time timestamptz NOT NULL DEFAULT now());
                INSERT INTO live_rows SELECT i, '[1,2,3,4]', 'row ' || i, now() - interval '1 day' FROM generate_series(1, 200) AS i;
                """)
            let target = try await VectorServers.connect(VectorServers.pgTarget)
            try await target.execute("DROP TABLE IF EXISTS live_rows")
            let arguments = ["vectors", "--source", VectorServers.pgSource, "--target", VectorServers.pgTarget, "--table", "live_rows", "--create-tables",
                             "--live", "--changed-column", "update_time", "--poll-interval", "1", "--checkpoint-dir", checkpointDirectory()]
            let (process, out, _) = try CLI.start(arguments, environment: ["MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword,
                                                                             "MIGRATE_TARGET_PASSWORD": VectorServers.pgPassword])
            func note(_ id: Int) async throws -> String? {
                guard let rows = try? await target.query("SELECT note FROM live_rows WHERE id = \(id)"), !rows.rows.isEmpty else { return nil }
                return rows.text(0, 0)
            }
            try await Self.eventually("the copy has row 200") { try await note(200) == "row 200" }
            try await source.execute("UPDATE live_rows SET note = 'changed', update_time = now() WHERE id = 7")
            try await Self.eventually("the change arrives") { try await note(7) == "changed" }
            kill(process.processIdentifier, SIGINT)
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(output)")
            #expect(try await note(7) == "changed")
            await source.close()
            await target.close()
        }

        @Test func aMissingChangedColumnIsRefusedBeforeAnyWrite() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await connection.execute("""
                DROP TABLE IF EXISTS live_vectors;
                CREATE TABLE live_vectors (id int PRIMARY KEY, v vector(4));
                INSERT INTO live_vectors SELECT i, '[1,2,3,4]' FROM generate_series(1, 10) AS i;
                """)
            await connection.close()
            let qdrant = VectorServers.client(VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey))
            _ = try? await qdrant.deleteCollection("live_vectors")
            let result = try await CLI.run(Self.arguments(checkpointDirectory()), environment: Self.environment)
            #expect(result.status == 2, "\(result.output)")
            #expect(result.stderr.contains("update_time") && result.stderr.contains("--changed-column"), "\(result.stderr)")
            #expect(try await qdrant.collectionNames().contains("live_vectors") == false)
            await qdrant.close()
        }
    }
}
