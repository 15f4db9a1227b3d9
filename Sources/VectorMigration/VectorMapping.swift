import Foundation
import MigrationCore
import Qdrant
import Yams

/// How one source table or collection becomes one target collection or table.
public struct CollectionMapping: Sendable, Hashable, Decodable {
    /// Where rows come from.
    public struct Source: Sendable, Hashable, Decodable {
        /// A PostgreSQL table; `{suffix}` matches nothing or `_anything` (LightRAG's `_<model>_<dim>d`).
        public var table: String?
        /// The table's schema.
        public var schema: String?
        /// A Qdrant collection (same `{suffix}` rule).
        public var collection: String?

        public init(table: String? = nil, schema: String? = nil, collection: String? = nil) {
            self.table = table
            self.schema = schema
            self.collection = collection
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case table, schema, collection }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(table: try container.decodeIfPresent(String.self, forKey: .table),
                      schema: try container.decodeIfPresent(String.self, forKey: .schema),
                      collection: try container.decodeIfPresent(String.self, forKey: .collection))
        }
    }

    /// Where rows go.
    public struct Target: Sendable, Hashable, Decodable {
        /// A Qdrant collection; `{suffix}` is the source's.
        public var collection: String?
        /// A PostgreSQL table.
        public var table: String?
        /// `shard_number` of a new collection.
        public var shards: Int?
        /// `replication_factor` of a new collection: copies of each shard, on different peers.
        public var replicationFactor: Int?
        /// `write_consistency_factor` of a new collection: replicas that must apply a write.
        public var writeConsistencyFactor: Int?
        /// `on_disk` of every dense vector of a new collection.
        public var onDisk: Bool?
        /// `on_disk_payload` of a new collection.
        public var onDiskPayload: Bool?

        public init(collection: String? = nil, table: String? = nil, shards: Int? = nil, replicationFactor: Int? = nil,
                    writeConsistencyFactor: Int? = nil, onDisk: Bool? = nil, onDiskPayload: Bool? = nil) {
            self.collection = collection
            self.table = table
            self.shards = shards
            self.replicationFactor = replicationFactor
            self.writeConsistencyFactor = writeConsistencyFactor
            self.onDisk = onDisk
            self.onDiskPayload = onDiskPayload
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case collection, table, shards, replicationFactor = "replication_factor", writeConsistencyFactor = "write_consistency_factor"
            case onDisk = "on_disk", onDiskPayload = "on_disk_payload"
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(collection: try container.decodeIfPresent(String.self, forKey: .collection),
                      table: try container.decodeIfPresent(String.self, forKey: .table),
                      shards: try container.decodeIfPresent(Int.self, forKey: .shards),
                      replicationFactor: try container.decodeIfPresent(Int.self, forKey: .replicationFactor),
                      writeConsistencyFactor: try container.decodeIfPresent(Int.self, forKey: .writeConsistencyFactor),
                      onDisk: try container.decodeIfPresent(Bool.self, forKey: .onDisk),
                      onDiskPayload: try container.decodeIfPresent(Bool.self, forKey: .onDiskPayload))
        }

        /// The collection settings this target asks for (`nil` where it says nothing).
        public var shardSettings: ShardSettings {
            ShardSettings(shards: shards, replicationFactor: replicationFactor, writeConsistencyFactor: writeConsistencyFactor,
                          onDiskVectors: onDisk, onDiskPayload: onDiskPayload)
        }
    }

    /// A source column that holds a vector.
    public struct VectorField: Sendable, Hashable, Decodable {
        /// The source column (PostgreSQL) or vector name (Qdrant; empty for the unnamed vector).
        public var column: String
        /// The target vector's name; `nil` for Qdrant's unnamed default vector.
        public var name: String?
        /// `Cosine`, `Dot`, `Euclid` or `Manhattan` (for dense vectors of new collections).
        public var distance: String?

        public init(column: String, name: String? = nil, distance: String? = nil) {
            self.column = column
            self.name = name
            self.distance = distance
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case column, name, distance }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(column: try container.decode(String.self, forKey: .column),
                      name: try container.decodeIfPresent(String.self, forKey: .name),
                      distance: try container.decodeIfPresent(String.self, forKey: .distance))
        }
    }

    /// How one payload field is made.
    public struct PayloadField: Sendable, Hashable, Decodable {
        /// How a column's value is converted.
        public enum Conversion: String, Sendable, Hashable, Decodable {
            /// Timestamps and dates as integer Unix seconds.
            case epoch
            /// Arrays joined into one string with `separator`.
            case joined
            /// Any value as text.
            case text
        }

        /// The payload field's name.
        public var field: String
        /// The source column (or payload field, for Qdrant sources).
        public var column: String?
        /// The conversion; values keep their type when `nil`.
        public var `as`: Conversion?
        /// The separator for `joined`.
        public var separator: String?
        /// The value when the column is NULL or empty (LightRAG writes `_` for an empty workspace).
        public var `default`: String?

        public init(field: String, column: String?, as conversion: Conversion? = nil, separator: String? = nil, default value: String? = nil) {
            self.field = field
            self.column = column
            self.as = conversion
            self.separator = separator
            self.default = value
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case field, column, `as`, separator, `default` }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(field: try container.decode(String.self, forKey: .field),
                      column: try container.decodeIfPresent(String.self, forKey: .column),
                      as: try container.decodeIfPresent(Conversion.self, forKey: .as),
                      separator: try container.decodeIfPresent(String.self, forKey: .separator),
                      default: try container.decodeIfPresent(String.self, forKey: .default))
        }
    }

    /// A name for reports and checkpoints.
    public var name: String
    /// Where rows come from.
    public var source: Source
    /// Where rows go.
    public var target: Target
    /// The key columns; the table's primary key when absent.
    public var key: [String]?
    /// How point ids are made; `keep` for a single integer/UUID key, else `uuid5`, when absent.
    public var id: PointIDRule?
    /// The columns that feed the id rule, in order; the key when absent.
    public var idColumns: [String]?
    /// The vector columns; every vector column when absent.
    public var vectors: [VectorField]?
    /// A payload field indexed as Qdrant's tenant key (`is_tenant`), counted per value by verify.
    public var tenant: String?
    /// `hnsw_config` for a new collection (e.g. LightRAG's `{m: 0, payload_m: 16}`).
    public var hnsw: [String: Int]?
    /// The payload; every non-vector column under its own name when absent.
    public var payload: [PayloadField]?
    /// Whether a source that matches nothing is skipped rather than refused (a table the application may not
    /// have created yet).
    public var optional: Bool
    /// How workspace names change on the way (the file's `workspaces:`, with `--workspace` applied).
    public var workspaces: WorkspaceRule?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, source, target, key, id, idColumns = "id_columns", vectors, tenant, hnsw, payload, optional
    }

    public init(name: String, source: Source, target: Target, key: [String]? = nil, id: PointIDRule? = nil,
                idColumns: [String]? = nil, vectors: [VectorField]? = nil, tenant: String? = nil,
                hnsw: [String: Int]? = nil, payload: [PayloadField]? = nil, optional: Bool = false, workspaces: WorkspaceRule? = nil) {
        self.name = name
        self.source = source
        self.target = target
        self.key = key
        self.id = id
        self.idColumns = idColumns
        self.vectors = vectors
        self.tenant = tenant
        self.hnsw = hnsw
        self.payload = payload
        self.optional = optional
        self.workspaces = workspaces
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(String.self, forKey: .name),
                  source: try container.decode(Source.self, forKey: .source),
                  target: try container.decode(Target.self, forKey: .target),
                  key: try container.decodeIfPresent([String].self, forKey: .key),
                  id: try container.decodeIfPresent(PointIDRule.self, forKey: .id),
                  idColumns: try container.decodeIfPresent([String].self, forKey: .idColumns),
                  vectors: try container.decodeIfPresent([VectorField].self, forKey: .vectors),
                  tenant: try container.decodeIfPresent(String.self, forKey: .tenant),
                  hnsw: try container.decodeIfPresent([String: Int].self, forKey: .hnsw),
                  payload: try container.decodeIfPresent([PayloadField].self, forKey: .payload),
                  optional: try container.decodeIfPresent(Bool.self, forKey: .optional) ?? false)
    }

    /// This mapping with `{suffix}` resolved to `suffix` everywhere.
    func resolved(suffix: String) -> CollectionMapping {
        var copy = self
        copy.name = name.replacingOccurrences(of: "{suffix}", with: suffix)
        copy.source.table = source.table?.replacingOccurrences(of: "{suffix}", with: suffix)
        copy.source.collection = source.collection?.replacingOccurrences(of: "{suffix}", with: suffix)
        copy.target.collection = target.collection?.replacingOccurrences(of: "{suffix}", with: suffix)
        copy.target.table = target.table?.replacingOccurrences(of: "{suffix}", with: suffix)
        if copy.name == name && !suffix.isEmpty { copy.name += suffix }
        return copy
    }

    /// The suffixes for which `pattern` (with at most one `{suffix}`) names one of `existing`: `""` for an
    /// exact match, `_rest` for names that continue with an underscore.
    static func suffixes(of pattern: String, in existing: [String]) -> [String] {
        guard let range = pattern.range(of: "{suffix}") else {
            return existing.contains(pattern) ? [""] : []
        }
        let head = String(pattern[..<range.lowerBound])
        let tail = String(pattern[range.upperBound...])
        return existing.compactMap { name in
            guard name.hasPrefix(head), name.hasSuffix(tail), name.count >= head.count + tail.count else { return nil }
            let middle = String(name.dropFirst(head.count).dropLast(tail.count))
            return middle.isEmpty || middle.hasPrefix("_") ? middle : nil
        }.sorted()
    }
}

