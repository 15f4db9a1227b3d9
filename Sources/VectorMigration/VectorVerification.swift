import Failures
import Foundation
import JSON
import MigrationCore
import Postgres
import Qdrant

/// `migrate verify vectors`: every source row must be on the target as the same point (id, vectors, payload);
/// counts per collection and tenant must agree; nearest-neighbour queries must return the same ids.
public struct VectorVerification: Sendable {
    /// Stores and mappings, as for the copy.
    public var settings: VectorRunSettings
    /// How many source vectors to use as nearest-neighbour queries.
    public var neighbourQueries: Int
    /// How many neighbours each query compares.
    public var neighbours: Int
    /// The least average overlap of the neighbour lists (1.0 = identical); HNSW on a real cluster may return
    /// slightly different neighbours than an exact search.
    public var minimumRecall: Double

    /// Creates a verification.
    public init(settings: VectorRunSettings, neighbourQueries: Int = 10, neighbours: Int = 10, minimumRecall: Double = 0.9) {
        self.settings = settings
        self.neighbourQueries = neighbourQueries
        self.neighbours = neighbours
        self.minimumRecall = minimumRecall
    }

    /// Compares and reports; the outcome is `mismatched` when anything differs.
    public func run() async throws -> MigrationReport {
        let startedAt = Date()
        let plan = try await VectorPlan.make(settings, targets: .skip)
        let jobs = Dictionary(uniqueKeysWithValues: plan.jobs.map { ($0.name, $0) })
        let settings = self.settings
        let probes = ProbeCollector(limit: neighbourQueries)
        let progress = ProgressReporter(phase: "verify vectors", unit: "rows", total: plan.estimatedRows, style: settings.progressStyle)
        await progress.start()
        let runner = PipelineRunner(configuration: .init(concurrency: settings.concurrency, isTransient: isTransient, problemLimit: 20), logger: settings.logger)
        let result = try await runner.run(
            partitions: plan.jobs.map { PartitionPlan(name: $0.name, initialPosition: "") },
            checkpoint: Checkpoint(migration: "verify vectors", fingerprint: ""),
            store: nil,
            progress: progress,
            makeReader: { name, position in try await openReader(jobs[name]!, settings: settings, position: position) },
            makeWriter: { CompareWriter(settings: settings, jobs: jobs, probes: probes) }
        )
        await progress.finish()

        var totals = result.checkpoint.tally
        var problems = result.problems
        var rows: [[String]] = []
        let targetCounts = try await countTargets(plan.jobs, tally: totals)
        for job in plan.jobs {
            let state = result.checkpoint.partitions[job.name]?.tally ?? Tally()
            let counted = targetCounts[job.name] ?? (total: 0, tenants: [:])
            let extra = settings.shard == nil ? max(0, counted.total - state["matched"] - state["differs"]) : 0
            if extra > 0 {
                totals.add("extra in target", extra)
                problems.append("extra in target: \(job.targetDisplay) holds \(extra) point(s) with no source row")
            }
            rows.append([job.sourceDisplay, job.targetDisplay, Format.count(state["source"]), Format.count(counted.total),
                         Format.count(state["matched"]), Format.count(state["missing in target"]), Format.count(state["differs"]), Format.count(extra)])
            for (tenant, count) in counted.tenants.sorted(by: { $0.key < $1.key }) {
                let expected = state["tenant \(tenant)"]
                if settings.shard == nil, expected != count {
                    totals.add("tenant count differs")
                    problems.append("tenant '\(tenant)' in \(job.targetDisplay): source \(expected), target \(count)")
                }
            }
        }
        let recall = try await neighbourRecall(await probes.samples, jobs: jobs)
        var sections = [MigrationReport.Section(title: "tables and collections",
                                                columns: ["source", "target", "source rows", "target points", "matched", "missing", "differ", "extra"], rows: rows)]
        let health = try await collectionHealth(plan.jobs)
        if !health.rows.isEmpty {
            sections.append(.init(title: "target collection health", columns: ["collection", "status", "shards", "replicas", "not active"], rows: health.rows))
        }
        for problem in health.problems {
            totals.add("collection not healthy")
            problems.append(problem)
        }
        if let recall {
            sections.append(.init(title: "nearest neighbours", columns: ["queries", "k", "average recall", "lowest recall"],
                                  rows: [[String(recall.queries), String(neighbours), String(format: "%.3f", recall.average), String(format: "%.3f", recall.lowest)]]))
            if recall.average < minimumRecall {
                totals.add("neighbour recall below minimum")
                problems.append(String(format: "nearest-neighbour recall %.3f is below the minimum %.3f", recall.average, minimumRecall))
            }
        }
        let differences = ["missing in target", "differs", "extra in target", "tenant count differs", "neighbour recall below minimum",
                           "collection not healthy"].reduce(0) { $0 + totals[$1] }
        return MigrationReport(
            command: "migrate verify vectors", source: settings.source.displayName, target: settings.target.displayName,
            outcome: differences == 0 ? .succeeded : .mismatched, startedAt: startedAt,
            totals: totals.excluding(["tenant "]), checksum: result.checkpoint.checksum, sections: sections, problems: problems
        )
    }

