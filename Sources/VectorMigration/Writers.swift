import JSON
import MigrationCore
import Postgres
import Qdrant

/// Upserts records into Qdrant collections, `wait=true`, in requests bounded by point count and bytes. What a
/// cluster answers while shards move or a replica is lost (503, "no active replica", "Please retry") is retried
/// with backoff and counted.
struct CollectionWriter: BatchWriter {
    let configuration: QdrantConfiguration
    let jobs: [String: VectorJob]
    let maxRequestBytes: Int
    /// Where points the target acknowledged but does not hold are listed; without one they fail the batch.
    let deadLetters: DeadLetterFile?
    /// The `ordering` of upserts (`nil`: Qdrant's default, weak).
    let ordering: WriteOrdering?
    /// How upserts refused while shards move are retried.
    private let retry = RetryPolicy()
    private var client: QdrantClient?

    /// The tally entry that counts upserts retried after a cluster refused them.
    static let retriedUpserts = "upserts retried while the cluster moved shards"

    init(configuration: QdrantConfiguration, jobs: [String: VectorJob], maxRequestBytes: Int, deadLetters: DeadLetterFile?,
         ordering: WriteOrdering?) {
        self.configuration = configuration
        self.jobs = jobs
        self.maxRequestBytes = maxRequestBytes
        self.deadLetters = deadLetters
        self.ordering = ordering
    }

    mutating func reset() async {
        await client?.close()
        client = nil
    }

    mutating func write(_ records: [VectorRecord], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: records.count)
        guard !records.isEmpty else { return outcome }
        guard let job = jobs[partition], case .collection(let collection) = job.target else {
            preconditionFailure("no target collection planned for \(partition)")
        }
        let client = self.client ?? QdrantClient(configuration)
        self.client = client
        var body: [UInt8] = []
        var sent: [VectorRecord] = []
        var lost: [VectorRecord] = []
        var retried = 0
        let ordering = self.ordering, retry = self.retry
        func flush() async throws {
            guard !sent.isEmpty else { return }
            body.append(contentsOf: "]}".utf8)
            try await retry.run(isTransient: { ($0 as? QdrantError)?.isShardMovement == true }, onRetry: { _, _ in retried += 1 }) {
                try await client.upsert(collection, body: body, ordering: ordering)
            }
            // "completed" is the target's word; the points it holds are the proof.
            let held = Set(try await client.heldIDs(collection, ids: sent.map(\.id)).map(UUIDText.canonical))
            lost += sent.filter { !held.contains(UUIDText.canonical($0.id)) }
            outcome.bytes += body.count
            body.removeAll(keepingCapacity: true)
            sent.removeAll(keepingCapacity: true)
        }
        var point: [UInt8] = []
        for record in records {
            point.removeAll(keepingCapacity: true)
            record.writePoint(into: &point)
            if point.count + 16 > maxRequestBytes {
                throw InvalidRecord(key: record.key, reason: "the point alone is \(point.count) bytes, over the \(maxRequestBytes)-byte request limit")
            }
            if !sent.isEmpty && body.count + point.count + 3 > maxRequestBytes {
                try await flush()
            }
            body.append(contentsOf: sent.isEmpty ? Array(#"{"points":["#.utf8) : [UInt8(ascii: ",")])
            body.append(contentsOf: point)
            sent.append(record)
            outcome.checksum.add(digest: record.checksumDigest(approximate: job.normalizedVectors))
        }
        try await flush()
        if retried > 0 { outcome.tally.add(Self.retriedUpserts, retried) }
        outcome.ledger.selected(partition, records.count)
        outcome.ledger.written(partition, records.count - lost.count)
        if !lost.isEmpty {
            let error = VectorMigrationError.lostPoints(collection: collection, records: lost.map { ($0.key, UUIDText.canonical($0.id)) })
            guard let deadLetters else { throw error }
            let reason = "\(collection) acknowledged the upsert (wait=true, status completed) but does not hold the point"
            try await deadLetters.append(lines: lost.map { record in
                JSONWriter.text(.object([("unit", .string(partition)), ("collection", .string(collection)), ("point", .string(UUIDText.canonical(record.id))),
                                         ("key", .array(record.key.map { .string($0) })), ("reason", .string(reason))]))
            })
            outcome.ledger.refused(partition, lost.count)
            outcome.problems.append("\(error)")
        }
        outcome.tally.add("points", records.count - lost.count)
        outcome.tally.add("collection \(collection)", records.count - lost.count)
        if let tenant = job.mapping.tenant {
            for record in records {
                let value = record.payload.first { $0.0 == tenant }?.1.string ?? "(none)"
                outcome.tally.add("tenant \(job.name)\u{1F}\(value)")
            }
        }
        return outcome
    }
}

/// Writes records into PostgreSQL tables: binary COPY into a staging table, then one
/// `INSERT … ON CONFLICT (key) DO UPDATE`, in a transaction, so a rerun overwrites instead of duplicating.
struct TableWriter: BatchWriter {
    let configuration: PostgresConfiguration
    let jobs: [String: VectorJob]
    let targets: [String: TargetTable]
    private var connection: PostgresConnection?
    private var staged: Set<String> = []

