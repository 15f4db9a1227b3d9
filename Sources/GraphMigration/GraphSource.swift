import Bolt
import JSON
import MigrationCore

/// The two partitions of a graph run, in the order they must complete: relationships need their nodes.
enum GraphPartition {
    static let nodes = "nodes"
    static let relationships = "relationships"
}

/// Streams nodes or relationships from a Bolt server with one query per partition, in internal-id order, a
/// batch per Bolt `PULL {n}` (the server holds the rest back), without APOC:
/// `MATCH (n) WHERE id(n) > $last RETURN n ORDER BY id(n)` for nodes and
/// `MATCH (a)-[r]->(b) WHERE id(r) > $last RETURN r, … ORDER BY id(r)` for relationships, so reading a graph
/// examines each node and relationship about once (paging with `… LIMIT $batch` would scan every node per page
/// on Neo4j 5 and Memgraph, which seek `id(n) = x` but not a range). A position is the last internal id read:
/// after a kill, the same query from that id yields exactly the records not yet read. Relationships are batched
/// by their own order, independently of their endpoints, so a node's degree never sizes a batch.
/// A shard reads only its ``ShardRange`` of ids.
struct GraphReader: BatchReader {
    let connection: BoltConnection
    let partition: String
    let mapping: GraphMapping
    let batchSize: Int
    /// The ids this reader reads (a shard's range, or all).
    let range: ShardRange
    /// The last internal id read (-1 at the start).
    private(set) var last: Int64
    /// Whether the query runs (it is sent with the first batch).
    private var streaming = false

    init(connection: BoltConnection, partition: String, mapping: GraphMapping, batchSize: Int, position: String, range: ShardRange = .all) {
        self.connection = connection
        self.partition = partition
        self.mapping = mapping
        self.batchSize = batchSize
        self.range = range
        self.last = max(Int64(position) ?? -1, range.after)
    }

    /// The partition's query, for internal ids after `$last` up to `$through`.
    static func query(_ partition: String, mapping: GraphMapping) -> String {
        guard partition == GraphPartition.relationships else {
            return "MATCH (n) WHERE id(n) > $last AND id(n) <= $through RETURN n ORDER BY id(n)"
        }
        let endpoints = (mapping.identityColumns("a") + mapping.identityColumns("b")).map { ", " + $0 }.joined()
        return "MATCH (a)-[r]->(b) WHERE id(r) > $last AND id(r) <= $through RETURN r\(endpoints), labels(a) AS startLabels, labels(b) AS endLabels ORDER BY id(r)"
    }

    mutating func next() async throws -> ReadBatch<GraphItem> {
        if !streaming {
            _ = try await connection.run(Self.query(partition, mapping: mapping), parameters: [("last", .int(last)), ("through", .int(range.through))])
            streaming = true
        }
        let page = try await connection.pull(batchSize)
        var items: [GraphItem] = []
        items.reserveCapacity(page.records.count)
        for record in page.records {
            if partition == GraphPartition.nodes {
                let node = try Self.node(record.first ?? .null, mapping: mapping)
                items.append(.node(node))
                last = node.sourceID
            } else {
                let relationship = try Self.relationship(record, mapping: mapping)
                items.append(.relationship(relationship))
                last = relationship.sourceID
            }
        }
        if !page.hasMore { await connection.close() }
        return ReadBatch(items: items, position: String(last), isLast: !page.hasMore)
    }

    static func node(_ value: PackStreamValue, mapping: GraphMapping) throws -> GraphNode {
        guard case .structure(0x4E, let fields) = value, fields.count >= 3, let id = fields[0].int else {
            throw BoltError.protocolViolation("expected a Node, got \(value)")
        }
        let properties = fields[2].map ?? []
        let labels = fields[1].list?.compactMap(\.string) ?? []
        return GraphNode(sourceID: id, identity: mapping.identity(sourceID: id, labels: labels, properties: properties), labels: labels, properties: properties)
    }

    /// A relationship from `r`, the ``GraphMapping/identityColumns(_:)`` of its start and end nodes and, when
    /// present, their labels.
    static func relationship(_ record: [PackStreamValue], mapping: GraphMapping) throws -> GraphRelationship {
        guard case .structure(0x52, let fields)? = record.first, fields.count >= 5, let id = fields[0].int,
              let start = fields[1].int, let end = fields[2].int, let type = fields[3].string else {
            throw BoltError.protocolViolation("expected a Relationship, got \(record.first ?? .null)")
        }
        let width = mapping.identityColumns("a").count
        let columns = record.dropFirst()
        let from = mapping.identity(sourceID: start, columns: columns.prefix(width))
        let to = mapping.identity(sourceID: end, columns: columns.dropFirst(width).prefix(width))
        let labels = record.count >= 3 + 2 * width ? record.suffix(2).map { $0.list?.compactMap(\.string) ?? [] } : [[], []]
        return GraphRelationship(sourceID: id, id: mapping.relationshipID(sourceID: id, type: type, start: from.targetID, end: to.targetID),
                                 type: type, from: from, to: to, startLabels: labels[0], endLabels: labels[1], properties: fields[4].map ?? [])
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

/// The internal ids a shard of a `--shard i/N` run reads: those in `(after, through]`. The source's ids are cut
/// at quantiles of a sample (every k-th id, about `samples` of them), so the shards get about equal shares and
/// each reads only its range: the union of the shards is every record, once. Every shard computes the same cuts
/// from the same graph.
struct ShardRange: Sendable, Equatable {
    var after: Int64
    var through: Int64

    /// The whole graph.
    static let all = ShardRange(after: -1, through: Int64.max)

    /// Shard `shard`'s range of `partition` on the source.
    static func read(_ partition: String, shard: Shard, connection: BoltConnection, samples: Int = 1_000) async throws -> ShardRange {
        let (count, sample) = partition == GraphPartition.nodes
            ? ("MATCH (n) RETURN count(n)", "MATCH (n) WITH id(n) AS i WHERE i % $step = 0 RETURN i ORDER BY i")
            : ("MATCH ()-[r]->() RETURN count(r)", "MATCH ()-[r]->() WITH id(r) AS i WHERE i % $step = 0 RETURN i ORDER BY i")
        let total = try await connection.query(count).first?.first?.int ?? 0
        let step = max(1, total / Int64(samples))
        let ids = try await connection.query(sample, parameters: [("step", .int(step))]).compactMap { $0.first?.int }
        return cut(ids, shard: shard)
    }

    /// Shard `shard`'s range when the sorted sample `ids` is cut into `shard.count` equal parts.
    static func cut(_ ids: [Int64], shard: Shard) -> ShardRange {
        func boundary(_ part: Int) -> Int64 {
            if part == 0 { return -1 }
            if part >= shard.count { return Int64.max }
            let index = ids.count * part / shard.count
            return index < ids.count ? ids[index] - 1 : Int64.max
        }
        return ShardRange(after: boundary(shard.index), through: boundary(shard.index + 1))
    }
}
