import BlockingIO
import Bolt
import Foundation
import JSON
import MigrationCore
import Neptune

/// How the relationships of a sharded run wait for endpoints written by other shards.
///
/// Each shard writes its own nodes, then its own relationships, whose start or end node may belong to another
/// shard still busy with its nodes. The relationship query `MATCH`es both endpoints by id and `MERGE`s the
/// relationship on its own id: with an endpoint missing it writes nothing and says so, and sending the row
/// again once the node exists writes it exactly once. Placeholder endpoints (`MERGE (a {`~id`: …})`) would be
/// wrong on Neptune: the shard that owns the node would then `MERGE` it with its labels, find no match for the
/// labelled pattern, and try to create a second vertex with the same `~id`.
struct EndpointWait: Sendable {
    /// The run's shard, for the message.
    var shard: Shard
    /// How long rows may wait for their endpoints.
    var timeout: Duration
    /// The pause between two attempts.
    var interval: Duration = .seconds(1)

    /// Sends `rows` again every `interval` until none lacks an endpoint (`send` returns those that still do);
    /// throws ``EndpointsMissing`` when some still do after `timeout`.
    func resend<Row>(_ rows: [Row], _ send: ([Row]) async throws -> [Row]) async throws {
        var pending = rows
        let deadline = ContinuousClock.now + timeout
        while !pending.isEmpty {
            guard ContinuousClock.now < deadline else { throw EndpointsMissing(count: pending.count, shard: shard, waited: timeout) }
            try await Task.sleep(for: interval)
            pending = try await send(pending)
        }
    }
}

/// Relationships of a sharded run whose start or end node never appeared on the target. Not transient: the
/// run stops with its checkpoint, and `--resume` sends them again once every shard has written its nodes.
struct EndpointsMissing: Error, CustomStringConvertible {
    var count: Int
    var shard: Shard
    var waited: Duration

    var description: String {
        "\(count) relationship(s) of shard \(shard) still have no start or end node on the target after \(waited.components.seconds) s: " +
            "let every shard finish its node phase (one may have stopped, or dead-lettered those nodes), then rerun this shard with --resume"
    }
}

/// A row of an UNWIND batch, with what the report counts once the target acknowledges it and what the
/// dead-letter file needs if it is refused.
struct GraphRow<Parameters> {
    var parameters: Parameters
    /// The row's own id, as the query RETURNs it for every row it wrote.
    var id: String
    /// What the row was made from, for its dead-letter entry (built only for a row that is refused).
    private let item: GraphItem
    /// The ledger unit (``GraphUnit``).
    var unit: String
    /// Counters for the report: `nodes` and `label A:B`, or `relationships` and `type T`.
    var tally: [String]
    /// The record for the run's checksum.
    var checksum: [UInt8]

    /// What a group's rows count, built once per group of a batch (not per row).
    struct Kind {
        var unit: String
        var tally: [String]

        /// Nodes with these labels.
        static func nodes(_ labels: [String]) -> Kind {
            Kind(unit: GraphUnit.nodes(labels), tally: ["nodes", "label \(labels.sorted().joined(separator: ":"))"])
        }

        /// Relationships of this type.
        static func relationships(_ type: String) -> Kind {
            Kind(unit: GraphUnit.relationships(type), tally: ["relationships", "type \(type)"])
        }
    }

    /// A node's row.
    init(_ node: GraphNode, kind: Kind, parameters: Parameters, checksum: [UInt8]) {
        self.parameters = parameters
        id = node.id
        item = .node(node)
        unit = kind.unit
        tally = kind.tally
        self.checksum = checksum
    }

    /// A relationship's row.
    init(_ relationship: GraphRelationship, kind: Kind, parameters: Parameters, checksum: [UInt8]) {
        self.parameters = parameters
        id = relationship.id
        item = .relationship(relationship)
        unit = kind.unit
        tally = kind.tally
        self.checksum = checksum
    }

