import Foundation
import MigrationCore

/// `migrate plan` for a graph: nodes per label set and relationships per type on the source, the target reached
/// and what it already holds, and — for Neptune, which stores simple literals only — what the first nodes'
/// properties become (JSON text, ISO 8601 strings) or why they would be refused, with a read rate measured on
/// that sample. It writes nothing.
public struct GraphInventory: Sendable {
    /// Stores, mapping and batching.
    public var settings: GraphRunSettings

    /// Creates an inventory.
    public init(settings: GraphRunSettings) {
        self.settings = settings
    }

    /// Takes the inventory; what would stop the run is listed in the plan's problems, not thrown.
    public func take() async -> PhasePlan {
        var plan = PhasePlan(phase: "graph", source: settings.sourceDisplayName, target: settings.target.displayName, unit: "records")
        do {
            let summary = try await GraphSummary.read(.bolt(settings.source, displayName: settings.sourceDisplayName), mapping: settings.mapping, degrees: false)
            plan.records = summary.nodes + summary.relationships
            plan.sections.append(.init(title: "nodes by label set", columns: ["labels", "nodes"],
                                       rows: summary.labels.sorted { $0.key < $1.key }.map { [$0.key.isEmpty ? "(none)" : $0.key, Format.count($0.value)] }))
            plan.sections.append(.init(title: "relationships by type", columns: ["type", "relationships"],
                                       rows: summary.types.sorted { $0.key < $1.key }.map { [$0.key, Format.count($0.value)] }))
            try await sample(into: &plan)
            // A full pass over the nodes' keys (never their properties): two nodes with one target id stop a run.
            if let collision = try await NodeIdentityCheck.collisions(settings.source, mapping: settings.mapping) {
                plan.problems.append(collision.description)
            }
        } catch {
            plan.problems.append("source: \(error)")
        }
        if settings.export == nil || settings.export?.loaderRoleARN != nil {
            do {
                try await GraphMigration.checkTarget(settings.target)
                let counts = try await GraphSummary.read(settings.target, mapping: settings.mapping, degrees: false)
                plan.facts.append(["target holds", "\(Format.count(counts.nodes)) nodes, \(Format.count(counts.relationships)) relationships"])
                if counts.nodes + counts.relationships > 0 {
                    plan.notes.append("the target is not empty: records with the same ids are merged, others stay (verify will count them)")
                }
            } catch {
                plan.problems.append("target: \(error)")
            }
        }
        return plan
    }

    /// Reads the first page of nodes, timed, and converts their properties as the Neptune writer would.
    private func sample(into plan: inout PhasePlan) async throws {
        var reader = try await settings.reader(GraphPartition.nodes, position: "-1")
        let started = ContinuousClock.now
        let batch = try await reader.next()
        let elapsed = ContinuousClock.now - started
        await reader.connection.close()
        plan.sample = .init(records: batch.items.count, seconds: elapsed.inSeconds)
        guard case .neptune = settings.target else { return }
        let converter = PropertyConverter(policy: settings.mapping.properties)
        var conversions: [String: Int] = [:]
        var refused: [String: String] = [:]
        for case .node(let node) in batch.items {
            do {
                _ = try converter.literals(node.properties, conversions: &conversions)
            } catch {
                refused[error.property] = error.description
            }
        }
        for (conversion, count) in conversions.sorted(by: { $0.key < $1.key }) {
            plan.notes.append("Neptune stores simple literals: \(conversion) for \(Format.count(count)) values in the first \(Format.count(batch.items.count)) nodes")
        }
        for (_, reason) in refused.sorted(by: { $0.key < $1.key }) {
            plan.problems.append("\(reason): such nodes would go to the dead-letter file; allow JSON text for them in the mapping's properties section")
        }
    }
}
