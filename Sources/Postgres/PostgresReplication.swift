#if canImport(Glibc)
import Glibc
#endif
import CLibPQ

/// A logical replication slot as `CREATE_REPLICATION_SLOT` made it.
public struct ReplicationSlot: Sendable, Hashable {
    /// The slot's name.
    public var name: String
    /// The LSN from which the slot streams changes: everything before it is in the exported snapshot.
    public var consistentPoint: LSN
    /// The exported snapshot (`SET TRANSACTION SNAPSHOT '…'`), valid until this connection runs its next command.
    public var snapshot: String?
}

/// Logical replication over a `replication=database` connection (``PostgresConfiguration/replication``). Every
/// libpq call runs on the connection's ``BlockingIO/BlockingQueue``, never on the cooperative pool.
extension PostgresConnection {
    /// Runs `sql` with the simple query protocol (what a replication connection takes) and returns each row's
    /// fields as text.
    public func simpleQuery(_ sql: String) async throws(PostgresError) -> [[String?]] {
        let result: Result<[[String?]], PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                let raw = PQexec(connection, sql)
                defer { PQclear(raw) }
                try self.check(raw, statement: Self.summary(sql))
                return (0..<PQntuples(raw)).map { row in
                    (0..<PQnfields(raw)).map { field in
                        PQgetisnull(raw, row, field) == 1 ? nil : String(cString: PQgetvalue(raw, row, field))
                    }
                }
            }
        }
        return try result.get()
    }

    /// `CREATE_REPLICATION_SLOT name LOGICAL pgoutput`, exporting a snapshot when `exportSnapshot` (read the
    /// initial copy under it, on another connection, and copy and stream meet at ``ReplicationSlot/consistentPoint``).
    public func createLogicalSlot(_ name: String, exportSnapshot: Bool, temporary: Bool = false) async throws(PostgresError) -> ReplicationSlot {
        let rows = try await simpleQuery("CREATE_REPLICATION_SLOT \(quoted(name))\(temporary ? " TEMPORARY" : "") LOGICAL pgoutput (SNAPSHOT '\(exportSnapshot ? "export" : "nothing")')")
        guard let row = rows.first, row.count >= 3, let slot = row[0], let point = row[1].flatMap(LSN.init) else {
            throw .malformed("CREATE_REPLICATION_SLOT returned no slot and consistent point")
        }
        return ReplicationSlot(name: slot, consistentPoint: point, snapshot: row[2])
    }

    /// `START_REPLICATION SLOT name LOGICAL from` with pgoutput's `proto_version`, `publication_names` and, when
    /// `binary`, binary tuple data; then read with ``nextReplicationFrame(timeoutMilliseconds:)``.
    public func startLogicalReplication(slot: String, from start: LSN, publications: [String], protocolVersion: Int = 1,
                                        binary: Bool = false) async throws(PostgresError) {
        let names = publications.map { $0.replacingOccurrences(of: "\"", with: "\"\"") }.map { "\"\($0)\"" }.joined(separator: ",")
        var options = ["proto_version '\(protocolVersion)'", "publication_names '\(names.replacingOccurrences(of: "'", with: "''"))'"]
        if binary { options.append("binary 'true'") }
        let sql = "START_REPLICATION SLOT \(quoted(slot)) LOGICAL \(start) (\(options.joined(separator: ", ")))"
        let result: Result<Void, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                let raw = PQexec(connection, sql)
                defer { PQclear(raw) }
                guard PQresultStatus(raw) == PGRES_COPY_BOTH else {
                    try self.check(raw, statement: Self.summary(sql))
                    throw .malformed("START_REPLICATION did not start streaming")
                }
            }
        }
        try result.get()
    }

    /// The next message of the replication stream, or `nil` when none arrives within `timeoutMilliseconds`
    /// (time for a standby status update). Throws when the server ends the stream or the connection breaks.
    public func nextReplicationFrame(timeoutMilliseconds: Int32) async throws(PostgresError) -> ReplicationFrame? {
        let result: Result<ReplicationFrame?, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                var waited = false
                while true {
                    var buffer: UnsafeMutablePointer<CChar>?
                    let length = PQgetCopyData(connection, &buffer, 1)
                    if length > 0, let buffer {
                        defer { PQfreemem(buffer) }
                        let bytes = buffer.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { Array(UnsafeBufferPointer(start: $0, count: Int(length))) }
                        return try ReplicationFrame.decode(bytes)
                    }
                    if length == -1 {
                        try self.drainResults(statement: "START_REPLICATION")
                        throw .connectionLost(self.endpoint, reason: "the server ended the replication stream")
                    }
                    if length < -1 {
                        throw .connectionLost(self.endpoint, reason: String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace())
                    }
                    if waited { return nil }
                    var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
                    let ready = poll(&descriptor, 1, timeoutMilliseconds)
                    if ready < 0 && errno != EINTR { throw .connectionLost(self.endpoint, reason: String(cString: strerror(errno))) }
                    waited = ready <= 0
                    if ready > 0 && PQconsumeInput(connection) == 0 {
                        throw .connectionLost(self.endpoint, reason: String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace())
                    }
                }
            }
        }
        return try result.get()
    }

    /// Sends a standby status update: everything up to `flushed` is applied and durable on the target, so the
    /// slot may confirm it and the server recycle the WAL before it.
    public func sendStandbyStatus(flushed: LSN, replyRequested: Bool = false) async throws(PostgresError) {
        let micros = Int64((Double(time(nil)) - 946_684_800) * 1_000_000)
        let bytes = ReplicationFrame.standbyStatus(written: flushed, flushed: flushed, applied: flushed, sentAt: micros, replyRequested: replyRequested)
        let result: Result<Void, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                let sent = bytes.withUnsafeBufferPointer {
                    $0.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
                }
                guard sent == 1, PQflush(connection) == 0 else {
                    throw .connectionLost(self.endpoint, reason: String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace())
                }
            }
        }
        try result.get()
    }

    private func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
