import RESP

/// Finds, before anything is written, the source keys that a database mapping would put among another source
/// database's keys: with database 0 unmapped and `--db-map 1:db1:`, a database-0 key `db1:x` and database 1's
/// key `x` would both be `db1:x` on the target.
enum MappingCollisions {
    /// How many colliding keys an error names per pair of databases.
    static let exampleLimit = 5

    /// Scans each overlap's outer database (every primary) for names starting with the remainder that `filter`
    /// admits, and throws one error naming examples of every collision found.
    static func check(_ mapping: DatabaseMapping, sourceDatabases: [Int], source: RedisClient, filter: KeyFilter) async throws {
        var problems: [String] = []
        for overlap in mapping.overlaps(sourceDatabases: sourceDatabases) {
            var examples: [[UInt8]] = []
            var more = false
            for node in source.primaries where !more {
                let connection = try await source.openConnection(to: node, database: overlap.outer.source)
                var reader = KeyScanReader(connection: connection, cursor: "0", count: 1000,
                                           filter: KeyFilter(include: [GlobPattern(prefix: overlap.remainder)]))
                do {
                    var finished = false
                    while !finished && !more {
                        let batch = try await reader.next()
                        for key in batch.items where filter.admits(key) {
                            if examples.count == exampleLimit { more = true } else { examples.append(key) }
                        }
                        finished = batch.isLast
                    }
                } catch {
                    await connection.close()
                    throw error
                }
                await connection.close()
            }
            if !examples.isEmpty { problems.append(describe(overlap, examples: examples, more: more)) }
        }
        if !problems.isEmpty {
            throw DatabaseMapping.InvalidMapping(description: problems.joined(separator: "\n"))
        }
    }

    private static func describe(_ overlap: DatabaseMapping.Overlap, examples: [[UInt8]], more: Bool) -> String {
        let outer = overlap.outer, inner = overlap.inner
        let shown = examples.map { key in
            "\(key.printableKey) would be \((outer.prefix + key).printableKey), the name of database \(inner.source)'s \(Array(key.dropFirst(overlap.remainder.count)).printableKey)"
        }
        return """
            source database \(outer.source) has keys that the mapping puts among source database \(inner.source)'s keys \
            (prefix '\(String(decoding: inner.prefix, as: UTF8.self))' in target database \(inner.target)): \
            \(shown.joined(separator: "; "))\(more ? "; and more" : ""). Give database \(outer.source) a prefix of its own \
            (--db-map \(outer.source):db\(outer.source):), give database \(inner.source) one that no key of database \(outer.source) \
            starts with, or leave such keys out with --exclude '\(GlobPattern(prefix: overlap.remainder))'
            """
    }
}