    /// Each Qdrant target collection's status (`GET /collections/{name}`) and the state of every shard replica
    /// (`GET /collections/{name}/cluster`): a collection that is not green, or has a replica that is not
    /// `Active` (dead, partial, still initializing, a transfer under way), is a problem.
    private func collectionHealth(_ jobs: [VectorJob]) async throws -> (rows: [[String]], problems: [String]) {
        guard case .qdrant(let configuration) = settings.target else { return ([], []) }
        let client = QdrantClient(configuration)
        var rows: [[String]] = []
        var problems: [String] = []
        do {
            for name in Set(jobs.compactMap { job -> String? in
                if case .collection(let name) = job.target { return name }
                return nil
            }).sorted() {
                guard let info = try await client.collection(name) else { continue }
                if info.status != "green" {
                    problems.append("collection \(name) is \(info.status), not green: Qdrant is still optimizing it (yellow, grey) or an operation failed (red); wait and verify again, and check the nodes' logs if it stays so")
                }
                let cluster: CollectionClusterInfo
                do {
                    cluster = try await client.collectionCluster(name)
                } catch .status(404, _, _) {
                    // A server without the endpoint (a proxy that does not route it): the status is all there is.
                    rows.append([name, info.status, "?", "?", "? (no GET /collections/\(name)/cluster)"])
                    continue
                }
                let inactive = cluster.inactive
                rows.append([name, info.status, String(cluster.shardCount), String(cluster.replicas.count), inactive.isEmpty ? "0" : inactive.joined(separator: "; ")])
                if !inactive.isEmpty {
                    problems.append("collection \(name) has shard replicas that are not Active: \(inactive.joined(separator: ", ")). Until they are, a lost node can lose points; see GET /collections/\(name)/cluster and recover or replicate the shards")
                }
                if cluster.transfers > 0 {
                    problems.append("collection \(name) has \(cluster.transfers) shard transfer(s) under way: verify again when they are done")
                }
            }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return (rows, problems)
    }

    /// Points per target, and per tenant value the source had.
    private func countTargets(_ jobs: [VectorJob], tally: Tally) async throws -> [String: (total: Int, tenants: [String: Int])] {
        var counts: [String: (total: Int, tenants: [String: Int])] = [:]
        switch settings.target {
        case .qdrant(let configuration):
            let client = QdrantClient(configuration)
            for job in jobs {
                guard case .collection(let name) = job.target else { continue }
                guard try await client.collection(name) != nil else {
                    counts[job.name] = (0, [:])
                    continue
                }
                var tenants: [String: Int] = [:]
                if let field = job.mapping.tenant {
                    let prefix = "tenant \(job.name)\u{1F}"
                    for key in tally.counts.keys where key.hasPrefix(prefix) {
                        let value = String(key.dropFirst(prefix.count))
                        let filter = JSONValue.object([("must", .array([.object([("key", .string(field)), ("match", .object([("value", .string(value))]))])]))])
                        tenants["\(job.name)\u{1F}\(value)"] = try await client.count(name, filter: filter)
                    }
                }
                counts[job.name] = (try await client.count(name), tenants)
            }
            await client.close()
        case .postgres(let configuration, _, _):
            counts = try await withConnection(configuration) { connection in
                var counts: [String: (total: Int, tenants: [String: Int])] = [:]
                for job in jobs {
                    guard case .table(let schema, let table) = job.target else { continue }
                    counts[job.name] = (try await countRows(connection, "\(quoteIdentifier(schema)).\(quoteIdentifier(table))"), [:])
                }
                return counts
            }
        }
        return counts
    }

    /// Queries source and target with sampled vectors and compares the neighbours: a source neighbour counts as
    /// found when the target returned it, or when it ties with the target's farthest neighbour (duplicate
    /// vectors make the order among equals arbitrary on both sides).
    private func neighbourRecall(_ samples: [(job: String, record: VectorRecord)], jobs: [String: VectorJob]) async throws -> (queries: Int, average: Double, lowest: Double)? {
        guard case .qdrant(let targetConfiguration) = settings.target, !samples.isEmpty else { return nil }
        let target = QdrantClient(targetConfiguration)
        var recalls: [Double] = []
        do {
            for (name, record) in samples {
                guard let job = jobs[name], case .collection(let collection) = job.target, let vector = job.vectors.first(where: { !$0.sparse }),
                      case .dense(let values)? = record.vectors.first(where: { $0.name == vector.targetName })?.data else { continue }
                let theirs = try await target.nearest(collection, vector: values, using: vector.targetName, limit: neighbours).map {
                    (id: UUIDText.canonical($0.id), distance: Self.distance(score: $0.score, metric: vector.distance))
                }
                let ours = try await sourceNeighbours(job, vector: vector, values: values)
                guard !ours.isEmpty else { continue }
                let found = Set(theirs.map(\.id))
                let boundary = theirs.map(\.distance).max() ?? -.infinity
                let matched = ours.filter { found.contains($0.id) || (theirs.count == neighbours && abs($0.distance - boundary) < 1e-4) }.count
                recalls.append(Double(matched) / Double(ours.count))
            }
        } catch {
            await target.close()
            throw error
        }
        await target.close()
        guard !recalls.isEmpty else { return nil }
        return (recalls.count, recalls.reduce(0, +) / Double(recalls.count), recalls.min() ?? 0)
    }

    /// A Qdrant score as pgvector's distance operators measure it (smaller is nearer).
    static func distance(score: Double, metric: String) -> Double {
        switch metric.lowercased() {
        case "cosine": return 1 - score
        case "dot": return -score
        default: return score
        }
    }

    private func sourceNeighbours(_ job: VectorJob, vector: VectorSpec, values: [Float]) async throws -> [(id: String, distance: Double)] {
        switch (settings.source, job.source) {
        case (.postgres(let configuration, _, _), .table(let schema)):
            let operators = ["cosine": "<=>", "dot": "<#>", "euclid": "<->", "manhattan": "<+>"]
            let operation = operators[vector.distance.lowercased()] ?? "<=>"
            let literal = "'[" + values.map { $0.description }.joined(separator: ",") + "]'::" + (vector.sourceType == job.types.halfvec ? "halfvec" : "vector")
            let ids = job.mapping.idColumns ?? job.keyColumns
            let sql = """
                SELECT (\(quoteIdentifier(vector.sourceName)) \(operation) \(literal))::float8, \(ids.map { "\(quoteIdentifier($0))::text" }.joined(separator: ", "))
                FROM \(schema.qualifiedName) ORDER BY 1 LIMIT \(neighbours)
                """
            let rows = try await withConnection(configuration) { try await $0.query(sql) }
            return try rows.rows.map { row in
                guard let field = row[0], case .double(let distance) = try PostgresBinary.decode(field, type: PostgresTypes.float8, types: PostgresTypes()) else {
                    throw PostgresError.malformed("a distance that is not a number")
                }
                let id = try job.idRule.pointID(for: row.dropFirst().map { $0.map { String(decoding: $0, as: UTF8.self) } ?? "" })
                return (UUIDText.canonical(id), distance)
            }
        case (.qdrant(let configuration), .collection(let name, _)):
            let client = QdrantClient(configuration)
            let neighbours = try await client.nearest(name, vector: values, using: vector.targetName, limit: neighbours)
            await client.close()
            return neighbours.map { (UUIDText.canonical($0.id), Self.distance(score: $0.score, metric: vector.distance)) }
        default:
            return []
        }
    }
}

/// Keeps the first source records seen, as nearest-neighbour queries.
actor ProbeCollector {
    private let limit: Int
    private(set) var samples: [(job: String, record: VectorRecord)] = []

    init(limit: Int) {
        self.limit = limit
    }

    func offer(_ job: String, _ record: VectorRecord) {
        if samples.count < limit { samples.append((job, record)) }
    }
}

/// Compares a batch of source records with the points or rows of the same ids on the target.
struct CompareWriter: BatchWriter {
    let settings: VectorRunSettings
    let jobs: [String: VectorJob]
    let probes: ProbeCollector
    private var qdrant: QdrantClient?
    private var postgres: PostgresConnection?
    private var collectionExists: [String: Bool] = [:]

