import Bolt
import JSON
import MigrationCore

/// The two partitions of a graph run, in the order they must complete: relationships need their nodes.
enum GraphPartition {
    static let nodes = "nodes"
    static let relationships = "relationships"
}

/// Reads nodes or relationships from a Bolt server in internal-id order, a page per batch, without APOC:
/// `MATCH (n) WHERE id(n) > $last RETURN n ORDER BY id(n) LIMIT $batch` for nodes, and the outgoing
/// relationships of such a page of start nodes for relationships. Resumable after the last node id read.
/// With a shard, every page is read and only the shard's nodes (by target id) and relationships (by their own
/// id) are kept.
struct GraphReader: BatchReader {
    let connection: BoltConnection
    let partition: String
    let mapping: GraphMapping
    let batchSize: Int
    let shard: Shard?
    /// The last internal id read (-1 at the start).
    private(set) var last: Int64

    init(connection: BoltConnection, partition: String, mapping: GraphMapping, batchSize: Int, position: String, shard: Shard?) {
        self.connection = connection
        self.partition = partition
        self.mapping = mapping
        self.batchSize = batchSize
        self.shard = shard
        self.last = Int64(position) ?? -1
    }

    mutating func next() async throws -> ReadBatch<GraphItem> {
        let parameters: [(String, PackStreamValue)] = [("last", .int(last)), ("batch", .int(Int64(batchSize)))]
        var items: [GraphItem] = []
        if partition == GraphPartition.nodes {
            let records = try await connection.query("MATCH (n) WHERE id(n) > $last RETURN n ORDER BY id(n) LIMIT $batch", parameters: parameters)
            for record in records {
                let node = try Self.node(record.first ?? .null, mapping: mapping)
                if shard?.owns(node.id) ?? true { items.append(.node(node)) }
                last = node.sourceID
            }
            return ReadBatch(items: items, position: String(last), isLast: records.count < batchSize)
        } else {
            // Relationships are read by start node, a page of start nodes at a time: an id seek on nodes serves
            // every server, where `ORDER BY id(r)` over relationships would sort them all for every page.
            let endpoints = (mapping.identityColumns("a") + mapping.identityColumns("b")).map { ", " + $0 }.joined()
            let query = """
                MATCH (a) WHERE id(a) > $last WITH a ORDER BY id(a) LIMIT $batch \
                OPTIONAL MATCH (a)-[r]->(b) RETURN id(a), r\(endpoints) ORDER BY id(a), id(r)
                """
            var startNodes = Set<Int64>()
            for record in try await connection.query(query, parameters: parameters) {
                guard let start = record.first?.int else { continue }
                startNodes.insert(start)
                last = max(last, start)
                guard record.count > 1, record[1] != .null else { continue }
                let relationship = try Self.relationship(Array(record.dropFirst()), mapping: mapping)
                if shard?.owns(relationship.id) ?? true { items.append(.relationship(relationship)) }
            }
            return ReadBatch(items: items, position: String(last), isLast: startNodes.count < batchSize)
        }
    }

    static func node(_ value: PackStreamValue, mapping: GraphMapping) throws -> GraphNode {
        guard case .structure(0x4E, let fields) = value, fields.count >= 3, let id = fields[0].int else {
            throw BoltError.protocolViolation("expected a Node, got \(value)")
        }
        let properties = fields[2].map ?? []
        let labels = fields[1].list?.compactMap(\.string) ?? []
        return GraphNode(sourceID: id, identity: mapping.identity(sourceID: id, labels: labels, properties: properties), labels: labels, properties: properties)
    }

    /// A relationship from `r` and the ``GraphMapping/identityColumns(_:)`` of its start and end nodes.
    static func relationship(_ record: [PackStreamValue], mapping: GraphMapping) throws -> GraphRelationship {
        guard case .structure(0x52, let fields)? = record.first, fields.count >= 5, let id = fields[0].int,
              let start = fields[1].int, let end = fields[2].int, let type = fields[3].string else {
            throw BoltError.protocolViolation("expected a Relationship, got \(record.first ?? .null)")
        }
        let width = mapping.identityColumns("a").count
        let columns = record.dropFirst()
        let from = mapping.identity(sourceID: start, columns: columns.prefix(width))
        let to = mapping.identity(sourceID: end, columns: columns.dropFirst(width).prefix(width))
        return GraphRelationship(sourceID: id, id: mapping.relationshipID(sourceID: id, type: type, start: from.targetID, end: to.targetID),
                                 type: type, from: from, to: to, properties: fields[4].map ?? [])
    }

    /// A key property's value as an id: strings as they are, integers in decimal.
    static func keyText(_ value: PackStreamValue) -> String? {
        switch value {
        case .string(let text): return text
        case .int(let number): return String(number)
        default: return nil
        }
    }

    /// `` `name` `` with backticks doubled: labels, types and property names in generated Cypher.
    static func quote(_ name: String) -> String {
        "`" + name.replacingOccurrences(of: "`", with: "``") + "`"
    }
}
