import BlockingIO
#if canImport(Glibc)
import Glibc
#endif
import CLibPQ
import Transport

/// Where and how to open a PostgreSQL connection.
public struct PostgresConfiguration: Sendable, Hashable {
    /// How TLS is used (libpq's `sslmode`).
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// The server.
    public var endpoint: Endpoint
    /// The database.
    public var database: String
    /// The user.
    public var user: String
    /// The password.
    public var password: Secret?
    /// TLS mode.
    public var tlsMode: TLSMode
    /// A CA file to verify the server against (`sslrootcert`).
    public var caFile: String?
    /// Seconds allowed to connect.
    public var connectTimeoutSeconds: Int
    /// Whether the connection is a logical replication connection (`replication=database`), which takes
    /// replication commands and simple queries (``PostgresConnection/simpleQuery(_:)``) only.
    public var replication = false

    /// Creates a configuration.
    public init(endpoint: Endpoint, database: String, user: String, password: Secret? = nil,
                tlsMode: TLSMode = .prefer, caFile: String? = nil, connectTimeoutSeconds: Int = 10) {
        self.endpoint = endpoint
        self.database = database
        self.user = user
        self.password = password
        self.tlsMode = tlsMode
        self.caFile = caFile
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}

/// The rows of a query, in PostgreSQL's binary format.
public struct PostgresRows: Sendable {
    /// Column names.
    public var columns: [String]
    /// Column type OIDs.
    public var types: [UInt32]
    /// Each row's fields: `nil` for SQL NULL, else the field's binary bytes.
    public var rows: [[[UInt8]?]]

    /// The text of field `column` in row `row` (for queries whose columns are text).
    public func text(_ row: Int, _ column: Int) -> String? {
        rows[row][column].map { String(decoding: $0, as: UTF8.self) }
    }
}

/// One libpq connection. Every libpq call runs on the connection's own ``BlockingQueue``; a connection
/// belongs to one task at a time. libpq handles stay inside this file.
public final class PostgresConnection: @unchecked Sendable {
    /// The server.
    public let endpoint: Endpoint
    let queue: BlockingQueue
    // Touched only on `queue`.
    var connection: OpaquePointer?
    private var copyInProgress = false

    private init(endpoint: Endpoint, connection: OpaquePointer, queue: BlockingQueue) {
        self.endpoint = endpoint
        self.connection = connection
        self.queue = queue
    }

    /// Connects. The password is passed to libpq as a parameter, never in a connection string.
    public static func connect(_ configuration: PostgresConfiguration) async throws(PostgresError) -> PostgresConnection {
        let queue = BlockingQueue(label: "migrate.postgres.\(configuration.endpoint)")
        let result: Result<PostgresConnection, PostgresError> = await queue.run {
            var parameters: [(String, String)] = [
                ("host", configuration.endpoint.host),
                ("port", String(configuration.endpoint.port)),
                ("dbname", configuration.database),
                ("user", configuration.user),
                ("sslmode", configuration.tlsMode.rawValue),
                ("connect_timeout", String(configuration.connectTimeoutSeconds)),
                ("application_name", "migrate"),
                ("client_encoding", "UTF8"),
            ]
            if let password = configuration.password { parameters.append(("password", password.reveal())) }
            if let caFile = configuration.caFile { parameters.append(("sslrootcert", caFile)) }
            if configuration.replication { parameters.append(("replication", "database")) }
            let connection = withCStrings(parameters.map(\.0)) { keywords in
                withCStrings(parameters.map(\.1)) { values in
                    PQconnectdbParams(keywords, values, 0)
                }
            }
            guard let connection else {
                return .failure(.connectionFailed(configuration.endpoint, reason: "out of memory"))
            }
            guard PQstatus(connection) == CONNECTION_OK else {
                let reason = String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace()
                PQfinish(connection)
                return .failure(.connectionFailed(configuration.endpoint, reason: reason))
            }
            return .success(PostgresConnection(endpoint: configuration.endpoint, connection: connection, queue: queue))
        }
        return try result.get()
    }

