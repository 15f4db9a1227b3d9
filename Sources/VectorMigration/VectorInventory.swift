import Foundation
import MigrationCore
import Qdrant

/// `migrate plan` for vectors: the tables or collections the mapping selects, their rows and vectors, the target
/// each goes to (checked: dimensions, distance, columns, primary key; what a run would create is listed), and a
/// read rate measured on a sample whose records are converted as a run would (NaN, dimensions). It writes nothing.
public struct VectorInventory: Sendable {
    /// Stores, mappings and batching.
    public var settings: VectorRunSettings

    /// Creates an inventory.
    public init(settings: VectorRunSettings) {
        self.settings = settings
    }

    /// Takes the inventory; what would stop the run is listed in the plan's problems, not thrown.
    public func take() async -> PhasePlan {
        var result = PhasePlan(phase: "vectors", source: settings.source.displayName, target: settings.target.displayName, unit: "rows")
        let plan: VectorPlan
        do {
            plan = try await VectorPlan.make(settings, targets: .check)
        } catch {
            result.problems.append("\(error)")
            return result
        }
        result.records = plan.estimatedRows
        result.notes = plan.notes
        if let cluster = plan.targetCluster {
            result.facts.append(["target cluster", cluster.enabled ? "enabled, \(cluster.peers.count) peers" : "disabled (a single node)"])
        }
        if let ordering = plan.writeOrdering { result.facts.append(["write ordering", "\(ordering.rawValue), wait=true"]) }
        result.sections.append(.init(
            title: "sources", columns: ["source", "rows", "vectors", "target"],
            rows: plan.jobs.map { job in
                let vectors = job.vectors.map { "\($0.sourceName) \($0.sparse ? "sparse" : "\($0.dimensions.map(String.init) ?? "?")d") \($0.distance)" }
                return [job.sourceDisplay, Format.count(plan.rowsPerJob[job.name] ?? 0), vectors.joined(separator: ", "), job.targetDisplay]
            }))
        if !plan.collections.isEmpty {
            let cluster = ClusterSettings(target: plan.targetCluster, source: nil, options: settings.collectionSettings)
            result.sections.append(.init(title: "target collections", columns: ClusterSettings.columns, rows: plan.collections.map(cluster.row)))
        }
        guard let job = plan.jobs.first(where: { (plan.rowsPerJob[$0.name] ?? 0) > 0 }) else { return result }
        do {
            let started = ContinuousClock.now
            var reader = try await openReader(job, settings: settings, position: "")
            let batch = try await reader.next()
            let elapsed = ContinuousClock.now - started
            result.sample = .init(records: batch.items.count, seconds: elapsed.inSeconds)
            var sink = VectorSink(settings: settings, jobs: [job.name: job], targetTables: plan.targetTables, dryRun: true)
            let outcome = try await sink.write(batch.items, partition: job.name)
            await sink.reset()
            result.problems += outcome.problems
        } catch {
            result.problems.append("reading \(job.sourceDisplay): \(error)")
        }
        return result
    }
}
