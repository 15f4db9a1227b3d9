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
                try await GraphSummary.read(.bolt(settings.source, displayName: settings.sourceDisplayName), mapping: settings.mapping)
            }
            targetSummary = try await retry.run(isTransient: isTransient) { try await GraphSummary.read(settings.target, mapping: settings.mapping) }
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
        for comparison in sourceSummary.comparisons(with: targetSummary) {
            let (a, b) = (comparison.source, comparison.target)
            rows.append([comparison.kind, comparison.value, Format.count(a), Format.count(b), a == b ? "" : "≠"])
            if a != b {
                totals.add("count differs")
                problems.append("\(comparison.kind) \(comparison.value): source \(a), target \(b)")
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

/// Counts per label set, relationship type and scope (workspace), and how many nodes have each degree.
struct GraphSummary {
    var labels: [String: Int] = [:]
    var types: [String: Int] = [:]
    /// Nodes per scope (the mapping's scope labels, `:`-joined), when the mapping scopes keys.
    var scopeNodes: [String: Int] = [:]
    /// Relationships per scope of their start node.
    var scopeRelationships: [String: Int] = [:]
    var degrees: [Int: Int] = [:]
    /// Nodes and relationships per ledger unit (``GraphUnit``).
    var units: [String: Int] = [:]

    static let degreeQuery = "MATCH (n) OPTIONAL MATCH (n)-[r]-() WITH n, count(r) AS d RETURN d, count(*) AS c"

    /// Nodes in all.
    var nodes: Int { labels.values.reduce(0, +) }
    /// Relationships in all.
    var relationships: Int { types.values.reduce(0, +) }

    /// Label sets with their counts (and, with a scope, the property the scope rule reads).
    static func labelQuery(_ mapping: GraphMapping) -> String {
        "MATCH (n) RETURN labels(n) AS l, \(scopeProperty(mapping, "n")) AS p, count(*) AS c"
    }

    /// Types with their counts, by the start node's labels when the mapping scopes keys.
    static func typeQuery(_ mapping: GraphMapping) -> String {
        guard mapping.nodes.scope != nil else { return "MATCH ()-[r]->() RETURN type(r) AS t, [] AS l, null AS p, count(*) AS c" }
        return "MATCH (a)-[r]->() RETURN type(r) AS t, labels(a) AS l, \(scopeProperty(mapping, "a")) AS p, count(*) AS c"
    }

    private static func scopeProperty(_ mapping: GraphMapping, _ variable: String) -> String {
        mapping.nodes.scope?.labelsExceptProperty.map { "\(variable).\(GraphReader.quote($0))" } ?? "null"
    }

    /// Counts one row of ``labelQuery(_:)``.
    mutating func addNodes(labels nodeLabels: [String], property: String?, count: Int, mapping: GraphMapping) {
        labels[nodeLabels.sorted().joined(separator: ":"), default: 0] += count
        units[GraphUnit.nodes(nodeLabels), default: 0] += count
        if let scope = mapping.nodes.scope { scopeNodes[scope.of(labels: nodeLabels, property: property).joined(separator: ":"), default: 0] += count }
    }

    /// Counts one row of ``typeQuery(_:)``.
    mutating func addRelationships(type: String, startLabels: [String], property: String?, count: Int, mapping: GraphMapping) {
        types[type, default: 0] += count
        units[GraphUnit.relationships(type), default: 0] += count
        if let scope = mapping.nodes.scope {
            scopeRelationships[scope.of(labels: startLabels, property: property).joined(separator: ":"), default: 0] += count
        }
    }

    /// One count compared: what is counted, which value, and its count on each side.
    struct Comparison: Equatable {
        var kind: String
        var value: String
        var source: Int
        var target: Int
    }

    /// Every count of both summaries side by side: label sets, types, scopes, then degrees in numeric order.
    func comparisons(with target: GraphSummary) -> [Comparison] {
        var out: [Comparison] = []
        for (kind, ours, theirs) in [("label set", labels, target.labels), ("type", types, target.types),
                                     ("nodes in scope", scopeNodes, target.scopeNodes),
                                     ("relationships from scope", scopeRelationships, target.scopeRelationships)] {
            for key in Set(ours.keys).union(theirs.keys).sorted() {
                out.append(Comparison(kind: kind, value: key, source: ours[key] ?? 0, target: theirs[key] ?? 0))
            }
        }
        for degree in Set(degrees.keys).union(target.degrees.keys).sorted() {
            out.append(Comparison(kind: "degree", value: String(degree), source: degrees[degree] ?? 0, target: target.degrees[degree] ?? 0))
        }
        return out
    }

    /// Reads the counts, and the degree histogram unless `degrees` is false (it visits every relationship).
    static func read(_ store: GraphStore, mapping: GraphMapping, degrees: Bool = true) async throws -> GraphSummary {
        var summary = GraphSummary()
        switch store {
        case .bolt(let configuration, _):
            let connection = try await BoltConnection.connect(configuration)
            do {
                for row in try await connection.query(labelQuery(mapping)) {
                    summary.addNodes(labels: row[0].list?.compactMap(\.string) ?? [], property: row[1].string, count: Int(row[2].int ?? 0), mapping: mapping)
                }
                for row in try await connection.query(typeQuery(mapping)) {
                    summary.addRelationships(type: row[0].string ?? "", startLabels: row[1].list?.compactMap(\.string) ?? [], property: row[2].string,
                                             count: Int(row[3].int ?? 0), mapping: mapping)
                }
                for row in degrees ? try await connection.query(degreeQuery) : [] {
                    summary.degrees[Int(row[0].int ?? 0), default: 0] += Int(row[1].int ?? 0)
                }
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        case .neptune(let configuration):
            let client = NeptuneClient(configuration)
            do {
                for row in try await client.openCypher(labelQuery(mapping)) {
                    summary.addNodes(labels: row["l"]?.array?.compactMap(\.string) ?? [], property: row["p"]?.string, count: Int(row["c"]?.int ?? 0), mapping: mapping)
                }
                for row in try await client.openCypher(typeQuery(mapping)) {
                    summary.addRelationships(type: row["t"]?.string ?? "", startLabels: row["l"]?.array?.compactMap(\.string) ?? [],
                                             property: row["p"]?.string, count: Int(row["c"]?.int ?? 0), mapping: mapping)
                }
                for row in degrees ? try await client.openCypher(degreeQuery) : [] {
                    summary.degrees[Int(row["d"]?.int ?? 0), default: 0] += Int(row["c"]?.int ?? 0)
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

/// A node or relationship as verify compares it: labels (or type and endpoints) and literal properties.
struct ComparedRecord {
    /// `labels`, or `type`, `start` and `end`, with their values.
    var shape: [(String, String)]
    var properties: [(String, JSONValue)]

    static func node(labels: [String], properties: [(String, JSONValue)]) -> ComparedRecord {
        ComparedRecord(shape: [("labels", labels.sorted().joined(separator: ":"))], properties: properties)
    }

    static func relationship(type: String, start: String, end: String, properties: [(String, JSONValue)]) -> ComparedRecord {
        ComparedRecord(shape: [("type", type), ("start", start), ("end", end)], properties: properties)
    }

    /// What differs from `target`, one item each: `property description: source "…", target "…"` (values as JSON
    /// text, cut at `width` characters; `(none)` where one side lacks it). Nulls count as absent.
    func differences(from target: ComparedRecord, width: Int = 60) -> [String] {
        func text(_ value: JSONValue?) -> String {
            guard let value, !value.isNull else { return "(none)" }
            let full = JSONWriter.text(value)
            return full.count > width ? String(full.prefix(width)) + "…" : full
        }
        var out: [String] = []
        for ((name, ours), (_, theirs)) in zip(shape, target.shape) where ours != theirs {
            out.append("\(name): source \(ours), target \(theirs)")
        }
        let mine = Dictionary(properties.filter { !$0.1.isNull }, uniquingKeysWith: { first, _ in first })
        let theirs = Dictionary(target.properties.filter { !$0.1.isNull }, uniquingKeysWith: { first, _ in first })
        for name in Set(mine.keys).union(theirs.keys).sorted() {
            let (a, b) = (mine[name], theirs[name])
            if a.map({ JSONWriter.canonical($0) }) != b.map({ JSONWriter.canonical($0) }) {
                out.append("property \(name): source \(text(a)), target \(text(b))")
            }
        }
        return out
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
        var expected: [String: ComparedRecord] = [:]
        var order: [(String, String)] = []
        var ignored: [String: Int] = [:]
        var nodeKeys: [String] = []
        var pairs: [JSONValue] = []
        for item in items {
            switch item {
            case .node(let node):
                let properties = try converter.literals(node.properties, conversions: &ignored)
                expected[node.id] = .node(labels: node.labels, properties: properties)
                order.append((node.id, "node \(node.id) (labels \(node.labels.joined(separator: ":")))"))
                nodeKeys.append(node.identity.key)
                outcome.checksum.add(record: GraphRecord.node(id: node.id, labels: node.labels, properties: properties))
            case .relationship(let relationship):
                let properties = try converter.literals(relationship.properties, conversions: &ignored)
                expected[relationship.id] = .relationship(type: relationship.type, start: relationship.start, end: relationship.end, properties: properties)
                order.append((relationship.id, "relationship \(relationship.id) (\(relationship.start))-[:\(relationship.type)]->(\(relationship.end))"))
                pairs.append(.object([("id", .string(relationship.id)), ("from", .string(relationship.start)), ("to", .string(relationship.end)),
                                      ("fromKey", .string(relationship.from.key)), ("toKey", .string(relationship.to.key)),
                                      ("type", .string(relationship.type))]))
                outcome.checksum.add(record: GraphRecord.relationship(id: relationship.id, type: relationship.type, start: relationship.start,
                                                                      end: relationship.end, properties: properties))
            }
        }
        let nodes = partition == GraphPartition.nodes
        let found = try await targetRecords(ids: order.map(\.0), keys: nodeKeys, pairs: pairs, nodes: nodes)
        for (id, description) in order {
            outcome.tally.add(nodes ? "source nodes" : "source relationships")
            guard let theirs = found[id], let ours = expected[id] else {
                outcome.tally.add("missing in target")
                outcome.problems.append("missing in target: \(description)")
                continue
            }
            let differences = ours.differences(from: theirs)
            if differences.isEmpty {
                outcome.tally.add("matched")
            } else {
                outcome.tally.add("differs")
                outcome.problems.append("differs: \(description): \(differences.joined(separator: "; "))")
            }
        }
        return outcome
    }

    /// The target's versions, by target id. Neptune is asked by `~id`; a Bolt target by key property (`keys`,
    /// or the endpoints' keys in `pairs`), each answer's identity recomputed so that a node of another scope with
    /// the same key is not taken for it.
    private mutating func targetRecords(ids: [String], keys: [String], pairs: [JSONValue], nodes: Bool) async throws -> [String: ComparedRecord] {
        var found: [String: ComparedRecord] = [:]
        var ignored: [String: Int] = [:]
        let mapping = settings.mapping
        switch settings.target {
        case .neptune(let configuration):
            let client = neptune ?? NeptuneClient(configuration)
            neptune = client
            let query = nodes ? "MATCH (n) WHERE id(n) IN $ids RETURN n AS x" : "MATCH ()-[r]->() WHERE id(r) IN $ids RETURN r AS x"
            for row in try await client.openCypher(query, parameters: .object([("ids", .array(ids.map { .string($0) }))])) {
                guard let item = row["x"], let id = item["~id"]?.string else { continue }
                let properties = item["~properties"]?.object ?? []
                if nodes {
                    found[id] = .node(labels: item["~labels"]?.array?.compactMap(\.string) ?? [], properties: properties)
                } else {
                    found[id] = .relationship(type: item["~type"]?.string ?? "", start: item["~start"]?.string ?? "", end: item["~end"]?.string ?? "",
                                              properties: properties)
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
            let key = GraphReader.quote(mapping.nodes.key ?? "migrate_id")
            func literals(_ properties: [(String, PackStreamValue)]) throws -> [(String, JSONValue)] {
                try properties.filter { $0.0 != "migrate_id" }.map { ($0.0, try converter.literal($0.1, property: $0.0, conversions: &ignored)) }
            }
            if nodes {
                for row in try await connection.query("MATCH (n) WHERE n.\(key) IN $keys RETURN n", parameters: [("keys", .list(keys.map { .string($0) }))]) {
                    var node = try GraphReader.node(row[0], mapping: mapping)
                    if mapping.nodes.key == nil, let id = node.properties.first(where: { $0.0 == "migrate_id" })?.1.string {
                        node.identity = NodeIdentity(scope: nil, key: id)
                    }
                    found[node.id] = .node(labels: node.labels, properties: try literals(node.properties))
                }
            } else {
                let width = mapping.identityColumns("a").count
                let endpoints = (mapping.identityColumns("a") + mapping.identityColumns("b")).map { ", " + $0 }.joined()
                let query = """
                    UNWIND $rows AS row MATCH (a {\(key): row.fromKey})-[r]->(b {\(key): row.toKey}) WHERE type(r) = row.type \
                    RETURN row.id, row.from, row.to, r, id(a), id(b)\(endpoints)
                    """
                let rows = pairs.map { pair -> PackStreamValue in
                    .map((pair.object ?? []).map { ($0.0, .string($0.1.string ?? "")) })
                }
                for row in try await connection.query(query, parameters: [("rows", .list(rows))]) {
                    guard let id = row[0].string, let start = row[1].string, let end = row[2].string, case .structure(0x52, let fields) = row[3],
                          fields.count >= 5, let a = row[4].int, let b = row[5].int else { continue }
                    // With scoped keys, an endpoint key can match a node of another scope: keep the right pair.
                    let columns = row.dropFirst(6)
                    guard mapping.identity(sourceID: a, columns: columns.prefix(width)).targetID == start,
                          mapping.identity(sourceID: b, columns: columns.dropFirst(width)).targetID == end else { continue }
                    found[id] = .relationship(type: fields[3].string ?? "", start: start, end: end, properties: try literals(fields[4].map ?? []))
                }
            }
        }
        return found
    }
}