    /// The row's entry for the dead-letter file.
    var record: JSONValue {
        switch item {
        case .node(let node): return GraphDeadLetter.entry(node)
        case .relationship(let relationship): return GraphDeadLetter.entry(relationship)
        }
    }

    /// The rows of `rows` whose id is not among those the target returned.
    static func unacknowledged(_ rows: [GraphRow], returned: Set<String>) -> (written: [GraphRow], missing: [GraphRow]) {
        (rows.filter { returned.contains($0.id) }, rows.filter { !returned.contains($0.id) })
    }
}

extension BatchOutcome {
    /// Counts each item of a batch as selected in its ledger unit.
    mutating func select(_ items: [GraphItem]) {
        var nodes: [[String]: Int] = [:]
        var relationships: [String: Int] = [:]
        for item in items {
            switch item {
            case .node(let node): nodes[node.labels, default: 0] += 1
            case .relationship(let relationship): relationships[relationship.type, default: 0] += 1
            }
        }
        for (labels, count) in nodes { ledger.selected(GraphUnit.nodes(labels), count) }
        for (type, count) in relationships { ledger.selected(GraphUnit.relationships(type), count) }
    }

    /// Counts rows the target acknowledged.
    mutating func count<Parameters>(written rows: [GraphRow<Parameters>]) {
        var units: [String: (count: Int, tally: [String])] = [:]
        for row in rows {
            checksum.add(record: row.checksum)
            units[row.unit, default: (0, row.tally)].count += 1
        }
        for (unit, counted) in units {
            for name in counted.tally { tally.add(name, counted.count) }
            ledger.written(unit, counted.count)
        }
    }

    /// Counts records the target (or the mapping) refused, in the report and the ledger, names the first ones,
    /// and appends them all to the dead-letter file.
    mutating func deadLetter(_ refused: [JSONValue], to deadLetters: DeadLetterFile) async throws {
        guard !refused.isEmpty else { return }
        for entry in refused { ledger.refused(GraphUnit.of(entry)) }
        tally.add("dead-lettered", refused.count)
        problems += refused.prefix(5).map { "dead-lettered \($0["kind"]?.string ?? "") \($0["id"]?.string ?? ""): \($0["reason"]?.string ?? "")" }
        try await deadLetters.append(refused)
    }
}

/// The ledger's units of a graph: `nodes :A:B` per sorted label set, `relationships T` per type.
enum GraphUnit {
    static func nodes(_ labels: [String]) -> String {
        "nodes " + (labels.isEmpty ? "(no label)" : labels.sorted().map { ":" + $0 }.joined())
    }

    static func relationships(_ type: String) -> String {
        "relationships \(type)"
    }

    /// The unit of a dead-letter entry (``GraphDeadLetter``).
    static func of(_ entry: JSONValue) -> String {
        entry["kind"]?.string == "node" ? nodes(entry["labels"]?.array?.compactMap(\.string) ?? []) : relationships(entry["type"]?.string ?? "")
    }
}

/// The dead-letter file's entries for graph records: one JSON object with the record and why it was refused.
enum GraphDeadLetter {
    /// Why a row the target did not return is refused: for a relationship (of an unsharded run), its start or
    /// end node is not on the target.
    static func unwritten(_ partition: String) -> String {
        partition == GraphPartition.relationships ? "its start or end node is not on the target (was it refused?)"
            : "the target did not acknowledge it (the query returned no row for it)"
    }

    static func entry(_ node: GraphNode, reason: String? = nil) -> JSONValue {
        var fields: [(String, JSONValue)] = [("kind", .string("node")), ("id", .string(node.id)), ("source_id", .int(node.sourceID)),
                                             ("labels", .array(node.labels.map { .string($0) }))]
        fields.append(("properties", .string(node.properties.map { "\($0.0)=\($0.1)" }.joined(separator: ", "))))
        if let reason { fields.append(("reason", .string(reason))) }
        return .object(fields)
    }

