import Bolt
import MigrationCore

/// Source nodes that would get the same target identity (Neptune's `~id`, or the MERGE key on a Bolt target):
/// written as they are, the second would overwrite the first (or be refused), and its relationships would land on
/// the wrong node. Found before anything is written.
public struct NodeIdentityCollision: Error, Sendable, CustomStringConvertible {
    /// One target identity and the source nodes that share it.
    public struct Example: Sendable, Equatable {
        public var identity: NodeIdentity
        /// Internal ids of two of the source nodes.
        public var sourceIDs: [Int64]
    }

    /// The source nodes whose target identity an earlier node already has.
    public var count: Int
    /// The first of them.
    public var examples: [Example]
    /// The mapping's key property.
    public var key: String

    public var description: String {
        let shown = examples.map { example in
            let scope = example.identity.scope.map { " in scope \($0.isEmpty ? "(no label)" : $0.joined(separator: ":"))" } ?? ""
            return "source nodes \(example.sourceIDs.map(String.init).joined(separator: " and ")) both become `\(example.identity.targetID)` (\(key) \(example.identity.key)\(scope))"
        }
        return "\(count) source node(s) would get the target id of another node, and overwrite it; nothing was written: " +
            shown.joined(separator: "; ") +
            ". Make the mapping's identity unique: if `\(key)` is unique per workspace only, give nodes.scope " +
            "(`labels-except-property: entity_type` for LightRAG's workspace labels, or `labels: [ws_a, ws_b]`), else pick a unique nodes.key."
    }
}

/// Streams every source node's identity columns (never its properties) and finds target identities that two
/// nodes share. Memory: one hash and one internal id per node; a repeated hash is confirmed by reading the
/// first node's identity again, so a hash collision is never reported.
enum NodeIdentityCheck {
    /// Throws ``NodeIdentityCollision`` when two source nodes would get one target identity.
    static func run(_ source: BoltConfiguration, mapping: GraphMapping, examples: Int = 5) async throws {
        if let collision = try await collisions(source, mapping: mapping, examples: examples) { throw collision }
    }

    /// The collisions, if any. Without a key property every node keeps its internal id: nothing to read.
    static func collisions(_ source: BoltConfiguration, mapping: GraphMapping, examples: Int = 5, pull: Int = 10_000) async throws -> NodeIdentityCollision? {
        guard let key = mapping.nodes.key else { return nil }
        let columns = mapping.identityColumns("n").map { ", " + $0 }.joined()
        let connection = try await BoltConnection.connect(source)
        do {
            var first: [Int: Int64] = [:]
            var repeats: [(first: Int64, identity: NodeIdentity, sourceID: Int64)] = []
            _ = try await connection.run("MATCH (n) RETURN id(n)\(columns)")
            var more = true
            while more {
                let page = try await connection.pull(pull)
                more = page.hasMore
                for record in page.records {
                    guard let sourceID = record.first?.int else { continue }
                    let identity = mapping.identity(sourceID: sourceID, columns: record.dropFirst())
                    let hash = identity.targetID.hashValue
                    if let earlier = first[hash] {
                        repeats.append((earlier, identity, sourceID))
                    } else {
                        first[hash] = sourceID
                    }
                }
            }
            var confirmed: [NodeIdentityCollision.Example] = []
            var unconfirmed: [String: [(NodeIdentity, Int64)]] = [:]
            var count = 0
            for start in stride(from: 0, to: repeats.count, by: 5_000) {
                let chunk = repeats[start..<min(start + 5_000, repeats.count)]
                let rows = try await connection.query("MATCH (n) WHERE id(n) IN $ids RETURN id(n)\(columns)",
                                                      parameters: [("ids", .list(Set(chunk.map(\.first)).map { .int($0) }))])
                var earlier: [Int64: String] = [:]
                for row in rows {
                    guard let sourceID = row.first?.int else { continue }
                    earlier[sourceID] = mapping.identity(sourceID: sourceID, columns: row.dropFirst()).targetID
                }
                for candidate in chunk {
                    if earlier[candidate.first] == candidate.identity.targetID {
                        count += 1
                        if confirmed.count < examples {
                            confirmed.append(.init(identity: candidate.identity, sourceIDs: [candidate.first, candidate.sourceID]))
                        }
                    } else {
                        unconfirmed[candidate.identity.targetID, default: []].append((candidate.identity, candidate.sourceID))
                    }
                }
            }
            // Nodes whose hash only matched another id's can still share an id among themselves.
            for (_, nodes) in unconfirmed.sorted(by: { $0.key < $1.key }) where nodes.count > 1 {
                count += nodes.count - 1
                if confirmed.count < examples {
                    confirmed.append(.init(identity: nodes[0].0, sourceIDs: [nodes[0].1, nodes[1].1]))
                }
            }
            await connection.close()
            return count == 0 ? nil : NodeIdentityCollision(count: count, examples: confirmed, key: key)
        } catch {
            await connection.close()
            throw error
        }
    }
}
