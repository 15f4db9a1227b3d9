import Postgres

/// Source rows that would become one point: two rows whose id columns are equal once the workspace rule and the
/// id rule have been applied (an id that leaves out the workspace, a rule that maps two workspaces onto one,
/// two tables into one collection). Qdrant keeps the last write of a point id, so such rows would be counted
/// as written while all but one vanish. Checked on the source with one aggregate per target collection, before
/// anything is written.
enum IDCollisions {
    /// Throws when rows of `jobs` (PostgreSQL tables into Qdrant collections) share a point id, naming up to
    /// three of the rows of each of the first five ids.
    static func check(_ jobs: [VectorJob], connection: PostgresConnection) async throws {
        var byTarget: [String: [VectorJob]] = [:]
        for job in jobs {
            guard case .table = job.source, case .collection(let name) = job.target else { continue }
            byTarget[name, default: []].append(job)
        }
        for (collection, jobs) in byTarget.sorted(by: { $0.key < $1.key }) {
            if jobs.count == 1, jobs[0].idsAreTheKey { continue }
            var selects: [String] = []
            for job in jobs {
                guard case .table(let schema) = job.source else { continue }
                let ids = try await job.idExpressions(connection)
                let key = "concat_ws(', ', \(job.keyColumns.map { "\(quoteIdentifier($0))::text" }.joined(separator: ", ")))"
                selects.append("SELECT concat_ws(chr(31), \(ids.joined(separator: ", "))) AS id, \(try await connection.literal(schema.qualifiedName)) || ' (' || \(key) || ')' AS row FROM \(schema.qualifiedName)")
            }
            let rows = try await connection.query("""
                SELECT id, array_to_string((array_agg(row ORDER BY row))[1:3], ' and '), count(*)::int8 FROM (\(selects.joined(separator: " UNION ALL "))) AS ids
                GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5
                """)
            guard !rows.rows.isEmpty else { continue }
            let rule = jobs[0]
            let lines = try rows.rows.indices.map { row -> String in
                let parts = (rows.text(row, 0) ?? "").split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
                let id = UUIDText.canonical(try rule.idRule.pointID(for: parts))
                return "rows \(rows.text(row, 1) ?? "") would all become point \(id)"
            }
            let idColumns = rule.mapping.idColumns ?? rule.keyColumns
            throw VectorMigrationError.idCollision(collection: collection, rows: lines,
                                                   cause: "ids come from (\(idColumns.joined(separator: ", "))) by the \(rule.idRule.rawValue) rule" + (rule.workspaces.map { " after \($0.summary)" } ?? ""))
        }
    }
}

extension VectorJob {
    /// Whether the point id is the key itself, unchanged (so rows cannot share one).
    var idsAreTheKey: Bool {
        Set(mapping.idColumns ?? keyColumns).isSuperset(of: keyColumns) && workspaceIDParts.isEmpty && idRule != .lightrag
    }

    /// The SQL text of each id part as ``record(fromRow:)`` computes it: the workspace rule's renames, then the
    /// lightrag rule's `_` for an empty workspace.
    func idExpressions(_ connection: PostgresConnection) async throws -> [String] {
        let columns = mapping.idColumns ?? keyColumns
        var expressions: [String] = []
        for (index, column) in columns.enumerated() {
            var expression = "coalesce(\(quoteIdentifier(column))::text, '')"
            if let workspaces, workspaceIDParts.contains(index), !workspaces.rename.isEmpty {
                var cases: [String] = []
                for (from, to) in workspaces.rename.sorted(by: { $0.key < $1.key }) {
                    cases.append("WHEN \(try await connection.literal(from)) THEN \(try await connection.literal(to))")
                }
                expression = "CASE \(expression) \(cases.joined(separator: " ")) ELSE \(expression) END"
            }
            if idRule == .lightrag, index == 0, columns.count > 1 {
                expression = "CASE WHEN \(expression) = '' THEN '_' ELSE \(expression) END"
            }
            expressions.append(expression)
        }
        return expressions
    }
}