    deinit {
        if let connection { PQfinish(connection) }
    }

    /// Closes the connection.
    public func close() async {
        await queue.run {
            if let connection = self.connection { PQfinish(connection) }
            self.connection = nil
        }
    }

    /// Runs `sql` with text parameters `$1…` and returns rows in binary format.
    public func query(_ sql: String, _ parameters: [String?] = []) async throws(PostgresError) -> PostgresRows {
        let result: Result<PostgresRows, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in try self.runQuery(sql, parameters) }
        }
        return try result.get()
    }

    /// Runs statements that return no rows (several may be separated by `;` when there are no parameters).
    public func execute(_ sql: String) async throws(PostgresError) {
        _ = try await executeCountingRows(sql)
    }

    /// Runs statements that return no rows and returns the rows the last one affected (`INSERT 0 n` → n).
    public func executeCountingRows(_ sql: String) async throws(PostgresError) -> Int {
        let result: Result<Int, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                let raw = PQexec(connection, sql)
                defer { PQclear(raw) }
                try self.check(raw, statement: Self.summary(sql))
                return Int(String(cString: PQcmdTuples(raw))) ?? 0
            }
        }
        return try result.get()
    }

    /// Quotes `text` as an SQL literal.
    public func literal(_ text: String) async throws(PostgresError) -> String {
        let result: Result<String, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                guard let quoted = PQescapeLiteral(connection, text, text.utf8.count) else {
                    throw .malformed(String(cString: PQerrorMessage(connection)))
                }
                defer { PQfreemem(quoted) }
                return String(cString: quoted)
            }
        }
        return try result.get()
    }

    // MARK: COPY

    /// Starts `COPY … TO STDOUT (FORMAT binary)`; read it with ``readCopy(maxBytes:)``.
    public func startCopyOut(_ sql: String) async throws(PostgresError) {
        try await startCopy(sql, expecting: PGRES_COPY_OUT)
    }

    /// Reads COPY data until about `maxBytes` have arrived or the COPY ends; returns the bytes and whether it
    /// ended. The bytes are raw binary COPY data, to feed to a ``CopyBinaryDecoder``.
    public func readCopy(maxBytes: Int) async throws(PostgresError) -> (bytes: [UInt8], finished: Bool) {
        let result: Result<([UInt8], Bool), PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                var bytes: [UInt8] = []
                while bytes.count < maxBytes {
                    var buffer: UnsafeMutablePointer<CChar>?
                    let length = PQgetCopyData(connection, &buffer, 0)
                    if length > 0, let buffer {
                        buffer.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
                            bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: Int(length)))
                        }
                        PQfreemem(buffer)
                    } else if length == -1 {
                        self.copyInProgress = false
                        try self.drainResults(statement: "COPY")
                        return (bytes, true)
                    } else {
                        self.copyInProgress = false
                        throw .connectionLost(self.endpoint, reason: String(cString: PQerrorMessage(connection)))
                    }
                }
                return (bytes, false)
            }
        }
        return try result.get()
    }

    /// Starts `COPY … FROM STDIN (FORMAT binary)`; send with ``writeCopy(_:)``, end with ``finishCopyIn()``.
    public func startCopyIn(_ sql: String) async throws(PostgresError) {
        try await startCopy(sql, expecting: PGRES_COPY_IN)
    }

    /// Sends COPY data.
    public func writeCopy(_ bytes: [UInt8]) async throws(PostgresError) {
        let result: Result<Void, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                let status = bytes.withUnsafeBufferPointer {
                    $0.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
                }
                if status != 1 {
                    throw .connectionLost(self.endpoint, reason: String(cString: PQerrorMessage(connection)))
                }
            }
        }
        try result.get()
    }

    /// Ends a COPY FROM STDIN and reports the server's verdict.
    public func finishCopyIn() async throws(PostgresError) {
        let result: Result<Void, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                self.copyInProgress = false
                guard PQputCopyEnd(connection, nil) == 1 else {
                    throw .connectionLost(self.endpoint, reason: String(cString: PQerrorMessage(connection)))
                }
                try self.drainResults(statement: "COPY … FROM STDIN")
            }
        }
        try result.get()
    }

    // MARK: On the queue

    func live() throws(PostgresError) -> OpaquePointer {
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            throw .connectionLost(endpoint, reason: connection.map { String(cString: PQerrorMessage($0)) } ?? "closed")
        }
        return connection
    }

    private func startCopy(_ sql: String, expecting status: ExecStatusType) async throws(PostgresError) {
        let result: Result<Void, PostgresError> = await queue.run {
            Result { () throws(PostgresError) in
                let connection = try self.live()
                let raw = PQexec(connection, sql)
                defer { PQclear(raw) }
                guard PQresultStatus(raw) == status else {
                    try self.check(raw, statement: Self.summary(sql))
                    throw .malformed("COPY did not start")
                }
                self.copyInProgress = true
            }
        }
        try result.get()
    }

    private func runQuery(_ sql: String, _ parameters: [String?]) throws(PostgresError) -> PostgresRows {
        let connection = try live()
        let raw = withOptionalCStrings(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 1)
        }
        defer { PQclear(raw) }
        try check(raw, statement: Self.summary(sql))
        let fieldCount = Int(PQnfields(raw))
        let rowCount = Int(PQntuples(raw))
        let columns = (0..<fieldCount).map { String(cString: PQfname(raw, Int32($0))) }
        let types = (0..<fieldCount).map { UInt32(PQftype(raw, Int32($0))) }
        var rows: [[[UInt8]?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var fields: [[UInt8]?] = []
            fields.reserveCapacity(fieldCount)
            for field in 0..<fieldCount {
                if PQgetisnull(raw, Int32(row), Int32(field)) == 1 {
                    fields.append(nil)
                } else {
                    let length = Int(PQgetlength(raw, Int32(row), Int32(field)))
                    let value = PQgetvalue(raw, Int32(row), Int32(field))!
                    fields.append(value.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) })
                }
            }
            rows.append(fields)
        }
        return PostgresRows(columns: columns, types: types, rows: rows)
    }

    func drainResults(statement: String) throws(PostgresError) {
        let connection = try live()
        var failure: PostgresError?
        while let raw = PQgetResult(connection) {
            do { try check(raw, statement: statement) } catch { failure = failure ?? error }
            PQclear(raw)
        }
        if let failure { throw failure }
    }

    func check(_ raw: OpaquePointer?, statement: String) throws(PostgresError) {
        guard let raw else {
            throw .connectionLost(endpoint, reason: connection.map { String(cString: PQerrorMessage($0)) } ?? "closed")
        }
        switch PQresultStatus(raw) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_OUT, PGRES_COPY_IN, PGRES_COPY_BOTH, PGRES_EMPTY_QUERY:
            return
        default:
            func field(_ code: Int32) -> String? {
                PQresultErrorField(raw, code).map { String(cString: $0) }
            }
            guard let sqlState = field(Int32(UInt8(ascii: "C"))) else {
                throw .connectionLost(endpoint, reason: String(cString: PQresultErrorMessage(raw)).trimmingTrailingWhitespace())
            }
            throw .server(sqlState: sqlState, message: field(Int32(UInt8(ascii: "M"))) ?? "",
                          detail: field(Int32(UInt8(ascii: "D"))), hint: field(Int32(UInt8(ascii: "H"))), statement: statement)
        }
    }

    /// The first words of a statement, for messages.
    static func summary(_ sql: String) -> String {
        let words = sql.split(whereSeparator: \.isWhitespace).prefix(6).joined(separator: " ")
        return words.count < sql.count ? words + " …" : words
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated = strings.map { strdup($0) }
    defer { duplicated.forEach { free($0) } }
    var pointers = duplicated.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let duplicated = strings.map { $0.map { strdup($0) } ?? nil }
    defer { duplicated.forEach { free($0) } }
    var pointers = duplicated.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var text = self
        while text.last?.isWhitespace == true { text.removeLast() }
        return text
    }
}
