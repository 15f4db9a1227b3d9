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

/// A row of an UNWIND batch, with what the dead-letter file needs if it is refused.
struct GraphRow {
    var parameters: JSONValue
    var record: JSONValue
}

/// Writes nodes and relationships to Neptune with `UNWIND $rows … MERGE … {`~id`: …}`: nodes grouped by label
/// set, relationships by type. A batch refused with a 400 is split until the refused rows are found; they go
/// to the dead-letter file and the rest lands. 5xx errors are retried by the pipeline (MERGE is idempotent).
struct NeptuneWriter: BatchWriter {
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
        let client = self.client ?? NeptuneClient(configuration)
        self.client = client
        var groups: [String: (query: String, rows: [GraphRow])] = [:]
        var conversions: [String: Int] = [:]
        var refused: [JSONValue] = []
        for item in items {
            switch item {
            case .node(let node):
                do {
                    let properties = try converter.literals(node.properties, conversions: &conversions)
                    let labels = node.labels.sorted()
                    let key = labels.joined(separator: "\u{1}")
                    let query = groups[key]?.query ?? "UNWIND $rows AS row MERGE (n\(labels.map { ":" + GraphReader.quote($0) }.joined()) {`~id`: row.id}) SET n += row.props RETURN row.id AS id"
                    let row = GraphRow(parameters: .object([("id", .string(node.id)), ("props", .object(properties))]), record: Self.deadLetter(node))
                    groups[key, default: (query, [])].rows.append(row)
                    outcome.checksum.add(record: GraphRecord.node(id: node.id, labels: node.labels, properties: properties))
                    outcome.tally.add("nodes")
                    outcome.tally.add("label \(labels.joined(separator: ":"))")
                } catch {
                    refused.append(Self.deadLetter(node, reason: "\(error)"))
                }
            case .relationship(let relationship):
                do {
                    let properties = try converter.literals(relationship.properties, conversions: &conversions)
                    let query = groups[relationship.type]?.query ?? """
                        UNWIND $rows AS row MATCH (a {`~id`: row.from}), (b {`~id`: row.to}) \
                        MERGE (a)-[r:\(GraphReader.quote(relationship.type)) {`~id`: row.id}]->(b) SET r += row.props RETURN row.id AS id
                        """
                    let row = GraphRow(parameters: .object([("id", .string(relationship.id)), ("from", .string(relationship.start)),
                                                            ("to", .string(relationship.end)), ("props", .object(properties))]),
                                       record: Self.deadLetter(relationship))
                    groups[relationship.type, default: (query, [])].rows.append(row)
                    outcome.checksum.add(record: GraphRecord.relationship(id: relationship.id, type: relationship.type, start: relationship.start,
                                                                          end: relationship.end, properties: properties))
                    outcome.tally.add("relationships")
                    outcome.tally.add("type \(relationship.type)")
                } catch {
                    refused.append(Self.deadLetter(relationship, reason: "\(error)"))
                }
            }
        }
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            let sent = try await send(group.rows, query: group.query, client: client)
            refused += sent.refused
            guard let endpointWait else {
                refused += sent.unmatched.map { Self.withReason($0.record, "its start or end node is not on the target (was it refused?)") }
                continue
            }
            try await endpointWait.resend(sent.unmatched) { rows in
                let again = try await send(rows, query: group.query, client: client)
                refused += again.refused
                return again.unmatched
            }
        }
        for (name, count) in conversions { outcome.tally.add("converted \(name)", count) }
        if !refused.isEmpty {
            outcome.tally.add("dead-lettered", refused.count)
            outcome.problems += refused.prefix(5).map { "dead-lettered \($0["kind"]?.string ?? "") \($0["id"]?.string ?? ""): \($0["reason"]?.string ?? "")" }
            try await deadLetters.append(refused)
        }
        return outcome
    }

    /// Sends `rows`; on a 400, halves the batch until each refused row is alone. Returns those rows with
    /// Neptune's message, and the rows that wrote nothing: relationships whose start or end node is missing.
    private func send(_ rows: [GraphRow], query: String, client: NeptuneClient) async throws -> (refused: [JSONValue], unmatched: [GraphRow]) {
        guard !rows.isEmpty else { return ([], []) }
        do {
            let results = try await client.openCypher(query, parameters: .object([("rows", .array(rows.map(\.parameters)))]))
            let written = Set(results.compactMap { $0["id"]?.string })
            return ([], rows.filter { !written.contains($0.parameters["id"]?.string ?? "") })
        } catch {
            guard case .status(400, _, let message) = error else { throw error }
            guard rows.count > 1 else { return ([Self.withReason(rows[0].record, message)], []) }
            let middle = rows.count / 2
            let first = try await send(Array(rows[..<middle]), query: query, client: client)
            let second = try await send(Array(rows[middle...]), query: query, client: client)
            return (first.refused + second.refused, first.unmatched + second.unmatched)
        }
    }

    static func deadLetter(_ node: GraphNode, reason: String? = nil) -> JSONValue {
        var fields: [(String, JSONValue)] = [("kind", .string("node")), ("id", .string(node.id)), ("source_id", .int(node.sourceID)),
                                             ("labels", .array(node.labels.map { .string($0) }))]
        fields.append(("properties", .string(node.properties.map { "\($0.0)=\($0.1)" }.joined(separator: ", "))))
        if let reason { fields.append(("reason", .string(reason))) }
        return .object(fields)
    }

    static func deadLetter(_ relationship: GraphRelationship, reason: String? = nil) -> JSONValue {
        var fields: [(String, JSONValue)] = [("kind", .string("relationship")), ("id", .string(relationship.id)), ("source_id", .int(relationship.sourceID)),
                                             ("type", .string(relationship.type)), ("start", .string(relationship.start)), ("end", .string(relationship.end))]
        fields.append(("properties", .string(relationship.properties.map { "\($0.0)=\($0.1)" }.joined(separator: ", "))))
        if let reason { fields.append(("reason", .string(reason))) }
        return .object(fields)
    }

    static func withReason(_ record: JSONValue, _ reason: String) -> JSONValue {
        guard case .object(var fields) = record else { return record }
        fields.append(("reason", .string(reason)))
        return .object(fields)
    }
}

