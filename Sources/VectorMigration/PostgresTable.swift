import Chronology
import Foundation
import JSON
import Postgres

/// A column of a source or target table.
struct TableColumn: Sendable, Hashable {
    var name: String
    var type: UInt32
    /// `format_type`: `vector(1536)`, `character varying(255)`, `text[]`, ...
    var typeName: String
    /// The declared dimensions of a `vector`/`halfvec`/`sparsevec` column.
    var dimensions: Int?
}

/// A table's columns and primary key, read from the catalog.
struct TableSchema: Sendable, Hashable {
    var schema: String
    var table: String
    var columns: [TableColumn]
    var primaryKey: [String]
    var types: PostgresTypes
    /// Defaults, constraints and indexes, for recreating the table on a pgvector target.
    var definition = TableDefinition(columns: [], constraints: [], indexes: [])

    var qualifiedName: String { "\(quoteIdentifier(schema)).\(quoteIdentifier(table))" }

    func column(_ name: String) -> (index: Int, column: TableColumn)? {
        columns.firstIndex { $0.name == name }.map { ($0, columns[$0]) }
    }

    /// Reads the schema of `schema.table`, or throws a clear error when it does not exist.
    static func load(_ connection: PostgresConnection, schema: String, table: String) async throws -> TableSchema {
        let types = try await loadTypes(connection)
        let columns = try await connection.query("""
            SELECT a.attname::text, a.atttypid::int8, format_type(a.atttypid, a.atttypmod), a.atttypmod::int8
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [schema, table])
        guard !columns.rows.isEmpty else {
            throw VectorMigrationError.missingTable("\(schema).\(table)", database: connection.endpoint.description)
        }
        let parsed = try columns.rows.indices.map { row -> TableColumn in
            let type = UInt32(try int(columns.rows[row][1]))
            let modifier = Int(try int(columns.rows[row][3]))
            let isVector = types.isVector(type)
            return TableColumn(name: columns.text(row, 0) ?? "", type: type, typeName: columns.text(row, 2) ?? "",
                               dimensions: isVector && modifier > 0 ? modifier : nil)
        }
        let key = try await connection.query("""
            SELECT a.attname::text FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass AND i.indisprimary
            ORDER BY array_position(i.indkey::int2[], a.attnum)
            """, [schema, table])
        return TableSchema(schema: schema, table: table, columns: parsed, primaryKey: key.rows.indices.compactMap { key.text($0, 0) },
                           types: types, definition: try await TableDefinition.load(connection, schema: schema, table: table))
    }

    /// The OIDs of pgvector's types in this database (absent when the extension is not installed).
    static func loadTypes(_ connection: PostgresConnection) async throws -> PostgresTypes {
        let rows = try await connection.query("SELECT typname::text, oid::int8 FROM pg_type WHERE typname IN ('vector', 'halfvec', 'sparsevec')")
        var types = PostgresTypes()
        for row in rows.rows.indices {
            let oid = UInt32(try int(rows.rows[row][1]))
            switch rows.text(row, 0) {
            case "vector": types.vector = oid
            case "halfvec": types.halfvec = oid
            case "sparsevec": types.sparsevec = oid
            default: break
            }
        }
        return types
    }

    /// The tables of `schema`.
    static func tables(_ connection: PostgresConnection, schema: String) async throws -> [String] {
        let rows = try await connection.query("""
            SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1
            """, [schema])
        return rows.rows.indices.compactMap { rows.text($0, 0) }
    }

    /// The tables of `schema` with a `vector`, `halfvec` or `sparsevec` column.
    static func vectorTables(_ connection: PostgresConnection, schema: String) async throws -> [String] {
        let rows = try await connection.query("""
            SELECT DISTINCT c.relname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
              AND t.typname IN ('vector', 'halfvec', 'sparsevec') ORDER BY 1
            """, [schema])
        return rows.rows.indices.compactMap { rows.text($0, 0) }
    }

    private static func int(_ field: [UInt8]?) throws -> Int64 {
        guard let field, case .int(let value) = try PostgresBinary.decode(field, type: PostgresTypes.int8, types: PostgresTypes()) else {
            throw PostgresError.malformed("expected an integer from the catalog")
        }
        return value
    }
}

/// `"name"` with embedded quotes doubled.
func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// Converts decoded PostgreSQL values to payload JSON.
enum PayloadConversion {
    static func json(_ value: PostgresValue, key: [String], column: String) throws -> JSONValue {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .int(number)
        case .double(let number):
            guard number.isFinite else {
                throw InvalidRecord(key: key, reason: "column \(column) holds \(number), which JSON cannot carry; fix the row or leave the column out of the payload")
            }
            return .double(number)
        case .text(let text): return .string(text)
        case .bytes(let bytes): return .string(Data(bytes).base64EncodedString())
        case .timestamp(let micros, let zoned): return .string(iso8601(microsecondsSince2000: micros, zoned: zoned))
        case .date(let days): return .string(String(iso8601(microsecondsSince2000: Int64(days) * 86_400_000_000, zoned: false).prefix(10)))
        case .uuid(let bytes): return .string(UUIDText.format(bytes))
        case .json(let text):
            do { return try JSONParser.parse(text) } catch { return .string(text) }
        case .array(let items): return .array(try items.map { try json($0, key: key, column: column) })
        case .vector(let values): return .array(values.map { .double(Double($0)) })
        case .sparseVector(let dimensions, let indices, let values):
            return .object([("dimensions", .int(Int64(dimensions))), ("indices", .array(indices.map { .int(Int64($0)) })),
                            ("values", .array(values.map { .double(Double($0)) }))])
        }
    }

    /// `2026-11-01T12:00:00.250000Z` (the `Z` only for `timestamptz`), as PostgreSQL's microseconds allow.
    static func iso8601(microsecondsSince2000 micros: Int64, zoned: Bool) -> String {
        let unixMicros = micros + 946_684_800_000_000
        var seconds = unixMicros / 1_000_000
        var fraction = unixMicros % 1_000_000
        if fraction < 0 {
            fraction += 1_000_000
            seconds -= 1
        }
        let text = CivilTime.isoDateTime(secondsSince1970: seconds, fraction: fraction, fractionDigits: 6)
        return zoned ? text + "Z" : text
    }
}

/// Errors of the vectors migration that name the problem and the fix.
public enum VectorMigrationError: Error, Sendable, CustomStringConvertible {
    case missingTable(String, database: String)
    case missingCollection(String)
    case noVectorColumn(String)
    case missingColumn(String, table: String)
    case dimensionMismatch(source: String, sourceDimensions: Int, target: String, targetDimensions: Int)
    case distanceMismatch(target: String, expected: String, actual: String)
    case noMatchingSources(String)
    case idCollision(collection: String, rows: [String], cause: String)
    case lostPoints(collection: String, records: [(key: [String], id: String)])
    /// An existing target collection whose shard settings are not the ones asked for.
    case collectionSettingsDiffer(collection: String, differences: [String])
    /// An existing pgvector target table whose definition is not the source table's.
    case tableDefinitionDiffers(table: String, source: String, differences: [String])
    /// An api-key would travel over plain `http://` and `--require-tls` forbids it.
    case insecureTransport(String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .missingTable(let table, let database):
            return "table \(table) does not exist in \(database). Check the table name (and schema) in the mapping or --table, and the database in the URI."
        case .missingCollection(let name):
            return "Qdrant collection '\(name)' does not exist. Check the name (--collection or the mapping)."
        case .noVectorColumn(let table):
            return "table \(table) has no vector, halfvec or sparsevec column. Is it the right table? Name the vector column in a mapping if it is a float array."
        case .missingColumn(let column, let table):
            return "column '\(column)' is not in \(table). Fix the mapping's column names."
        case .dimensionMismatch(let source, let sourceDimensions, let target, let targetDimensions):
            return "dimension mismatch: \(source) has \(sourceDimensions)-dimensional vectors but \(target) expects \(targetDimensions). Write to another collection, or recreate it with size \(sourceDimensions)."
        case .distanceMismatch(let target, let expected, let actual):
            return "distance mismatch: \(target) uses \(actual) but the mapping says \(expected). Use the collection's distance in the mapping, or write to a new collection."
        case .noMatchingSources(let message):
            return message
        case .idCollision(let collection, let rows, let cause):
            return "point id collision in collection \(collection): " + rows.joined(separator: "; ") + " (\(cause)). Qdrant would keep one of each and "
                + "drop the rest. Nothing was written. Add the columns that tell them apart to id_columns, or fix the workspace rule."
        case .lostPoints(let collection, let records):
            let named = records.prefix(10).map { "point \($0.id) (row \($0.key.joined(separator: ", ")))" }.joined(separator: ", ")
            return "collection \(collection) acknowledged the upsert as completed but does not hold \(records.count) of its points: \(named)"
                + (records.count > 10 ? " and \(records.count - 10) more" : "") + ". The target lost acknowledged writes; check its health and storage before running again."
        case .collectionSettingsDiffer(let collection, let differences):
            return "collection \(collection) exists with other settings than asked for: " + differences.joined(separator: ", ")
                + ". migrate neither reuses it as it is nor recreates it: delete it (or write to another collection), or ask for the settings it has."
        case .tableDefinitionDiffers(let table, let source, let differences):
            return "table \(table) exists on the target with another definition than \(source): " + differences.joined(separator: "; ")
                + ". Nothing was written. Drop the target table (migrate recreates it with --create-tables) or make its definition the source's."
        case .insecureTransport(let message):
            return message
        case .unsupported(let message):
            return message
        }
    }
}
