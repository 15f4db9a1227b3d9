import Bolt
import Failures
import Foundation
import JSON
import MigrationCore
import Neptune

/// `migrate verify graph`: counts per label set and relationship type, degree histograms, and every node and
/// relationship compared with its counterpart (labels, type, endpoints, properties as the target stores them).
/// With a shard, only the shard's nodes and relationships are compared: the counts and histograms cover the
/// whole graph, so they are left to an unsharded verification.
public struct GraphVerification: Sendable {
    public var settings: GraphRunSettings

    public init(settings: GraphRunSettings) {
        self.settings = settings
    }

    public func run() async throws -> MigrationReport {
        let startedAt = Date()
        let retry = RetryPolicy()
        let settings = self.settings
        let counts = try await retry.run(isTransient: isTransient) { try await GraphCounts.source(settings.source) }
        var sourceSummary = GraphSummary()
        var targetSummary = GraphSummary()
        if settings.shard == nil {
            sourceSummary = try await retry.run(isTransient: isTransient) {
                try await GraphSummary.read(.bolt(settings.source, displayName: settings.sourceDisplayName))
            }
            targetSummary = try await retry.run(isTransient: isTransient) { try await GraphSummary.read(settings.target) }
        }

        let progress = ProgressReporter(phase: "verify graph", unit: "records", total: settings.expectedRecords(counts), style: settings.progressStyle)
        await progress.start()
        let runner = PipelineRunner(configuration: .init(concurrency: settings.concurrency, isTransient: isTransient, problemLimit: 20), logger: settings.logger)
        var checkpoint = Checkpoint(migration: "verify graph", fingerprint: "")
        var problems: [String] = []
        for partition in [GraphPartition.nodes, GraphPartition.relationships] {
            let result = try await runner.run(
                partitions: [PartitionPlan(name: partition, initialPosition: "-1")], checkpoint: checkpoint, store: nil, progress: progress,
                makeReader: { name, position in try await settings.reader(name, position: position) },
                makeWriter: { GraphCompareWriter(settings: settings) }
            )
            checkpoint = result.checkpoint
            problems += result.problems
        }
        await progress.finish()

        var totals = checkpoint.tally
        var rows: [[String]] = []
        for (kind, ours, theirs) in [("label set", sourceSummary.labels, targetSummary.labels), ("type", sourceSummary.types, targetSummary.types),
                                     ("degree", sourceSummary.degrees, targetSummary.degrees)] {
            for key in Set(ours.keys).union(theirs.keys).sorted() {
                let (a, b) = (ours[key] ?? 0, theirs[key] ?? 0)
                rows.append([kind, key, Format.count(a), Format.count(b), a == b ? "" : "≠"])
                if a != b {
                    totals.add("count differs")
                    problems.append("\(kind) \(key): source \(a), target \(b)")
                }
            }
        }
        let differences = ["missing in target", "differs", "count differs"].reduce(0) { $0 + totals[$1] }
        return MigrationReport(
            command: settings.shard.map { "migrate verify graph --shard \($0)" } ?? "migrate verify graph", source: settings.sourceDisplayName, target: settings.target.displayName,
            outcome: differences == 0 ? .succeeded : .mismatched, startedAt: startedAt, totals: totals,
            checksum: checkpoint.checksum,
            sections: [.init(title: "counts and degree histogram", columns: ["what", "value", "source", "target", ""], rows: rows)],
            problems: problems
        )
    }
}

/// Counts per label set and relationship type, and how many nodes have each degree.
struct GraphSummary {
    var labels: [String: Int] = [:]
    var types: [String: Int] = [:]
    var degrees: [String: Int] = [:]

    static let labelQuery = "MATCH (n) RETURN labels(n) AS l, count(*) AS c"
    static let typeQuery = "MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS c"
    static let degreeQuery = "MATCH (n) OPTIONAL MATCH (n)-[r]-() WITH n, count(r) AS d RETURN d, count(*) AS c"

    /// Nodes in all.
    var nodes: Int { labels.values.reduce(0, +) }
    /// Relationships in all.
    var relationships: Int { types.values.reduce(0, +) }

