import MigrationCore

extension GraphMigration {
    /// The target's records per ledger unit (``GraphUnit``: `nodes :A:B` per sorted label set,
    /// `relationships T` per type), as the application sees them: one aggregate query for nodes and one for
    /// relationships, on Neptune or a Bolt target, never reading a record. Units it holds nothing of are left out.
    static func countTarget(_ target: GraphStore, units: [String]) async throws -> [String: Int] {
        let summary = try await GraphSummary.read(target, mapping: GraphMapping(), degrees: false)
        let wanted = Set(units)
        return summary.units.filter { wanted.contains($0.key) }
    }
}