extension CollectionMapping {
    /// The nearest name to a source `pattern` that matches nothing: `{suffix}` kept, the part before it compared
    /// with every underscore-bounded beginning of the existing names (`lightrag_vdb_entitiy{suffix}` →
    /// `lightrag_vdb_entity{suffix}`).
    static func closestPattern(to pattern: String, in existing: [String]) -> String? {
        guard let range = pattern.range(of: "{suffix}") else { return closestMatch(to: pattern, in: existing) }
        let head = String(pattern[..<range.lowerBound])
        let tail = String(pattern[range.upperBound...])
        var beginnings: Set<String> = []
        for name in existing where name.hasSuffix(tail) {
            let stem = String(name.dropLast(tail.count))
            beginnings.insert(stem)
            for index in stem.indices where stem[index] == "_" { beginnings.insert(String(stem[..<index])) }
        }
        return closestMatch(to: head, in: beginnings.sorted()).map { $0 + "{suffix}" + tail }
    }
}

/// How workspace names differ between the stores: LightRAG's PostgreSQL storage writes `default` when the
/// application sets no workspace, its Qdrant storage reads (and hashes point ids with) `_`.
public struct WorkspaceRule: Sendable, Hashable, Decodable {
    /// The source column (a Qdrant source: payload field) that names a row's workspace.
    public var column: String
    /// Source workspace → target workspace; a workspace not listed keeps its name.
    public var rename: [String: String]

