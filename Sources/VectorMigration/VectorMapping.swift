import Foundation
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
    }

    /// Where rows go.
    public struct Target: Sendable, Hashable, Decodable {
        /// A Qdrant collection; `{suffix}` is the source's.
        public var collection: String?
        /// A PostgreSQL table.
        public var table: String?

        public init(collection: String? = nil, table: String? = nil) {
            self.collection = collection
            self.table = table
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

    enum CodingKeys: String, CodingKey {
        case name, source, target, key, id, idColumns = "id_columns", vectors, tenant, hnsw, payload
    }

    public init(name: String, source: Source, target: Target, key: [String]? = nil, id: PointIDRule? = nil,
                idColumns: [String]? = nil, vectors: [VectorField]? = nil, tenant: String? = nil,
                hnsw: [String: Int]? = nil, payload: [PayloadField]? = nil) {
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

/// A mapping file: `collections:` of ``CollectionMapping``.
public struct VectorMappingFile: Sendable, Decodable {
    /// The mappings, in order.
    public var collections: [CollectionMapping]

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
            for field in mapping.payload ?? [] where field.column == nil && field.default == nil {
                throw Invalid(description: "payload field '\(field.field)' of mapping '\(mapping.name)' needs a column or a default")
            }
        }
        return file
    }
}