    init(configuration: PostgresConfiguration, jobs: [String: VectorJob], targets: [String: TargetTable]) {
        self.configuration = configuration
        self.jobs = jobs
        self.targets = targets
    }

    mutating func reset() async {
        await connection?.close()
        connection = nil
        staged = []
    }

    mutating func write(_ records: [VectorRecord], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: records.count)
        guard !records.isEmpty else { return outcome }
        // Every job has its target table from the plan; without one, the rows would be counted and dropped.
        guard let target = targets[partition], let job = jobs[partition] else {
            preconditionFailure("no target table planned for \(partition)")
        }
        let connection: PostgresConnection
        if let existing = self.connection {
            connection = existing
        } else {
            connection = try await PostgresConnection.connect(configuration)
            self.connection = connection
        }
        let staging = "migrate_stage_" + String(target.table.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_") }.prefix(40))
        if !staged.contains(staging) {
            try await connection.execute("CREATE TEMP TABLE IF NOT EXISTS \(staging) (LIKE \(target.qualifiedName)) ON COMMIT DELETE ROWS")
            staged.insert(staging)
        }
        var encoder = CopyBinaryEncoder()
        for record in records {
            encoder.appendRow(try target.fields(for: record))
            outcome.checksum.add(digest: record.checksumDigest(approximate: job.normalizedVectors))
        }
        let data = encoder.finish()
        try await connection.execute("BEGIN")
        do {
            try await connection.startCopyIn("COPY \(staging) (\(target.columns.map(quoteIdentifier).joined(separator: ", "))) FROM STDIN (FORMAT binary)")
            try await connection.writeCopy(data)
            try await connection.finishCopyIn()
            let affected = try await connection.executeCountingRows(target.upsertStatement(from: staging))
            try await connection.execute("COMMIT")
            outcome.ledger.selected(partition, records.count)
            // DO UPDATE touches every staged row; DO NOTHING (a table of key columns only) leaves the rows already there.
            outcome.ledger.written(partition, min(affected, records.count))
            if affected < records.count {
                outcome.ledger.skipped(partition, rule: "already on the target with the same key (ON CONFLICT DO NOTHING)", records.count - affected)
            }
        } catch {
            try? await connection.execute("ROLLBACK")
            throw error
        }
        outcome.bytes = data.count
        outcome.tally.add("rows", records.count)
        outcome.tally.add("table \(target.table)", records.count)
        return outcome
    }
}

/// A PostgreSQL target table: either the source table's own columns (rows travel as they are), or the
/// generic layout for points from Qdrant (`id`, one column per vector, `payload jsonb`).
struct TargetTable: Sendable {
    var schema: String
    var table: String
    var columns: [String]
    var key: [String]
    /// Whether rows travel as the source's binary fields.
    var mirrorsSource: Bool
    /// For the generic layout: the vector names (in column order) and whether each is half precision.
    var vectorColumns: [(name: String?, column: String)]
    /// For a mirrored source table: the definition it is held to, whose indexes and deferred constraints are
    /// created after the bulk load.
    var definition: TableDefinition?

    var qualifiedName: String { "\(quoteIdentifier(schema)).\(quoteIdentifier(table))" }

    func fields(for record: VectorRecord) throws -> [[UInt8]?] {
        if mirrorsSource {
            guard let raw = record.rawFields else { throw InvalidRecord(key: record.key, reason: "no source fields to copy") }
            return raw
        }
        var fields: [[UInt8]?] = [Array(UUIDText.canonical(record.id).utf8)]
        for vector in vectorColumns {
            guard let data = record.vectors.first(where: { $0.name == vector.name })?.data else {
                fields.append(nil)
                continue
            }
            switch data {
            case .dense(let values): fields.append(PostgresBinary.encodeVector(values))
            case .multi:
                throw InvalidRecord(key: record.key, reason: "vector \(vector.name ?? "(unnamed)") is a multivector, which pgvector has no column type for; leave it out of the mapping's vectors")
            case .sparse(let indices, let values):
                let dimensions = Int(indices.max() ?? 0) + 1
                fields.append(PostgresBinary.encodeSparseVector(dimensions: dimensions, indices: indices.map { Int32(bitPattern: $0) }, values: values))
            }
        }
        fields.append(PostgresBinary.encodeJSONB(JSONWriter.text(.object(record.payload))))
        return fields
    }

    func upsertStatement(from staging: String) -> String {
        let quoted = columns.map(quoteIdentifier)
        let updates = columns.filter { !key.contains($0) }.map { "\(quoteIdentifier($0)) = EXCLUDED.\(quoteIdentifier($0))" }
        return """
            INSERT INTO \(qualifiedName) (\(quoted.joined(separator: ", "))) SELECT \(quoted.joined(separator: ", ")) FROM \(staging)
            ON CONFLICT (\(key.map(quoteIdentifier).joined(separator: ", "))) \(updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET " + updates.joined(separator: ", "))
            """
    }
}
