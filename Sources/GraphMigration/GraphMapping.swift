import Bolt
import Foundation
import Hashing
import MigrationCore
import Yams

/// How a graph's nodes and relationships get their target ids and properties (`--mapping`).
public struct GraphMapping: Sendable, Hashable, Decodable {
    /// Node identity.
    public struct Nodes: Sendable, Hashable, Decodable {
        /// The property whose value becomes the target id (LightRAG: `entity_id`); the source's internal id
        /// (as `n<id>`) when absent or when a node lacks it.
        public var key: String?
        /// Where `key` is unique, when not in the whole graph: a node's identity is then its scope labels and
        /// its key (LightRAG: the workspace label and `entity_id`).
        public var scope: Scope?

        public init(key: String? = nil, scope: Scope? = nil) {
            self.key = key
            self.scope = scope
        }

        enum CodingKeys: String, CodingKey { case key, scope }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(["key", "scope"])
            let container = try decoder.container(keyedBy: CodingKeys.self)
            key = try container.decodeIfPresent(String.self, forKey: .key)
            scope = try container.decodeIfPresent(Scope.self, forKey: .scope)
            if scope != nil && key == nil {
                throw DecodingError.dataCorruptedError(forKey: .scope, in: container, debugDescription:
                    "nodes.scope needs nodes.key: the scope says where the key is unique (the source's internal ids are unique in the whole graph)")
            }
        }
    }

    /// Which of a node's labels name the scope its key is unique in. Exactly one rule is given.
    public struct Scope: Sendable, Hashable, Decodable {
        /// The labels that name scopes (workspaces): a node's scope is those of its labels in this list.
        public var labels: [String]?
        /// Every label except the one equal to this property's value names the scope (LightRAG labels a node
        /// with its workspace and its `entity_type`).
        public var labelsExceptProperty: String?

        public init(labels: [String]? = nil, labelsExceptProperty: String? = nil) {
            self.labels = labels
            self.labelsExceptProperty = labelsExceptProperty
        }

        enum CodingKeys: String, CodingKey {
            case labels
            case labelsExceptProperty = "labels-except-property"
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(["labels", "labels-except-property"])
            let container = try decoder.container(keyedBy: CodingKeys.self)
            labels = try container.decodeIfPresent([String].self, forKey: .labels)
            labelsExceptProperty = try container.decodeIfPresent(String.self, forKey: .labelsExceptProperty)
            guard (labels == nil) != (labelsExceptProperty == nil) else {
                throw DecodingError.dataCorruptedError(forKey: .labels, in: container, debugDescription:
                    "nodes.scope takes exactly one of `labels: [workspace labels]` or `labels-except-property: <property>`")
            }
        }

        /// The scope of a node with `labels` whose `labelsExceptProperty` property has the text `property`: sorted.
        func of(labels nodeLabels: [String], property: String?) -> [String] {
            if let labels { return nodeLabels.filter(labels.contains).sorted() }
            return nodeLabels.filter { $0 != property }.sorted()
        }
    }

    /// Relationship identity.
    public struct Relationships: Sendable, Hashable, Decodable {
        /// `endpoints`: the id is a digest of (start id, type, end id), so there is one relationship of a type
        /// between two nodes (LightRAG's DIRECTED edges); `source` (default): `r<internal id>`.
        public var id: IDRule
        public init(id: IDRule = .source) { self.id = id }

        enum CodingKeys: String, CodingKey { case id }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(["id"])
            id = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(IDRule.self, forKey: .id) ?? .source
        }

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
        try decoder.rejectUnknownFields(["nodes", "relationships", "properties"])
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

    /// The node identity rule in a few words, for fingerprints and reports.
    var identityRule: String {
        guard let key = nodes.key else { return "internal id" }
        switch (nodes.scope?.labels, nodes.scope?.labelsExceptProperty) {
        case (let labels?, _): return "\(key) within labels \(labels.joined(separator: ","))"
        case (_, let property?): return "\(key) within the labels but \(property)"
        default: return key
        }
    }

    /// The Cypher expressions a query returns for the node bound to `variable` so that
    /// ``identity(sourceID:columns:)`` can tell its identity without reading the whole node.
    func identityColumns(_ variable: String) -> [String] {
        guard let key = nodes.key else { return [] }
        var columns = ["\(variable).\(GraphReader.quote(key))"]
        if let scope = nodes.scope {
            columns.append("labels(\(variable))")
            if let property = scope.labelsExceptProperty { columns.append("\(variable).\(GraphReader.quote(property))") }
        }
        return columns
    }

    /// The identity of node `sourceID` from the values of ``identityColumns(_:)``.
    func identity(sourceID: Int64, columns: ArraySlice<PackStreamValue>) -> NodeIdentity {
        let values = Array(columns)
        let labels = values.count > 1 ? values[1].list?.compactMap(\.string) ?? [] : []
        return identity(sourceID: sourceID, key: values.first, labels: labels, scopeProperty: values.count > 2 ? values[2] : nil)
    }

    /// The identity of node `sourceID` with these labels and properties.
    func identity(sourceID: Int64, labels: [String], properties: [(String, PackStreamValue)]) -> NodeIdentity {
        func value(_ name: String?) -> PackStreamValue? { name.flatMap { name in properties.first { $0.0 == name }?.1 } }
        return identity(sourceID: sourceID, key: value(nodes.key), labels: labels, scopeProperty: value(nodes.scope?.labelsExceptProperty))
    }

    private func identity(sourceID: Int64, key: PackStreamValue?, labels: [String], scopeProperty: PackStreamValue?) -> NodeIdentity {
        guard let text = key.flatMap(GraphReader.keyText) else { return NodeIdentity(scope: nil, key: "n\(sourceID)") }
        return NodeIdentity(scope: nodes.scope?.of(labels: labels, property: scopeProperty?.string), key: text)
    }

    /// The target id of a relationship.
    func relationshipID(sourceID: Int64, type: String, start: String, end: String) -> String {
        switch relationships.id {
        case .source: return "r\(sourceID)"
        case .endpoints: return "r-" + Array(SHA256Hasher.hash(Array("\(start)\u{0}\(type)\u{0}\(end)".utf8)).prefix(16)).hexString
        }
    }
}

/// Who a node is on the target: its key (the mapping's key property, or `n<internal id>`) and, when the mapping
/// scopes keys, the labels of its scope.
public struct NodeIdentity: Sendable, Hashable {
    /// The scope labels, sorted; nil when keys are not scoped (or the node has no key).
    public let scope: [String]?
    /// The key property's value as text, or `n<internal id>`.
    public let key: String
    /// The id on the target (Neptune's `~id`), unique in the whole graph: the key, prefixed by the scope when
    /// keys are scoped (`ws_a:Alice`; `%`, `,` and `:` in scope labels are percent-escaped so ids never clash).
    /// Built once: every row, checksum and relationship endpoint reads it.
    public let targetID: String

    /// The identity of `key` within `scope`.
    public init(scope: [String]?, key: String) {
        self.scope = scope
        self.key = key
        targetID = scope.map { $0.map(Self.escape).joined(separator: ",") + ":" + key } ?? key
    }

    private static func escape(_ label: String) -> String {
        guard label.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: ":") }) else { return label }
        return label.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: ",", with: "%2C").replacingOccurrences(of: ":", with: "%3A")
    }
}