    /// Reads the counts, and the degree histogram unless `degrees` is false (it visits every relationship).
    static func read(_ store: GraphStore, degrees: Bool = true) async throws -> GraphSummary {
        var summary = GraphSummary()
        switch store {
        case .bolt(let configuration, _):
            let connection = try await BoltConnection.connect(configuration)
            do {
                for row in try await connection.query(labelQuery) {
                    summary.labels[(row[0].list?.compactMap(\.string) ?? []).sorted().joined(separator: ":"), default: 0] += Int(row[1].int ?? 0)
                }
                for row in try await connection.query(typeQuery) { summary.types[row[0].string ?? "", default: 0] += Int(row[1].int ?? 0) }
                for row in degrees ? try await connection.query(degreeQuery) : [] {
                    summary.degrees[String(row[0].int ?? 0), default: 0] += Int(row[1].int ?? 0)
                }
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        case .neptune(let configuration):
            let client = NeptuneClient(configuration)
            do {
                for row in try await client.openCypher(labelQuery) {
                    summary.labels[(row["l"]?.array?.compactMap(\.string) ?? []).sorted().joined(separator: ":"), default: 0] += Int(row["c"]?.int ?? 0)
                }
                for row in try await client.openCypher(typeQuery) { summary.types[row["t"]?.string ?? "", default: 0] += Int(row["c"]?.int ?? 0) }
                for row in degrees ? try await client.openCypher(degreeQuery) : [] {
                    summary.degrees[String(row["d"]?.int ?? 0), default: 0] += Int(row["c"]?.int ?? 0)
                }
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        }
        return summary
    }
}

/// Compares a batch of source records with the target's, by target id.
struct GraphCompareWriter: BatchWriter {
    let settings: GraphRunSettings
    let converter: PropertyConverter
    private var neptune: NeptuneClient?
    private var bolt: BoltConnection?

    init(settings: GraphRunSettings) {
        self.settings = settings
        self.converter = PropertyConverter(policy: settings.mapping.properties)
    }

    mutating func reset() async {
        await neptune?.close()
        await bolt?.close()
        neptune = nil
        bolt = nil
    }

    mutating func write(_ items: [GraphItem], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: items.count)
        var expected: [String: [UInt8]] = [:]
        var order: [(String, String)] = []
        var ignored: [String: Int] = [:]
        var pairs: [JSONValue] = []
        for item in items {
            switch item {
            case .node(let node):
                let record = GraphRecord.node(id: node.id, labels: node.labels, properties: try converter.literals(node.properties, conversions: &ignored))
                expected[node.id] = record
                order.append((node.id, "node \(node.id) (labels \(node.labels.joined(separator: ":")))"))
                outcome.checksum.add(record: record)
            case .relationship(let relationship):
                let record = GraphRecord.relationship(id: relationship.id, type: relationship.type, start: relationship.start, end: relationship.end,
                                                      properties: try converter.literals(relationship.properties, conversions: &ignored))
                expected[relationship.id] = record
                order.append((relationship.id, "relationship \(relationship.id) (\(relationship.start))-[:\(relationship.type)]->(\(relationship.end))"))
                pairs.append(.object([("id", .string(relationship.id)), ("from", .string(relationship.start)), ("to", .string(relationship.end)),
                                      ("type", .string(relationship.type))]))
                outcome.checksum.add(record: record)
            }
        }
        let found = try await targetRecords(ids: order.map(\.0), pairs: pairs, nodes: partition == GraphPartition.nodes)
        for (id, description) in order {
            outcome.tally.add(partition == GraphPartition.nodes ? "source nodes" : "source relationships")
            guard let theirs = found[id] else {
                outcome.tally.add("missing in target")
                outcome.problems.append("missing in target: \(description)")
                continue
            }
            if theirs == expected[id] {
                outcome.tally.add("matched")
            } else {
                outcome.tally.add("differs")
                outcome.problems.append("differs: \(description) has other labels, type, endpoints or properties on the target")
            }
        }
        return outcome
    }

    /// The canonical records of the target's versions, by target id.
    private mutating func targetRecords(ids: [String], pairs: [JSONValue], nodes: Bool) async throws -> [String: [UInt8]] {
        var found: [String: [UInt8]] = [:]
        var ignored: [String: Int] = [:]
        switch settings.target {
        case .neptune(let configuration):
            let client = neptune ?? NeptuneClient(configuration)
            neptune = client
            let query = nodes ? "MATCH (n) WHERE id(n) IN $ids RETURN n AS x" : "MATCH ()-[r]->() WHERE id(r) IN $ids RETURN r AS x"
            for row in try await client.openCypher(query, parameters: .object([("ids", .array(ids.map { .string($0) }))])) {
                guard let item = row["x"], let id = item["~id"]?.string else { continue }
                let properties = item["~properties"]?.object ?? []
                if nodes {
                    found[id] = GraphRecord.node(id: id, labels: item["~labels"]?.array?.compactMap(\.string) ?? [], properties: properties)
                } else {
                    found[id] = GraphRecord.relationship(id: id, type: item["~type"]?.string ?? "", start: item["~start"]?.string ?? "",
                                                         end: item["~end"]?.string ?? "", properties: properties)
                }
            }
        case .bolt(let configuration, _):
            let connection: BoltConnection
            if let existing = bolt {
                connection = existing
            } else {
                connection = try await BoltConnection.connect(configuration)
                bolt = connection
            }
            let key = GraphReader.quote(settings.mapping.nodes.key ?? "migrate_id")
            if nodes {
                for row in try await connection.query("MATCH (n) WHERE n.\(key) IN $ids RETURN n", parameters: [("ids", .list(ids.map { .string($0) }))]) {
                    var node = try GraphReader.node(row[0], mapping: settings.mapping)
                    if settings.mapping.nodes.key == nil, let id = node.properties.first(where: { $0.0 == "migrate_id" })?.1.string {
                        node.id = id
                    }
                    let properties = try node.properties.filter { $0.0 != "migrate_id" }.map { ($0.0, try converter.literal($0.1, property: $0.0, conversions: &ignored)) }
                    found[node.id] = GraphRecord.node(id: node.id, labels: node.labels, properties: properties)
                }
            } else {
                let query = "UNWIND $rows AS row MATCH (a {\(key): row.from})-[r]->(b {\(key): row.to}) WHERE type(r) = row.type RETURN row.id, r, row.from, row.to"
                let rows = pairs.map { pair -> PackStreamValue in
                    .map((pair.object ?? []).map { ($0.0, .string($0.1.string ?? "")) })
                }
                for row in try await connection.query(query, parameters: [("rows", .list(rows))]) {
                    guard let id = row[0].string, case .structure(0x52, let fields) = row[1], fields.count >= 5 else { continue }
                    let properties = try (fields[4].map ?? []).filter { $0.0 != "migrate_id" }.map { ($0.0, try converter.literal($0.1, property: $0.0, conversions: &ignored)) }
                    found[id] = GraphRecord.relationship(id: id, type: fields[3].string ?? "", start: row[2].string ?? "", end: row[3].string ?? "", properties: properties)
                }
            }
        }
        return found
    }
}
