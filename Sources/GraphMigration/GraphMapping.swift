import Foundation
import Hashing
import Yams

/// How a graph's nodes and relationships get their target ids and properties (`--mapping`).
public struct GraphMapping: Sendable, Hashable, Decodable {
    /// Node identity.
    public struct Nodes: Sendable, Hashable, Decodable {
        /// The property whose value becomes the target id (LightRAG: `entity_id`); the source's internal id
        /// (as `n<id>`) when absent or when a node lacks it.
        public var key: String?
        public init(key: String? = nil) { self.key = key }
    }

    /// Relationship identity.
    public struct Relationships: Sendable, Hashable, Decodable {
        /// `endpoints`: the id is a digest of (start id, type, end id), so there is one relationship of a type
        /// between two nodes (LightRAG's DIRECTED edges); `source` (default): `r<internal id>`.
        public var id: IDRule
        public init(id: IDRule = .source) { self.id = id }

        public enum IDRule: String, Sendable, Hashable, Decodable {
            case source, endpoints
        }
    }

    public var nodes: Nodes
    public var relationships: Relationships
    public var properties: PropertyPolicy

    public init(nodes: Nodes = .init(), relationships: Relationships = .init(), properties: PropertyPolicy = .init()) {
        self.nodes = nodes
        self.relationships = relationships
        self.properties = properties
    }

    enum CodingKeys: String, CodingKey { case nodes, relationships, properties }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        nodes = try container.decodeIfPresent(Nodes.self, forKey: .nodes) ?? .init()
        relationships = try container.decodeIfPresent(Relationships.self, forKey: .relationships) ?? .init()
        properties = try container.decodeIfPresent(PropertyPolicy.self, forKey: .properties) ?? .init()
    }

    /// A mapping file that cannot be used.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Loads `path`.
    public static func load(_ path: String) throws(Invalid) -> GraphMapping {
        guard let data = FileManager.default.contents(atPath: path) else { throw Invalid(description: "cannot read mapping file '\(path)': check the path") }
        do {
            return try YAMLDecoder().decode(GraphMapping.self, from: data)
        } catch {
            throw Invalid(description: "graph mapping '\(path)' is not valid: \(error)")
        }
    }

    /// The target id of a relationship.
    func relationshipID(sourceID: Int64, type: String, start: String, end: String) -> String {
        switch relationships.id {
        case .source: return "r\(sourceID)"
        case .endpoints: return "r-" + Array(SHA256Hasher.hash(Array("\(start)\u{0}\(type)\u{0}\(end)".utf8)).prefix(16)).hexString
        }
    }
}
