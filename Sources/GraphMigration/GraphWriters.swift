import BlockingIO
import Bolt
import Foundation
import JSON
import MigrationCore
import Neptune

/// Appends records the target refused, one JSON object a line, to the file the report names.
actor DeadLetterFile {
    let path: String
    private(set) var count = 0
    private let queue = BlockingQueue(label: "migrate.dead-letter")

    init(path: String) {
        self.path = path
    }

    func append(_ entries: [JSONValue]) async {
        guard !entries.isEmpty else { return }
        count += entries.count
        let text = entries.map { JSONWriter.text($0) + "\n" }.joined()
        let path = self.path
        await queue.run {
            let url = URL(fileURLWithPath: path)
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if let handle = try? FileHandle(forWritingTo: url) {
                _ = try? handle.seekToEnd()
                handle.write(Data(text.utf8))
                try? handle.close()
            } else {
                try? Data(text.utf8).write(to: url)
            }
        }
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
    private var client: NeptuneClient?

    init(configuration: NeptuneConfiguration, converter: PropertyConverter, deadLetters: DeadLetterFile) {
        self.configuration = configuration
        self.converter = converter
        self.deadLetters = deadLetters
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
            refused += try await send(group.rows, query: group.query, client: client)
        }
        for (name, count) in conversions { outcome.tally.add("converted \(name)", count) }
        if !refused.isEmpty {
            outcome.tally.add("dead-lettered", refused.count)
            outcome.problems += refused.prefix(5).map { "dead-lettered \($0["kind"]?.string ?? "") \($0["id"]?.string ?? ""): \($0["reason"]?.string ?? "")" }
            await deadLetters.append(refused)
        }
        return outcome
    }

    /// Sends `rows`; on a 400, halves the batch until each refused row is alone, and returns those rows with
    /// Neptune's message. Relationships whose endpoints are missing come back refused too.
    private func send(_ rows: [GraphRow], query: String, client: NeptuneClient) async throws -> [JSONValue] {
        guard !rows.isEmpty else { return [] }
        do {
            let results = try await client.openCypher(query, parameters: .object([("rows", .array(rows.map(\.parameters)))]))
            let written = Set(results.compactMap { $0["id"]?.string })
            return rows.filter { !written.contains($0.parameters["id"]?.string ?? "") }.map {
                Self.withReason($0.record, "its start or end node is not on the target (was it refused?)")
            }
        } catch {
            guard case .status(400, _, let message) = error else { throw error }
            guard rows.count > 1 else { return [Self.withReason(rows[0].record, message)] }
            let middle = rows.count / 2
            return try await send(Array(rows[..<middle]), query: query, client: client)
                + send(Array(rows[middle...]), query: query, client: client)
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
    private var connection: BoltConnection?

    init(configuration: BoltConfiguration, mapping: GraphMapping) {
        self.configuration = configuration
        self.mapping = mapping
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
                let query = "UNWIND $rows AS row MATCH (a {\(key): row.from}) MATCH (b {\(key): row.to}) MERGE (a)-[r:\(type)\(identity)]->(b) SET r += row.props"
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
            _ = try await connection.query(group.query, parameters: [("rows", .list(group.rows))])
        }
        return outcome
    }
}
