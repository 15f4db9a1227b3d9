import Foundation
import Postgres
import Testing
import Transport

/// A PostgreSQL with wal_level=logical of its own (scripts/pgoutput/logical-server.sh), for the replication reader.
struct LogicalServer {
    let directory: String
    let port: Int

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/pgoutput/logical-server.sh").path

    static func start() throws -> LogicalServer {
        let directory = "/tmp/migrate-logical-\(getpid())-\(UUID().uuidString.prefix(8))"
        let output = try run(["start", directory])
        guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw PostgresError.malformed("logical-server.sh start printed \(output)")
        }
        return LogicalServer(directory: directory, port: port)
    }

    func stop() { _ = try? Self.run(["stop", directory]) }

    func configuration(replication: Bool = false) -> PostgresConfiguration {
        var configuration = PostgresConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: port), database: "postgres", user: "postgres", tlsMode: .disable)
        configuration.replication = replication
        return configuration
    }

    private static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["PG_BIN": Servers.value("PG_BIN")]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw PostgresError.malformed("logical-server.sh \(arguments[0]) failed (\(process.terminationStatus))") }
        return String(decoding: data, as: UTF8.self)
    }
}

extension Integration {
    @Suite struct LogicalReplication {
        @Test func theStreamStartsWhereTheExportedSnapshotEndsAndTheSlotConfirmsWhatIsAcknowledged() async throws {
            let server = try LogicalServer.start()
            defer { server.stop() }
            let sql = try await PostgresConnection.connect(server.configuration())
            try await sql.execute("""
                CREATE EXTENSION vector;
                CREATE TABLE items (id int PRIMARY KEY, note text, embedding vector(3));
                CREATE PUBLICATION migrate_pub FOR TABLE items;
                INSERT INTO items SELECT i, 'before ' || i, '[1,2,3]' FROM generate_series(1, 3) AS i;
                """)
            let stream = try await PostgresConnection.connect(server.configuration(replication: true))
            let slot = try await stream.createLogicalSlot("migrate_test", exportSnapshot: true)
            let snapshot = try #require(slot.snapshot)
            // Written after the slot, each its own transaction: not in the snapshot, in the stream.
            for statement in ["INSERT INTO items VALUES (4, 'after', '[4,5,6]')", "UPDATE items SET note = 'changed' WHERE id = 1", "DELETE FROM items WHERE id = 2"] {
                try await sql.execute(statement)
            }
            let copy = try await PostgresConnection.connect(server.configuration())
            try await copy.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '\(snapshot)'")
            #expect(try await rowCount(copy, "items") == 3)
            try await copy.execute("COMMIT")
            await copy.close()
            // (TRUNCATE is not MVCC-safe: an older snapshot sees the table empty, so it comes after the copy.)
            try await sql.execute("TRUNCATE items")

            try await stream.startLogicalReplication(slot: slot.name, from: slot.consistentPoint, publications: ["migrate_pub"], protocolVersion: 2, binary: true)
            var decoder = PgoutputDecoder(protocolVersion: 2)
            var changes: [PgoutputMessage] = []
            var commits: [LSN] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while commits.count < 4, ContinuousClock.now < deadline {
                switch try await stream.nextReplicationFrame(timeoutMilliseconds: 500) {
                case .data(_, _, _, let bytes)?:
                    let message = try decoder.decode(bytes)
                    switch message {
                    case .commit(let commit, let end, _):
                        #expect(commit > slot.consistentPoint)
                        commits.append(end)
                    case .insert, .update, .delete, .truncate: changes.append(message)
                    default: break
                    }
                case .keepalive(_, _, true)?: try await stream.sendStandbyStatus(flushed: commits.last ?? slot.consistentPoint)
                case .keepalive?, nil: break
                }
            }
            #expect(commits.count == 4)
            let relation = try #require(changes.first.flatMap { if case .insert(_, let oid, _) = $0 { oid } else { nil } })
            #expect(changes.count == 4)
            if changes.count == 4 {
                #expect(changes[0] == .insert(xid: nil, relation: relation, row: [.binary([0, 0, 0, 4]), .binary(Array("after".utf8)),
                                                                                     .binary(PostgresBinary.encodeVector([4, 5, 6]))]))
                guard case .update(nil, relation, nil, let row) = changes[1] else { Issue.record("\(changes[1])"); return }
                #expect(row[0] == .binary([0, 0, 0, 1]) && row[1] == .binary(Array("changed".utf8)))
                #expect(changes[2] == .delete(xid: nil, relation: relation, old: .key([.binary([0, 0, 0, 2]), .null, .null])))
                #expect(changes[3] == .truncate(xid: nil, relations: [relation], cascade: false, restartIdentity: false))
            }

            // What is acknowledged becomes the slot's confirmed position.
            let confirmed = try #require(commits.last)
            try await stream.sendStandbyStatus(flushed: confirmed)
            var slotPosition: LSN?
            for _ in 0..<50 {
                slotPosition = try await sql.simpleQuery("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'migrate_test'").first?[0].flatMap { LSN($0 ?? "") }
                if slotPosition == confirmed { break }
                _ = try await stream.nextReplicationFrame(timeoutMilliseconds: 100)
            }
            #expect(slotPosition == confirmed)
            await stream.close()
            await sql.close()
        }
    }
}

/// `SELECT count(*)` of `table`.
private func rowCount(_ connection: PostgresConnection, _ table: String) async throws -> Int {
    Int(try await connection.simpleQuery("SELECT count(*) FROM \(table)").first?[0].flatMap { $0 } ?? "") ?? -1
}