    enum CodingKeys: String, CodingKey, CaseIterable { case column, rename }

    public init(column: String, rename: [String: String]) {
        self.column = column
        self.rename = rename
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(column: try container.decode(String.self, forKey: .column),
                  rename: try container.decodeIfPresent([String: String].self, forKey: .rename) ?? [:])
    }

    /// The target's name for the source workspace `name`.
    public func target(for name: String) -> String { rename[name] ?? name }

    /// The rule as people read it: `'default' → '_'; every other workspace keeps its name`.
    public var summary: String {
        let pairs = rename.sorted { $0.key < $1.key }.map { "'\($0.key)' → '\($0.value)'" }
        return "workspaces (\(column)): " + (pairs.isEmpty ? "every workspace keeps its name" : pairs.joined(separator: ", ") + "; every other workspace keeps its name")
    }

    /// Parses `--workspace FROM=TO`.
    public static func pair(_ text: String) -> (from: String, to: String)? {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let from = String(text[..<equals]), to = String(text[text.index(after: equals)...])
        return to.isEmpty ? nil : (from, to)
    }
}

/// A mapping file: `collections:` of ``CollectionMapping``, and the `workspaces:` rule they share.
public struct VectorMappingFile: Sendable, Decodable {
    /// The mappings, in order, each with the file's workspace rule.
    public var collections: [CollectionMapping]
    /// How workspace names change (for every mapping).
    public var workspaces: WorkspaceRule?

    enum CodingKeys: String, CodingKey, CaseIterable { case collections, workspaces }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let workspaces = try container.decodeIfPresent(WorkspaceRule.self, forKey: .workspaces)
        self.workspaces = workspaces
        collections = try container.decode([CollectionMapping].self, forKey: .collections).map { mapping in
            var mapping = mapping
            mapping.workspaces = workspaces
            return mapping
        }
    }

    /// A mapping file that cannot be used.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        /// The problem and the fix.
        public var description: String
    }

    /// Loads and checks `path`.
    public static func load(_ path: String) throws(Invalid) -> VectorMappingFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "cannot read mapping file '\(path)': check the path")
        }
        let file: VectorMappingFile
        do {
            file = try YAMLDecoder().decode(VectorMappingFile.self, from: data)
        } catch {
            throw Invalid(description: "mapping file '\(path)' is not valid: \(error)")
        }
        for mapping in file.collections {
            if (mapping.source.table == nil) == (mapping.source.collection == nil) {
                throw Invalid(description: "mapping '\(mapping.name)' in \(path): give exactly one of source.table and source.collection")
            }
            if (mapping.target.table == nil) == (mapping.target.collection == nil) {
                throw Invalid(description: "mapping '\(mapping.name)' in \(path): give exactly one of target.table and target.collection")
            }
            let target = mapping.target
            for (name, value) in [("shards", target.shards), ("replication_factor", target.replicationFactor),
                                  ("write_consistency_factor", target.writeConsistencyFactor)] {
                if let value, value < 1 {
                    throw Invalid(description: "mapping '\(mapping.name)' in \(path): target.\(name) is \(value); it must be 1 or more")
                }
            }
            let asksForCollectionSettings = target.shardSettings != ShardSettings()
            if target.table != nil && asksForCollectionSettings {
                throw Invalid(description: "mapping '\(mapping.name)' in \(path): shards, replication_factor, write_consistency_factor, on_disk and on_disk_payload are Qdrant collection settings; a target.table cannot take them")
            }
            if let replicas = target.replicationFactor, let consistency = target.writeConsistencyFactor, consistency > replicas {
                throw Invalid(description: "mapping '\(mapping.name)' in \(path): write_consistency_factor \(consistency) is more than replication_factor \(replicas): a write cannot wait for more replicas than a shard has")
            }
            for field in mapping.payload ?? [] where field.column == nil && field.default == nil {
                throw Invalid(description: "payload field '\(field.field)' of mapping '\(mapping.name)' needs a column or a default")
            }
        }
        return file
    }
}