    init(settings: VectorRunSettings, jobs: [String: VectorJob], probes: ProbeCollector) {
        self.settings = settings
        self.jobs = jobs
        self.probes = probes
    }

    mutating func reset() async {
        await qdrant?.close()
        await postgres?.close()
        qdrant = nil
        postgres = nil
    }

    mutating func write(_ records: [VectorRecord], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: records.count)
        guard let job = jobs[partition], !records.isEmpty else { return outcome }
        // Queries come from the first batches, a few rows of each (spread over the key range as batches are).
        for record in stride(from: 0, to: records.count, by: max(1, records.count / 3)).prefix(3).map({ records[$0] }) {
            await probes.offer(partition, record)
        }
        let found = try await targetRecords(for: records, job: job)
        let normalized = job.normalizedVectors
        for record in records {
            outcome.tally.add("source")
            outcome.checksum.add(digest: record.checksumDigest(approximate: normalized))
            if let tenant = job.mapping.tenant, let value = record.payload.first(where: { $0.0 == tenant })?.1.string {
                outcome.tally.add("tenant \(job.name)\u{1F}\(value)")
            }
            let id = UUIDText.canonical(record.id)
            guard let theirs = found[id] else {
                outcome.tally.add("missing in target")
                outcome.problems.append("missing in target: \(job.targetDisplay) has no point \(id) for row (\(record.key.joined(separator: ", ")))")
                continue
            }
            if let difference = record.difference(from: theirs, normalized: normalized) {
                outcome.tally.add("differs")
                outcome.problems.append("differs: point \(id) in \(job.targetDisplay) (row \(record.key.joined(separator: ", "))): \(difference)")
            } else {
                outcome.tally.add("matched")
            }
        }
        return outcome
    }

