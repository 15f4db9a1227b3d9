import JSON
import MigrationCore
import Postgres
import Qdrant

/// Streams a PostgreSQL table in key order with one binary COPY, resumable after the last key read.
struct TableReader: BatchReader {
    let connection: PostgresConnection
    let job: VectorJob
    let batchSize: Int
    /// Only rows changed within this window (`migrate vectors --live`), or every row.
    let window: ChangeWindow?
    /// `""` at the start, else the last key read as a JSON array of text.
    private(set) var position: String
    private var decoder = CopyBinaryDecoder()
    private var started = false
    private var copyEnded = false

    init(connection: PostgresConnection, job: VectorJob, batchSize: Int, position: String, window: ChangeWindow? = nil) {
        self.connection = connection
        self.job = job
        self.batchSize = batchSize
        self.position = position
        self.window = window
    }

    mutating func next() async throws -> ReadBatch<VectorRecord> {
        if !started {
            // Read in key order from the primary-key index rather than sorting wide rows.
            try await connection.execute("SET enable_sort = off")
            try await connection.startCopyOut("COPY (\(try await Self.select(job, after: position, connection: connection, window: window))) TO STDOUT (FORMAT binary)")
            started = true
        }
        var records: [VectorRecord] = []
        records.reserveCapacity(batchSize)
        while records.count < batchSize {
            if let row = try decoder.nextRow() {
                records.append(try job.record(fromRow: row))
                continue
            }
            if copyEnded || decoder.finished { break }
            let (bytes, ended) = try await connection.readCopy(maxBytes: 1 << 20)
            decoder.feed(bytes)
            copyEnded = ended
        }
        if let last = records.last {
            position = JSONWriter.text(.array(last.key.map { .string($0) }))
        }
        let done = records.count < batchSize && (copyEnded || decoder.finished)
        return ReadBatch(items: records, position: position, isLast: done)
    }

    /// `SELECT … FROM table [WHERE key > last AND shard AND changed within the window] ORDER BY key`.
    static func select(_ job: VectorJob, after position: String, connection: PostgresConnection, limit: Int? = nil,
                       window: ChangeWindow? = nil) async throws -> String {
        guard case .table(let schema) = job.source else { preconditionFailure("a table job") }
        var conditions: [String] = []
        // Qualified by the table's alias: the SELECT list also names the key columns' text casts.
        let keys = job.keyColumns.map { "source.\(quoteIdentifier($0))" }
        if !position.isEmpty, let values = try JSONParser.parse(position).array {
            // Typed literals keep the comparison in the key's own order, which the primary-key index serves.
            var literals: [String] = []
            for (name, value) in zip(job.keyColumns, values) {
                let type = schema.column(name)?.column.typeName ?? "text"
                literals.append("\(try await connection.literal(value.string ?? ""))::\(type)")
            }
            conditions.append("(\(keys.joined(separator: ", "))) > (\(literals.joined(separator: ", ")))")
        }
        if let shard = job.shard {
            conditions.append("(hashtext(concat_ws(chr(31), \(keys.map { "\($0)::text" }.joined(separator: ", "))))::int8 & 2147483647) % \(shard.count) = \(shard.index)")
        }
        if let window {
            let column = "source.\(quoteIdentifier(window.column))"
            if let after = window.after {
                conditions.append("\(column) > \(try await connection.literal(after))::\(window.type)")
            }
            conditions.append("\(column) <= \(try await connection.literal(window.through))::\(window.type)")
        }
        var sql = "SELECT \(job.selectList.joined(separator: ", ")) FROM \(schema.qualifiedName) AS source"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY " + keys.joined(separator: ", ")
        if let limit { sql += " LIMIT \(limit)" }
        return sql
    }
}

/// The rows whose updated-at column lies in `(after, through]`: what changed between two polls of a live sync.
struct ChangeWindow: Sendable {
    /// The updated-at column.
    var column: String
    /// Its PostgreSQL type, for the literals' casts.
    var type: String
    /// The high-water mark of the last poll (as text); `nil` when the table had no value yet.
    var after: String?
    /// This poll's high-water mark.
    var through: String
}

/// Scrolls a Qdrant collection in id order, resumable from the next page's offset.
struct CollectionReader: BatchReader {
    let client: QdrantClient
    let job: VectorJob
    let collection: String
    let batchSize: Int
    /// `""` at the start, `"end"` after the last page, else the next page's offset as JSON.
    private(set) var position: String

    init(client: QdrantClient, job: VectorJob, collection: String, batchSize: Int, position: String) {
        self.client = client
        self.job = job
        self.collection = collection
        self.batchSize = batchSize
        self.position = position
    }

    mutating func next() async throws -> ReadBatch<VectorRecord> {
        let offset = position.isEmpty ? nil : try JSONParser.parse(position)
        let page = try await client.scroll(collection, limit: batchSize, offset: offset)
        var records: [VectorRecord] = []
        for point in page.points {
            let record = try job.record(fromPoint: point)
            if let shard = job.shard, !shard.owns(record.key[0]) { continue }
            records.append(record)
        }
        position = page.next.map(JSONWriter.text) ?? "end"
        return ReadBatch(items: records, position: position, isLast: page.next == nil)
    }
}