    static func entry(_ relationship: GraphRelationship, reason: String? = nil) -> JSONValue {
        var fields: [(String, JSONValue)] = [("kind", .string("relationship")), ("id", .string(relationship.id)), ("source_id", .int(relationship.sourceID)),
                                             ("type", .string(relationship.type)), ("start", .string(relationship.start)), ("end", .string(relationship.end))]
        fields.append(("properties", .string(relationship.properties.map { "\($0.0)=\($0.1)" }.joined(separator: ", "))))
        if let reason { fields.append(("reason", .string(reason))) }
        return .object(fields)
    }

    /// The entry of `item`, refused for `reason`.
    static func entry(_ item: GraphItem, reason: String) -> JSONValue {
        switch item {
        case .node(let node): return entry(node, reason: reason)
        case .relationship(let relationship): return entry(relationship, reason: reason)
        }
    }

    static func withReason(_ record: JSONValue, _ reason: String) -> JSONValue {
        guard case .object(var fields) = record else { return record }
        fields.append(("reason", .string(reason)))
        return .object(fields)
    }
}

/// Writes nodes and relationships to Neptune with `UNWIND $rows … MERGE … {`~id`: …}`: nodes grouped by label
/// set, relationships by type. A batch refused with a 400 is split until the refused rows are found; they go
/// to the dead-letter file and the rest lands. 5xx errors are retried by the pipeline (MERGE is idempotent).
/// Only the rows a query RETURNs count as written.
struct NeptuneWriter: BatchWriter {
    typealias Row = GraphRow<JSONValue>

    let configuration: NeptuneConfiguration
    let converter: PropertyConverter
    let deadLetters: DeadLetterFile
    /// In a sharded run, relationships wait for their endpoints instead of being dead-lettered at once.
    let endpointWait: EndpointWait?
    private var client: NeptuneClient?

    init(configuration: NeptuneConfiguration, converter: PropertyConverter, deadLetters: DeadLetterFile, endpointWait: EndpointWait?) {
        self.configuration = configuration
        self.converter = converter
        self.deadLetters = deadLetters
        self.endpointWait = endpointWait
    }

    mutating func reset() async {
        await client?.close()
        client = nil
    }

