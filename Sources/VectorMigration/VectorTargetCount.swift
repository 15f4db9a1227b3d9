import MigrationCore
import Postgres
import Qdrant

/// What the target holds per ledger unit (a mapping entry: one source table or collection into one target
/// collection or table), counted as the application sees it: Qdrant's exact count of the collection, or
/// PostgreSQL's `count(*)` of the table. `nil` when two units write into one target, so their counts cannot be
/// told apart. A shard's count also holds the other shards' rows: the runner holds it only to a lower bound
/// (``MigrationPlan/sharesTarget``).
enum VectorTargetCount {
    static func count(_ jobs: [VectorJob], units: [String], settings: VectorRunSettings) async throws -> [String: Int]? {
        let selected = jobs.filter { units.contains($0.name) }
        let targets = jobs.map(\.target)
        guard Set(targets).count == targets.count else { return nil }
        var counts: [String: Int] = [:]
        switch settings.target {
        case .qdrant(let configuration):
            let client = QdrantClient(configuration)
            do {
                for job in selected {
                    guard case .collection(let name) = job.target, try await client.collection(name) != nil else { continue }
                    counts[job.name] = try await client.count(name)
                }
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        case .postgres(let configuration, _, _):
            counts = try await withConnection(configuration) { connection in
                var counts: [String: Int] = [:]
                for job in selected {
                    guard case .table(let schema, let table) = job.target,
                          try await TableSchema.tables(connection, schema: schema).contains(table) else { continue }
                    counts[job.name] = try await countRows(connection, "\(quoteIdentifier(schema)).\(quoteIdentifier(table))")
                }
                return counts
            }
        }
        return counts
    }
}
