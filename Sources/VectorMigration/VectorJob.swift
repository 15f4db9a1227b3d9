import JSON
import MigrationCore
import Postgres
import Qdrant

/// How one vector travels.
struct VectorSpec: Sendable, Hashable {
    /// The source column's position in the SELECT list (PostgreSQL), or the source vector's name (Qdrant).
    var sourceIndex: Int
    var sourceName: String
    var sourceType: UInt32
    /// The target vector's name.
    var targetName: String?
    var distance: String
    /// Dense dimensions, if known; nil for sparse.
    var dimensions: Int?
    var sparse: Bool
}

/// How one payload field is filled.
struct PayloadSpec: Sendable, Hashable {
    var field: String
    /// Position in the SELECT list (PostgreSQL), or the source payload field (Qdrant).
    var sourceIndex: Int?
    var sourceName: String?
    var sourceType: UInt32
    var conversion: CollectionMapping.PayloadField.Conversion?
    var separator: String
    var defaultValue: String?
    /// Whether the value is a workspace name that the mapping's workspace rule renames.
    var renamesWorkspace = false
}

/// Everything one partition needs: where it reads, how a row becomes a point, where it goes.
struct VectorJob: Sendable {
    enum SourceKind: Sendable {
        case table(TableSchema)
        case collection(String, CollectionInfo)
    }

    enum TargetKind: Sendable, Hashable {
        case collection(String)
        case table(schema: String, table: String)
    }

    var name: String
    var mapping: CollectionMapping
    var source: SourceKind
    var target: TargetKind
    var vectors: [VectorSpec]
    var payload: [PayloadSpec]
    var idRule: PointIDRule
    /// SELECT-list positions of the key columns cast to text.
    var keyIndices: [Int]
    /// SELECT-list positions of the id columns cast to text.
    var idIndices: [Int]
    /// The SELECT list: every table column as it is, then `::text` casts.
    var selectList: [String]
    /// How many leading SELECT entries are the table's own columns.
    var rawColumnCount: Int
    /// The key columns' names.
    var keyColumns: [String]
    var shard: Shard?
    var types: PostgresTypes
    /// The mapping's workspace rule, if any: applied to the id columns and payload fields it names.
    var workspaces: WorkspaceRule?
    /// Positions in the id columns of the workspace column.
    var workspaceIDParts: Set<Int> = []

    /// The vectors Qdrant normalizes on write (Cosine), compared approximately and left out of checksums.
    var normalizedVectors: Set<String?> {
        guard case .collection = target else { return [] }
        return Set(vectors.filter { !$0.sparse && $0.distance.lowercased() == "cosine" }.map(\.targetName))
    }

    var sourceDisplay: String {
        switch source {
        case .table(let schema): return schema.qualifiedName
        case .collection(let name, _): return "collection \(name)"
        }
    }

    var targetDisplay: String {
        switch target {
        case .collection(let name): return "collection \(name)"
        case .table(let schema, let table): return "\(quoteIdentifier(schema)).\(quoteIdentifier(table))"
        }
    }