    mutating func write(_ items: [GraphItem], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: items.count)
        outcome.select(items)
        let client = self.client ?? NeptuneClient(configuration)
        self.client = client
        var groups: [String: (query: String, kind: Row.Kind, rows: [Row])] = [:]
        var conversions: [String: Int] = [:]
        var refused: [JSONValue] = []
        for item in items {
            switch item {
            case .node(let node):
                do {
                    let properties = try converter.literals(node.properties, conversions: &conversions)
                    let labels = node.labels.sorted()
                    let key = labels.joined(separator: "\u{1}")
                    if groups[key] == nil {
                        groups[key] = ("UNWIND $rows AS row MERGE (n\(labels.map { ":" + GraphReader.quote($0) }.joined()) {`~id`: row.id}) SET n += row.props RETURN row.id AS id",
                                       .nodes(labels), [])
                    }
                    groups[key]!.rows.append(Row(node, kind: groups[key]!.kind, parameters: .object([("id", .string(node.id)), ("props", .object(properties))]),
                                                 checksum: GraphRecord.node(id: node.id, labels: node.labels, properties: properties)))
                } catch {
                    refused.append(GraphDeadLetter.entry(node, reason: "\(error)"))
                }
            case .relationship(let relationship):
                do {
                    let properties = try converter.literals(relationship.properties, conversions: &conversions)
                    if groups[relationship.type] == nil {
                        groups[relationship.type] = ("""
                            UNWIND $rows AS row MATCH (a {`~id`: row.from}), (b {`~id`: row.to}) \
                            MERGE (a)-[r:\(GraphReader.quote(relationship.type)) {`~id`: row.id}]->(b) SET r += row.props RETURN row.id AS id
                            """, .relationships(relationship.type), [])
                    }
                    let parameters = JSONValue.object([("id", .string(relationship.id)), ("from", .string(relationship.start)),
                                                       ("to", .string(relationship.end)), ("props", .object(properties))])
                    groups[relationship.type]!.rows.append(Row(
                        relationship, kind: groups[relationship.type]!.kind, parameters: parameters,
                        checksum: GraphRecord.relationship(id: relationship.id, type: relationship.type, start: relationship.start,
                                                           end: relationship.end, properties: properties)))
                } catch {
                    refused.append(GraphDeadLetter.entry(relationship, reason: "\(error)"))
                }
            }
        }
        var written: [Row] = []
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            let sent = try await send(group.rows, query: group.query, client: client)
            written += sent.written
            refused += sent.refused
            guard let endpointWait, partition == GraphPartition.relationships else {
                refused += sent.unmatched.map { GraphDeadLetter.withReason($0.record, GraphDeadLetter.unwritten(partition)) }
                continue
            }
            try await endpointWait.resend(sent.unmatched) { rows in
                let again = try await send(rows, query: group.query, client: client)
                written += again.written
                refused += again.refused
                return again.unmatched
            }
        }
        outcome.count(written: written)
        for (name, count) in conversions { outcome.tally.add("converted \(name)", count) }
        try await outcome.deadLetter(refused, to: deadLetters)
        return outcome
    }

    /// Whether Neptune refused a request for its size or cost (413, `MemoryLimitExceededException`,
    /// `TimeLimitExceededException`), so that smaller requests can pass.
    static func isOverLimit(_ error: NeptuneError) -> Bool {
        guard case .status(let status, let code, _) = error else { return false }
        return status == 413 || code == "MemoryLimitExceededException" || code == "TimeLimitExceededException"
    }

    /// Sends `rows`; a request over Neptune's limits goes again in halves (``isOverLimit(_:)``); on a 400,
    /// halves the batch until each refused row is alone. Returns the rows the query
    /// returned, the refused rows with Neptune's message, and the rows that wrote nothing: relationships whose
    /// start or end node is missing.
    private func send(_ rows: [Row], query: String, client: NeptuneClient) async throws -> (written: [Row], refused: [JSONValue], unmatched: [Row]) {
        guard !rows.isEmpty else { return ([], [], []) }
        do {
            let results = try await client.openCypher(query, parameters: .object([("rows", .array(rows.map(\.parameters)))]))
            let sorted = Row.unacknowledged(rows, returned: Set(results.compactMap { $0["id"]?.string }))
            return (sorted.written, [], sorted.missing)
        } catch {
            // A request over Neptune's limits (size, memory, time) goes again in halves, down to single rows.
            if Self.isOverLimit(error), rows.count > 1 {
                let middle = rows.count / 2
                let first = try await send(Array(rows[..<middle]), query: query, client: client)
                let second = try await send(Array(rows[middle...]), query: query, client: client)
                return (first.written + second.written, first.refused + second.refused, first.unmatched + second.unmatched)
            }
            guard case .status(400, _, let message) = error else { throw error }
            guard rows.count > 1 else { return ([], [GraphDeadLetter.withReason(rows[0].record, message)], []) }
            let middle = rows.count / 2
            let first = try await send(Array(rows[..<middle]), query: query, client: client)
            let second = try await send(Array(rows[middle...]), query: query, client: client)
            return (first.written + second.written, first.refused + second.refused, first.unmatched + second.unmatched)
        }
    }
}

/// Writes to another Bolt server (Memgraph on EC2, Neo4j): the same MERGE batches, keyed by the mapping's key
/// property or `migrate_id` (within the node's scope labels when the mapping scopes keys, as LightRAG merges on
/// its workspace label and `entity_id`), with values as they are (Bolt targets store lists and temporals
/// natively). Only the rows a query RETURNs count as written; an unsharded run dead-letters relationships
/// whose endpoints are not on the target.
struct BoltWriter: BatchWriter {
    typealias Row = GraphRow<PackStreamValue>