    /// The target's version of each record, by canonical id.
    private mutating func targetRecords(for records: [VectorRecord], job: VectorJob) async throws -> [String: VectorRecord] {
        var found: [String: VectorRecord] = [:]
        switch (settings.target, job.target) {
        case (.qdrant(let configuration), .collection(let collection)):
            let client = self.qdrant ?? QdrantClient(configuration)
            self.qdrant = client
            // A missing collection means every point is missing.
            if collectionExists[collection] == nil {
                collectionExists[collection] = try await client.collection(collection) != nil
            }
            guard collectionExists[collection] == true else { return [:] }
            let points = try await client.retrieve(collection, ids: records.map(\.id))
            for point in points {
                let record = try VectorJob.record(fromPoint: point, payloadSpecs: [])
                found[UUIDText.canonical(record.id)] = record
            }
        case (.postgres(let configuration, _, _), .table(let schemaName, let table)):
            guard case .table(let source) = job.source else {
                throw VectorMigrationError.unsupported("verifying Qdrant → PostgreSQL is not supported yet; compare counts with SELECT count(*)")
            }
            let connection: PostgresConnection
            if let existing = postgres {
                connection = existing
            } else {
                connection = try await PostgresConnection.connect(configuration)
                postgres = connection
            }
            var mirrored = job
            var schema = source
            schema.schema = schemaName
            schema.table = table
            mirrored.source = .table(schema)
            let keys = job.keyColumns.map(quoteIdentifier).joined(separator: ", ")
            var tuples: [String] = []
            for record in records {
                var literals: [String] = []
                for (name, value) in zip(job.keyColumns, record.key) {
                    literals.append("\(try await connection.literal(value))::\(source.column(name)?.column.typeName ?? "text")")
                }
                tuples.append("(\(literals.joined(separator: ", ")))")
            }
            let sql = "COPY (SELECT \(job.selectList.joined(separator: ", ")) FROM \(schema.qualifiedName) WHERE (\(keys)) IN (\(tuples.joined(separator: ", ")))) TO STDOUT (FORMAT binary)"
            try await connection.startCopyOut(sql)
            var decoder = CopyBinaryDecoder()
            var ended = false
            while true {
                if let row = try decoder.nextRow() {
                    let record = try mirrored.record(fromRow: row)
                    found[UUIDText.canonical(record.id)] = record
                    continue
                }
                if ended || decoder.finished { break }
                let (bytes, finished) = try await connection.readCopy(maxBytes: 1 << 20)
                decoder.feed(bytes)
                ended = finished
            }
        default:
            break
        }
        return found
    }
}