    /// A job for a PostgreSQL table.
    static func forTable(_ schema: TableSchema, mapping: CollectionMapping, target: TargetKind, shard: Shard?) throws -> VectorJob {
        var selectList = schema.columns.map { quoteIdentifier($0.name) }
        var textIndex: [String: Int] = [:]
        func textColumn(_ name: String) throws -> Int {
            guard schema.column(name) != nil else { throw VectorMigrationError.missingColumn(name, table: schema.qualifiedName) }
            if let index = textIndex[name] { return index }
            selectList.append("\(quoteIdentifier(name))::text")
            textIndex[name] = selectList.count - 1
            return selectList.count - 1
        }

        let keyColumns = mapping.key ?? schema.primaryKey
        guard !keyColumns.isEmpty else {
            throw VectorMigrationError.unsupported("table \(schema.qualifiedName) has no primary key: name its key columns in a mapping (key: [workspace, id]) so rows can be resumed and never collapse into one point")
        }
        let keyIndices = try keyColumns.map(textColumn)
        let idColumns = mapping.idColumns ?? keyColumns
        let idIndices = try idColumns.map(textColumn)

        let vectorFields = mapping.vectors ?? schema.columns.filter { schema.types.isVector($0.type) }.map {
            CollectionMapping.VectorField(column: $0.name)
        }
        guard !vectorFields.isEmpty else { throw VectorMigrationError.noVectorColumn(schema.qualifiedName) }
        let unnamed = vectorFields.count == 1
        let vectors = try vectorFields.map { field -> VectorSpec in
            guard let (index, column) = schema.column(field.column) else {
                throw VectorMigrationError.missingColumn(field.column, table: schema.qualifiedName)
            }
            let isArray = [UInt32(1021), 1022].contains(column.type)
            guard schema.types.isVector(column.type) || isArray else {
                throw VectorMigrationError.unsupported("column \(field.column) of \(schema.qualifiedName) is \(column.typeName), not a vector, halfvec, sparsevec or float array")
            }
            return VectorSpec(sourceIndex: index, sourceName: column.name, sourceType: column.type,
                              targetName: field.name ?? (unnamed ? nil : column.name), distance: field.distance ?? "Cosine",
                              dimensions: column.dimensions, sparse: column.type == schema.types.sparsevec)
        }

        let vectorColumns = Set(vectors.map(\.sourceName))
        let fields = mapping.payload ?? schema.columns.filter { !vectorColumns.contains($0.name) }.map {
            CollectionMapping.PayloadField(field: $0.name, column: $0.name)
        }
        let payload = try fields.map { field -> PayloadSpec in
            guard let name = field.column else {
                return PayloadSpec(field: field.field, sourceIndex: nil, sourceName: nil, sourceType: 0, conversion: nil,
                                   separator: "", defaultValue: field.default)
            }
            guard let (index, column) = schema.column(name) else { throw VectorMigrationError.missingColumn(name, table: schema.qualifiedName) }
            if schema.types.decodes(column.type) && field.as != .text {
                return PayloadSpec(field: field.field, sourceIndex: index, sourceName: name, sourceType: column.type,
                                   conversion: field.as, separator: field.separator ?? ",", defaultValue: field.default)
            }
            // Types without a binary decoder (numeric, intervals, enums, …) travel as their text form.
            return PayloadSpec(field: field.field, sourceIndex: try textColumn(name), sourceName: name, sourceType: PostgresTypes.text,
                               conversion: field.as == .text ? nil : field.as, separator: field.separator ?? ",", defaultValue: field.default)
        }
        let rule = mapping.id ?? Self.defaultRule(schema: schema, keyColumns: keyColumns)
        var job = VectorJob(name: mapping.name, mapping: mapping, source: .table(schema), target: target, vectors: vectors,
                            payload: payload, idRule: rule, keyIndices: keyIndices, idIndices: idIndices, selectList: selectList,
                            rawColumnCount: schema.columns.count, keyColumns: keyColumns, shard: shard, types: schema.types)
        if let workspaces = mapping.workspaces, case .collection = target {
            guard schema.column(workspaces.column) != nil else {
                throw VectorMigrationError.missingColumn(workspaces.column, table: "\(schema.qualifiedName) (the mapping's workspaces.column)")
            }
            job.applyWorkspaces(workspaces, idColumns: idColumns)
        }
        return job
    }

    /// Marks the id columns and payload fields that carry the workspace named by `rule.column`.
    private mutating func applyWorkspaces(_ rule: WorkspaceRule, idColumns: [String]) {
        workspaces = rule
        workspaceIDParts = Set(idColumns.indices.filter { idColumns[$0] == rule.column })
        for index in payload.indices where payload[index].sourceName == rule.column {
            payload[index].renamesWorkspace = true
        }
    }