    let configuration: BoltConfiguration
    let mapping: GraphMapping
    let deadLetters: DeadLetterFile
    /// In a sharded run, relationships wait for their endpoints.
    let endpointWait: EndpointWait?
    private var connection: BoltConnection?
    /// Labels whose index on ``keyProperty`` this writer has made sure of.
    private var indexed: Set<String> = []

    init(configuration: BoltConfiguration, mapping: GraphMapping, deadLetters: DeadLetterFile, endpointWait: EndpointWait?) {
        self.configuration = configuration
        self.mapping = mapping
        self.deadLetters = deadLetters
        self.endpointWait = endpointWait
    }

    /// The property that identifies nodes on a Bolt target.
    var keyProperty: String { mapping.nodes.key ?? "migrate_id" }

    /// The record the run's checksum adds for `node`: the same canonical record (properties as literals) as
    /// Neptune's writer and `migrate verify graph` add, so the three checksums can be compared. A property with
    /// no literal form (which a Bolt target still stores) leaves the node's record at its id.
    private func checksumRecord(_ node: GraphNode) -> [UInt8] {
        var ignored: [String: Int] = [:]
        guard let properties = try? PropertyConverter(policy: mapping.properties).literals(node.properties, conversions: &ignored) else {
            return Array("n\u{0}\(node.id)".utf8)
        }
        return GraphRecord.node(id: node.id, labels: node.labels, properties: properties)
    }

    /// The record the run's checksum adds for `relationship`, as for nodes.
    private func checksumRecord(_ relationship: GraphRelationship) -> [UInt8] {
        var ignored: [String: Int] = [:]
        guard let properties = try? PropertyConverter(policy: mapping.properties).literals(relationship.properties, conversions: &ignored) else {
            return Array("r\u{0}\(relationship.id)".utf8)
        }
        return GraphRecord.relationship(id: relationship.id, type: relationship.type, start: relationship.start, end: relationship.end,
                                        properties: properties)
    }

    mutating func reset() async {
        await connection?.close()
        connection = nil
    }

    /// The labels a node is merged on, and its relationships' endpoints matched on: its scope labels when the
    /// mapping scopes keys, else all its labels (sorted).
    static func mergeLabels(_ identity: NodeIdentity, labels: [String]) -> [String] {
        identity.scope.flatMap { $0.isEmpty ? nil : $0 } ?? labels.sorted()
    }

    /// The statement that makes sure of an index on `label`(`property`): Memgraph's `CREATE INDEX ON :L(p)`
    /// (which leaves an existing one alone), Neo4j's `CREATE INDEX … IF NOT EXISTS`.
    static func indexStatement(label: String, property: String, memgraph: Bool) -> String {
        memgraph ? "CREATE INDEX ON :\(GraphReader.quote(label))(\(GraphReader.quote(property)))"
            : "CREATE INDEX IF NOT EXISTS FOR (n:\(GraphReader.quote(label))) ON (n.\(GraphReader.quote(property)))"
    }

    /// Creates the index on ``keyProperty`` of each of `labels` not indexed yet, before a MERGE or MATCH on
    /// them: without it every row of a batch scans the label (relationships: twice). A target that refuses
    /// (no schema privilege) is still written, slowly, and the report says why.
    private mutating func ensureIndexes(_ labels: [String], connection: BoltConnection, outcome: inout BatchOutcome) async throws {
        for label in labels where !indexed.contains(label) {
            do {
                _ = try await connection.query(Self.indexStatement(label: label, property: keyProperty, memgraph: connection.isMemgraph))
            } catch .failure(let code, let message) {
                outcome.problems.append("no index on :\(label)(\(keyProperty)) on the target, so every write scans the label: \(message) (\(code))")
            }
            indexed.insert(label)
        }
    }

    /// `:A:B` for labels.
    private static func labelText(_ labels: [String]) -> String {
        labels.map { ":" + GraphReader.quote($0) }.joined()
    }

