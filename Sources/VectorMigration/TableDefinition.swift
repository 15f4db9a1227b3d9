import Postgres

/// A table's definition as the catalog holds it (`format_type`, `pg_get_expr`, `pg_get_constraintdef`,
/// `pg_get_indexdef`): what a pgvector → pgvector copy recreates on the target, and what an existing target
/// table is held to.
struct TableDefinition: Sendable, Hashable {
    /// A column: its type with modifiers (`vector(1536)`, `character varying(255)[]`), `NOT NULL`, default,
    /// and a collation other than its type's.
    struct Column: Sendable, Hashable {
        var name: String
        var type: String
        var notNull: Bool
        var defaultExpression: String?
        var collation: String?

        var sql: String {
            var text = "\(quoteIdentifier(name)) \(type)"
            if let collation { text += " COLLATE \(collation)" }
            if let defaultExpression { text += " DEFAULT \(defaultExpression)" }
            if notNull { text += " NOT NULL" }
            return text
        }
    }

    /// A primary key, unique, check, foreign key or exclusion constraint (`pg_constraint.contype` p, u, c, f, x).
    struct Constraint: Sendable, Hashable {
        var name: String
        var kind: Character
        /// `pg_get_constraintdef`: `PRIMARY KEY (workspace, id)`, `CHECK ((tokens >= 0))`.
        var definition: String
        /// Whether migrate made it up (a key the source table does not have), so its text is not the catalog's.
        var synthesized = false
        /// For a foreign key: the table it refers to (`schema.table`, unquoted).
        var references: String?

        /// Whether it is created with the table (the key the upserts conflict on, and checks), rather than after
        /// the bulk load (unique, foreign key and exclusion constraints build indexes or look up other tables).
        var isCreatedWithTable: Bool { kind == "p" || kind == "c" }
    }

    /// An index that backs no constraint.
    struct Index: Sendable, Hashable {
        var name: String
        var unique: Bool
        /// `pg_get_indexdef` after the table's name: `USING hnsw (content_vector vector_cosine_ops) WITH (m='16')`.
        var method: String

        func sql(on table: String) -> String {
            "CREATE \(unique ? "UNIQUE " : "")INDEX \(quoteIdentifier(name)) ON \(table) \(method)"
        }
    }

    var columns: [Column]
    var constraints: [Constraint]
    var indexes: [Index]
    /// What the definition leaves out of the source's (identity, generated expressions, sequence defaults), said in the plan.
    var omissions: [String] = []