    /// A job for a Qdrant collection: ids, vectors and payload as they are, unless the mapping renames fields.
    static func forCollection(_ name: String, info: CollectionInfo, mapping: CollectionMapping, target: TargetKind, shard: Shard?) throws -> VectorJob {
        let vectors = info.vectors.map { space in
            VectorSpec(sourceIndex: 0, sourceName: space.name ?? "", sourceType: 0, targetName: space.name, distance: space.distance,
                       dimensions: space.sparse ? nil : space.size, sparse: space.sparse)
        }
        let payload = (mapping.payload ?? []).map { field in
            PayloadSpec(field: field.field, sourceIndex: nil, sourceName: field.column, sourceType: 0, conversion: field.as,
                        separator: field.separator ?? ",", defaultValue: field.default)
        }
        var job = VectorJob(name: mapping.name, mapping: mapping, source: .collection(name, info), target: target, vectors: vectors,
                            payload: payload, idRule: .keep, keyIndices: [], idIndices: [], selectList: [], rawColumnCount: 0,
                            keyColumns: ["id"], shard: shard, types: PostgresTypes())
        if let workspaces = mapping.workspaces { job.applyWorkspaces(workspaces, idColumns: []) }
        return job
    }

    private static func defaultRule(schema: TableSchema, keyColumns: [String]) -> PointIDRule {
        guard keyColumns.count == 1, let column = schema.column(keyColumns[0])?.column else { return .uuid5 }
        return [PostgresTypes.int2, PostgresTypes.int4, PostgresTypes.int8, PostgresTypes.uuid].contains(column.type) ? .keep : .uuid5
    }

    // MARK: Rows to records

    /// Builds the record for one row of the SELECT list.
    func record(fromRow fields: [[UInt8]?]) throws -> VectorRecord {
        let key = keyIndices.map { fields[$0].map { String(decoding: $0, as: UTF8.self) } ?? "" }
        var idParts = idIndices.map { fields[$0].map { String(decoding: $0, as: UTF8.self) } ?? "" }
        if let workspaces {
            for part in workspaceIDParts { idParts[part] = workspaces.target(for: idParts[part]) }
        }
        let id = try idRule.pointID(for: idParts)
        var vectors: [(name: String?, data: VectorData)] = []
        for spec in self.vectors {
            guard let raw = fields[spec.sourceIndex] else {
                throw InvalidRecord(key: key, reason: "vector column \(spec.sourceName) is NULL; Qdrant needs every vector of a point (exclude such rows, or map the column as optional)")
            }
            let data: VectorData
            switch try PostgresBinary.decode(raw, type: spec.sourceType, types: types) {
            case .vector(let values): data = .dense(values)
            case .sparseVector(_, let indices, let values): data = .sparse(indices: indices.map { UInt32(bitPattern: $0) }, values: values)
            case .array(let items): data = .dense(items.map { item -> Float in
                if case .double(let value) = item { return Float(value) }
                return .nan
            })
            default: throw InvalidRecord(key: key, reason: "column \(spec.sourceName) is not a vector")
            }
            if let expected = spec.dimensions, let actual = data.dimensions, expected != actual {
                throw InvalidRecord(key: key, reason: "vector \(spec.sourceName) has \(actual) dimensions, the column declares \(expected)")
            }
            vectors.append((spec.targetName, data))
        }
        var payload: [(String, JSONValue)] = []
        payload.reserveCapacity(self.payload.count)
        for spec in self.payload {
            var value: JSONValue = .null
            if let index = spec.sourceIndex, let raw = fields[index] {
                let decoded = try PostgresBinary.decode(raw, type: spec.sourceType, types: types)
                value = try convert(decoded, spec: spec, key: key)
            }
            payload.append((spec.field, finish(value, spec: spec)))
        }
        let record = VectorRecord(key: key, id: id, vectors: vectors, payload: payload,
                                  rawFields: target.isTable ? Array(fields.prefix(rawColumnCount)) : nil)
        try record.checkFinite()
        return record
    }