    mutating func write(_ items: [GraphItem], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: items.count)
        outcome.select(items)
        let connection: BoltConnection
        if let existing = self.connection {
            connection = existing
        } else {
            connection = try await BoltConnection.connect(configuration)
            self.connection = connection
        }
        let key = GraphReader.quote(keyProperty)
        var groups: [String: (query: String, kind: Row.Kind, rows: [Row])] = [:]
        for item in items {
            switch item {
            case .node(let node):
                let labels = node.labels.sorted()
                // A scoped key is merged within its scope labels; the node's other labels are set on it.
                let merged = Self.mergeLabels(node.identity, labels: labels)
                try await ensureIndexes(merged, connection: connection, outcome: &outcome)
                let added = labels.filter { !merged.contains($0) }
                let group = merged.joined(separator: "\u{1}") + "\u{2}" + added.joined(separator: "\u{1}")
                let setLabels = added.isEmpty ? "" : " SET n\(Self.labelText(added))"
                let query = "UNWIND $rows AS row MERGE (n\(Self.labelText(merged)) {\(key): row.key}) SET n += row.props\(setLabels) RETURN row.id"
                let parameters = PackStreamValue.map([("id", .string(node.id)), ("key", .string(node.identity.key)), ("props", .map(node.properties))])
                groups[group, default: (query, .nodes(labels), [])].rows.append(Row(node, kind: groups[group]?.kind ?? .nodes(labels), parameters: parameters,
                                                                                    checksum: checksumRecord(node)))
            case .relationship(let relationship):
                let (from, to) = (Self.mergeLabels(relationship.from, labels: relationship.startLabels),
                                  Self.mergeLabels(relationship.to, labels: relationship.endLabels))
                try await ensureIndexes(from + to, connection: connection, outcome: &outcome)
                let group = [relationship.type, from.joined(separator: "\u{1}"), to.joined(separator: "\u{1}")].joined(separator: "\u{2}")
                let identity = mapping.relationships.id == .endpoints ? "" : " {migrate_id: row.id}"
                let query = """
                    UNWIND $rows AS row MATCH (a\(Self.labelText(from)) {\(key): row.from}) MATCH (b\(Self.labelText(to)) {\(key): row.to}) \
                    MERGE (a)-[r:\(GraphReader.quote(relationship.type))\(identity)]->(b) SET r += row.props RETURN row.id
                    """
                let parameters = PackStreamValue.map([
                    ("id", .string(relationship.id)), ("from", .string(relationship.from.key)), ("to", .string(relationship.to.key)),
                    ("props", .map(relationship.properties)),
                ])
                groups[group, default: (query, .relationships(relationship.type), [])].rows.append(Row(
                    relationship, kind: groups[group]?.kind ?? .relationships(relationship.type), parameters: parameters, checksum: checksumRecord(relationship)))
            }
        }
        var written: [Row] = []
        var refused: [JSONValue] = []
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            let sent = try await Self.send(group.rows, query: group.query, connection: connection)
            written += sent.written
            guard let endpointWait, partition == GraphPartition.relationships else {
                refused += sent.missing.map { GraphDeadLetter.withReason($0.record, GraphDeadLetter.unwritten(partition)) }
                continue
            }
            try await endpointWait.resend(sent.missing) { rows in
                let again = try await Self.send(rows, query: group.query, connection: connection)
                written += again.written
                return again.missing
            }
        }
        outcome.count(written: written)
        try await outcome.deadLetter(refused, to: deadLetters)
        return outcome
    }

    /// Runs one UNWIND batch; splits it into the rows whose id the query returned and those it did not (for
    /// relationships, those missing an endpoint).
    private static func send(_ rows: [Row], query: String, connection: BoltConnection) async throws -> (written: [Row], missing: [Row]) {
        let results = try await connection.query(query, parameters: [("rows", .list(rows.map(\.parameters)))])
        return Row.unacknowledged(rows, returned: Set(results.compactMap { $0.first?.string }))
    }
}
