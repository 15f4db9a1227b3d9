import RESP

/// Counts the target per ledger unit (a source database, `db0`, `db1`, …) as the application would see it, by
/// names only: `DBSIZE` for a unit that has a target database to itself, `SCAN MATCH <prefix>*` for a unit under
/// a prefix, and a `SCAN` attributing each name to its source database (the longest prefix that fits) when
/// prefixes nest (an unmapped database 0 beside `--db-map 1:db1:`) or the run is filtered or sharded.
/// Every primary of a cluster is counted.
enum TargetCount {
    static func count(target deployment: RedisDeployment, mapping: DatabaseMapping, sourceDatabases: [Int], filter: KeyFilter,
                      units: [String]) async throws -> [String: Int] {
        let databases = units.compactMap(KeyCopyWriter.database(ofUnit:))
        let client = try await deployment.connect()
        do {
            var counts: [String: Int] = [:]
            let byTarget = Dictionary(grouping: databases.map(mapping.rule(for:)), by: \.target)
            for (targetDatabase, rules) in byTarget.sorted(by: { $0.key < $1.key }) {
                let nested = rules.contains { outer in rules.contains { $0.source != outer.source && $0.prefix.starts(with: outer.prefix) } }
                if nested || filter.filtersNames {
                    let attributed = try await attribute(client, database: targetDatabase, mapping: mapping, sourceDatabases: sourceDatabases, filter: filter)
                    for rule in rules { counts[KeyCopyWriter.unit(rule.source)] = attributed[rule.source] ?? 0 }
                } else if let rule = rules.first, rules.count == 1, rule.prefix.isEmpty {
                    counts[KeyCopyWriter.unit(rule.source)] = try await databaseSize(client, database: targetDatabase)
                } else {
                    for rule in rules {
                        var names = 0
                        try await scan(client, database: targetDatabase, pattern: GlobPattern(prefix: rule.prefix)) { _ in names += 1 }
                        counts[KeyCopyWriter.unit(rule.source)] = names
                    }
                }
            }
            await client.close()
            return counts
        } catch {
            await client.close()
            throw error
        }
    }

    /// DBSIZE of `database`, summed over the primaries.
    private static func databaseSize(_ client: RedisClient, database: Int) async throws -> Int {
        var total = 0
        for node in client.primaries {
            let connection = try await client.openConnection(to: node, database: database)
            let reply: RESPValue
            do {
                reply = try await connection.request(RESPCommand("DBSIZE"))
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
            guard let size = reply.integer else { throw RedisError.unexpectedReply(node, command: "DBSIZE", reply: "\(reply)") }
            total += Int(size)
        }
        return total
    }

    /// Target keys of `database` per source database they came from, counting those `filter` admits by their
    /// source-side name.
    private static func attribute(_ client: RedisClient, database: Int, mapping: DatabaseMapping, sourceDatabases: [Int],
                                  filter: KeyFilter) async throws -> [Int: Int] {
        var counts: [Int: Int] = [:]
        try await scan(client, database: database, pattern: nil) { key in
            if let origin = mapping.unmap(key, database: database, sourceDatabases: sourceDatabases), filter.admits(origin.key) {
                counts[origin.database, default: 0] += 1
            }
        }
        return counts
    }

    /// Calls `body` with every name of `database` on every primary that matches `pattern` (SCAN MATCH).
    private static func scan(_ client: RedisClient, database: Int, pattern: GlobPattern?, body: ([UInt8]) -> Void) async throws {
        for node in client.primaries {
            let connection = try await client.openConnection(to: node, database: database)
            var reader = KeyScanReader(connection: connection, cursor: "0", count: 1000, filter: KeyFilter(include: pattern.map { [$0] } ?? []))
            do {
                var finished = false
                while !finished {
                    let batch = try await reader.next()
                    batch.items.forEach(body)
                    finished = batch.isLast
                }
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        }
    }
}

extension KeyFilter {
    /// Whether the filter leaves out keys by name or shard (so a database's size is not the run's count).
    var filtersNames: Bool { !include.isEmpty || !exclude.isEmpty || shard != nil }
}