    /// Reads the definition of `schema.table`. A column's identity, generation expression and `nextval` default
    /// cannot travel with the rows (COPY writes every column; the sequence is the source's), so it is created as a
    /// plain column and the omission noted.
    static func load(_ connection: PostgresConnection, schema: String, table: String) async throws -> TableDefinition {
        let relation = "(quote_ident($1) || '.' || quote_ident($2))::regclass"
        let columnRows = try await connection.query("""
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, pg_get_expr(d.adbin, d.adrelid),
                   CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                        THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
                   a.attidentity::text, a.attgenerated::text
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
            WHERE a.attrelid = \(relation) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [schema, table])
        var omissions: [String] = []
        var columns: [Column] = []
        for row in columnRows.rows.indices {
            let name = columnRows.text(row, 0) ?? ""
            var defaultExpression = columnRows.text(row, 3)
            if let identity = columnRows.text(row, 5), !identity.isEmpty {
                omissions.append("column \(name) is an identity column on the source; the target's is a plain column holding the source's values")
            }
            if let generated = columnRows.text(row, 6), !generated.isEmpty {
                omissions.append("column \(name) is generated on the source (\(defaultExpression ?? "")); the target's is a plain column holding the source's values")
                defaultExpression = nil
            } else if let expression = defaultExpression, expression.hasPrefix("nextval(") {
                omissions.append("column \(name) defaults to the source's sequence (\(expression)); the target's has no default")
                defaultExpression = nil
            }
            columns.append(Column(name: name, type: columnRows.text(row, 1) ?? "", notNull: columnRows.text(row, 2) == "true",
                                  defaultExpression: defaultExpression, collation: columnRows.text(row, 4)))
        }
        let constraintRows = try await connection.query("""
            SELECT c.conname::text, c.contype::text, pg_get_constraintdef(c.oid), rn.nspname || '.' || r.relname
            FROM pg_constraint c LEFT JOIN pg_class r ON r.oid = c.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
            WHERE c.conrelid = \(relation) AND c.contype IN ('p', 'u', 'c', 'f', 'x') ORDER BY c.conname
            """, [schema, table])
        let constraints = constraintRows.rows.indices.map { row in
            Constraint(name: constraintRows.text(row, 0) ?? "", kind: constraintRows.text(row, 1)?.first ?? "?",
                       definition: constraintRows.text(row, 2) ?? "", references: constraintRows.text(row, 3))
        }
        // pg_get_indexdef is `CREATE [UNIQUE] INDEX name ON schema.table USING …`; the part from USING is kept.
        let indexRows = try await connection.query("""
            SELECT ic.relname::text, i.indisunique::text, pg_get_indexdef(i.indexrelid),
                   'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(ic.relname) || ' ON '
                       || quote_ident($1) || '.' || quote_ident($2) || ' '
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = \(relation) AND NOT EXISTS (
                SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
            ORDER BY ic.relname
            """, [schema, table])
        let indexes = try indexRows.rows.indices.map { row in
            let definition = indexRows.text(row, 2) ?? "", prefix = indexRows.text(row, 3) ?? ""
            guard definition.hasPrefix(prefix) else {
                throw VectorMigrationError.unsupported("index \(indexRows.text(row, 0) ?? "") of \(schema).\(table) is defined as `\(definition)`, which migrate cannot recreate on the target; create it there by hand after the copy")
            }
            return Index(name: indexRows.text(row, 0) ?? "", unique: indexRows.text(row, 1) == "true", method: String(definition.dropFirst(prefix.count)))
        }
        return TableDefinition(columns: columns, constraints: constraints, indexes: indexes, omissions: omissions)
    }

    /// The definition a copy into `table` keyed on `key` creates: the source's (`sourceTable`), with a primary key
    /// on `key` in place of the source's when the source's (`sourceKey`) is on other columns, and the source
    /// table's name in index and constraint names replaced by `table`'s (names are unique per schema, so a copy
    /// into another table of the same schema would otherwise clash with the source's).
    func planned(into table: String, from sourceTable: String, key: [String], sourceKey: [String]) -> TableDefinition {
        var planned = self
        if table != sourceTable {
            func rename(_ name: String) -> String { name.replacingOccurrences(of: sourceTable, with: table) }
            planned.constraints = constraints.map { constraint in
                var constraint = constraint
                constraint.name = rename(constraint.name)
                return constraint
            }
            planned.indexes = indexes.map { index in
                var index = index
                index.name = rename(index.name)
                return index
            }
        }
        guard Set(key) != Set(sourceKey) || !constraints.contains(where: { $0.kind == "p" }) else { return planned }
        planned.constraints.removeAll { $0.kind == "p" }
        planned.constraints.append(Constraint(name: table + "_pkey", kind: "p", definition: "PRIMARY KEY (\(key.map(quoteIdentifier).joined(separator: ", ")))",
                                              synthesized: true))
        planned.columns = columns.map { column in
            var column = column
            if key.contains(column.name) { column.notNull = true }
            return column
        }
        return planned
    }

    /// Without the foreign keys that refer to tables outside `copied` (`schema.table` of the copy's source tables),
    /// which the target may not have; a note names each one left out.
    func referring(within copied: Set<String>) -> (TableDefinition, [String]) {
        var kept = self
        let outside = constraints.filter { $0.kind == "f" && !copied.contains($0.references ?? "") }
        kept.constraints.removeAll { constraint in outside.contains(constraint) }
        return (kept, outside.map { "foreign key \($0.name) refers to \($0.references ?? "another table"), which this copy does not cover: it is not created (`\($0.definition)`)" })
    }

    /// `CREATE TABLE` with the columns, the primary key and the checks.
    func createStatement(_ qualifiedName: String) -> String {
        let parts = columns.map(\.sql) + constraints.filter(\.isCreatedWithTable).map { "CONSTRAINT \(quoteIdentifier($0.name)) \($0.definition)" }
        return "CREATE TABLE \(qualifiedName) (\(parts.joined(separator: ", ")))"
    }

    /// What is created after the bulk load where `existing` (the target's definition now) lacks it: indexes
    /// (vector indexes included) and unique and exclusion constraints, or with `foreignKeys` the foreign keys
    /// (created once every table has its keys).
    func deferredStatements(_ qualifiedName: String, existing: TableDefinition, foreignKeys: Bool = false) -> [String] {
        let indexes = foreignKeys ? [] : self.indexes.filter { index in !existing.indexes.contains { $0.name == index.name } }.map { $0.sql(on: qualifiedName) }
        let constraints = self.constraints
            .filter { constraint in
                !constraint.isCreatedWithTable && (constraint.kind == "f") == foreignKeys && !existing.constraints.contains { $0.name == constraint.name }
            }
            .map { "ALTER TABLE \(qualifiedName) ADD CONSTRAINT \(quoteIdentifier($0.name)) \($0.definition)" }
        return indexes + constraints
    }

    /// How `target` (an existing table) differs from this definition; empty when it matches. Indexes and
    /// constraints that are created after the load may be missing (an earlier run stopped before creating them).
    func differences(from target: TableDefinition) -> [String] {
        var differences: [String] = []
        let targetColumns = Dictionary(target.columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for column in columns {
            guard let other = targetColumns[column.name] else {
                differences.append("column \(column.name) (\(column.sql)) is missing")
                continue
            }
            if other != column { differences.append("column \(column.name): source `\(column.sql)`, target `\(other.sql)`") }
        }
        for column in target.columns where !columns.contains(where: { $0.name == column.name }) {
            differences.append("column \(column.name) is only on the target (`\(column.sql)`)")
        }
        if differences.isEmpty, columns.map(\.name) != target.columns.map(\.name) {
            differences.append("the columns are in another order: source (\(columns.map(\.name).joined(separator: ", "))), target (\(target.columns.map(\.name).joined(separator: ", ")))")
        }
        for constraint in constraints where !constraint.synthesized {
            if let other = target.constraints.first(where: { $0.name == constraint.name }) {
                if other.definition != constraint.definition {
                    differences.append("constraint \(constraint.name): source `\(constraint.definition)`, target `\(other.definition)`")
                }
            } else if constraint.isCreatedWithTable {
                differences.append("constraint \(constraint.name) (`\(constraint.definition)`) is missing")
            }
        }
        for constraint in target.constraints where !constraints.contains(where: { $0.name == constraint.name || ($0.synthesized && constraint.kind == "p") }) {
            differences.append("constraint \(constraint.name) is only on the target (`\(constraint.definition)`)")
        }
        for index in indexes {
            if let other = target.indexes.first(where: { $0.name == index.name }), other != index {
                differences.append("index \(index.name): source `\(index.method)`, target `\(other.method)`")
            }
        }
        for index in target.indexes where !indexes.contains(where: { $0.name == index.name }) {
            differences.append("index \(index.name) is only on the target (`\(index.method)`)")
        }
        return differences
    }
}