    /// The payload value after the field's default (for NULL or empty) and the workspace rule.
    private func finish(_ value: JSONValue, spec: PayloadSpec) -> JSONValue {
        var value = value
        if let fallback = spec.defaultValue, value.isNull || value.string == "" {
            value = .string(fallback)
        }
        if spec.renamesWorkspace, let workspaces, let name = value.string {
            value = .string(workspaces.target(for: name))
        }
        return value
    }

    private func convert(_ value: PostgresValue, spec: PayloadSpec, key: [String]) throws -> JSONValue {
        switch spec.conversion {
        case .epoch?:
            guard let seconds = value.unixSeconds else { return try PayloadConversion.json(value, key: key, column: spec.sourceName ?? "") }
            return .int(seconds)
        case .joined?:
            if case .array(let items) = value {
                return .string(try items.map { item -> String in
                    let json = try PayloadConversion.json(item, key: key, column: spec.sourceName ?? "")
                    return json.string ?? JSONWriter.text(json)
                }.joined(separator: spec.separator))
            }
            return try PayloadConversion.json(value, key: key, column: spec.sourceName ?? "")
        case .text?, nil:
            return try PayloadConversion.json(value, key: key, column: spec.sourceName ?? "")
        }
    }

    /// Builds the record for one Qdrant point, renaming payload fields as the mapping says.
    func record(fromPoint point: JSONValue) throws -> VectorRecord {
        var record = try Self.record(fromPoint: point, payloadSpecs: payload)
        guard let workspaces else { return record }
        // The payload as it is: the workspace field itself; else the fields the mapping fills from it.
        let renamed = payload.isEmpty ? [workspaces.column] : payload.filter(\.renamesWorkspace).map(\.field)
        record.payload = record.payload.map { field, value in
            guard renamed.contains(field), let name = value.string else { return (field, value) }
            return (field, .string(workspaces.target(for: name)))
        }
        return record
    }

    /// Builds the record for one Qdrant point; with no `payloadSpecs`, the payload as it is.
    static func record(fromPoint point: JSONValue, payloadSpecs: [PayloadSpec]) throws -> VectorRecord {
        guard let id = point["id"] else { throw InvalidRecord(key: [], reason: "a point without an id") }
        let key = [UUIDText.canonical(id)]
        var vectors: [(name: String?, data: VectorData)] = []
        func vector(_ value: JSONValue) throws -> VectorData {
            if let values = value.array, values.first?.array != nil {
                let rows = values.compactMap(\.array)
                guard rows.count == values.count else { throw InvalidRecord(key: key, reason: "a multivector mixes numbers and lists") }
                return .multi(rows.map { $0.map { Float($0.double ?? .nan) } })
            }
            if let values = value.array {
                return .dense(values.map { Float($0.double ?? .nan) })
            }
            if let indices = value["indices"]?.array, let values = value["values"]?.array {
                return .sparse(indices: indices.map { UInt32($0.int ?? 0) }, values: values.map { Float($0.double ?? .nan) })
            }
            throw InvalidRecord(key: key, reason: "unsupported vector shape (neither a list of numbers, a list of lists nor {indices, values})")
        }
        switch point["vector"] {
        case .array?:
            vectors.append((nil, try vector(point["vector"]!)))
        case .object(let named)?:
            for (name, value) in named { vectors.append((name, try vector(value))) }
        default:
            break
        }
        var payload = point["payload"]?.object ?? []
        if !payloadSpecs.isEmpty {
            payload = payloadSpecs.map { spec in
                var value = spec.sourceName.flatMap { point["payload"]?[$0] } ?? .null
                if let fallback = spec.defaultValue, value.isNull { value = .string(fallback) }
                return (spec.field, value)
            }
        }
        let record = VectorRecord(key: key, id: id, vectors: vectors, payload: payload, rawFields: nil)
        try record.checkFinite()
        return record
    }
}

extension VectorJob.TargetKind {
    var isTable: Bool {
        if case .table = self { return true }
        return false
    }
}