/// Writes to another Bolt server (Memgraph on EC2, Neo4j): the same MERGE batches, keyed by the mapping's key
/// property or `migrate_id`, with values as they are (Bolt targets store lists and temporals natively).
struct BoltWriter: BatchWriter {
    let configuration: BoltConfiguration
    let mapping: GraphMapping
    /// In a sharded run, relationships wait for their endpoints.
    let endpointWait: EndpointWait?
    private var connection: BoltConnection?

    init(configuration: BoltConfiguration, mapping: GraphMapping, endpointWait: EndpointWait?) {
        self.configuration = configuration
        self.mapping = mapping
        self.endpointWait = endpointWait
    }

    /// The property that identifies nodes on a Bolt target.
    var keyProperty: String { mapping.nodes.key ?? "migrate_id" }

    mutating func reset() async {
        await connection?.close()
        connection = nil
    }

    mutating func write(_ items: [GraphItem], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: items.count)
        let connection: BoltConnection
        if let existing = self.connection {
            connection = existing
        } else {
            connection = try await BoltConnection.connect(configuration)
            self.connection = connection
        }
        let key = GraphReader.quote(keyProperty)
        var groups: [String: (query: String, rows: [PackStreamValue])] = [:]
        for item in items {
            switch item {
            case .node(let node):
                let labels = node.labels.sorted()
                let group = labels.joined(separator: "\u{1}")
                let query = "UNWIND $rows AS row MERGE (n\(labels.map { ":" + GraphReader.quote($0) }.joined()) {\(key): row.id}) SET n += row.props"
                groups[group, default: (query, [])].rows.append(.map([("id", .string(node.id)), ("props", .map(node.properties))]))
                outcome.tally.add("nodes")
                outcome.tally.add("label \(labels.joined(separator: ":"))")
                outcome.checksum.add(record: Array("n\u{0}\(node.id)".utf8))
            case .relationship(let relationship):
                let type = GraphReader.quote(relationship.type)
                let identity = mapping.relationships.id == .endpoints ? "" : " {migrate_id: row.id}"
                let query = "UNWIND $rows AS row MATCH (a {\(key): row.from}) MATCH (b {\(key): row.to}) MERGE (a)-[r:\(type)\(identity)]->(b) SET r += row.props RETURN row.id"
                groups[relationship.type, default: (query, [])].rows.append(.map([
                    ("id", .string(relationship.id)), ("from", .string(relationship.start)), ("to", .string(relationship.end)),
                    ("props", .map(relationship.properties)),
                ]))
                outcome.tally.add("relationships")
                outcome.tally.add("type \(relationship.type)")
                outcome.checksum.add(record: Array("r\u{0}\(relationship.id)".utf8))
            }
        }
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            let unmatched = try await Self.send(group.rows, query: group.query, connection: connection)
            guard partition == GraphPartition.relationships, let endpointWait, !unmatched.isEmpty else { continue }
            try await endpointWait.resend(unmatched) { try await Self.send($0, query: group.query, connection: connection) }
        }
        return outcome
    }

    /// Runs one UNWIND batch; returns the rows whose id the query did not return: for relationships, those
    /// missing an endpoint (node queries return nothing).
    private static func send(_ rows: [PackStreamValue], query: String, connection: BoltConnection) async throws -> [PackStreamValue] {
        let results = try await connection.query(query, parameters: [("rows", .list(rows))])
        let written = Set(results.compactMap { $0.first?.string })
        return rows.filter { row in !written.contains(row.map?.first { $0.0 == "id" }?.1.string ?? "") }
    }
}
