import Foundation
import MigrationCore

/// The one report of `migrate run`: each phase's copy and verification reports, and the outcome of the whole.
public struct RunReport: Sendable, Codable {
    /// What happened to one phase.
    public struct PhaseResult: Sendable, Codable {
        /// Which phase.
        public var phase: MigrationConfiguration.Phase
        /// The copy's report, if the copy ran.
        public var copy: MigrationReport?
        /// The verification's report, if it ran.
        public var verification: MigrationReport?
        /// The error that stopped the phase before it could report (bad options, unreachable store).
        public var error: String?

        /// Creates a result.
        public init(phase: MigrationConfiguration.Phase, copy: MigrationReport? = nil, verification: MigrationReport? = nil, error: String? = nil) {
            self.phase = phase
            self.copy = copy
            self.verification = verification
            self.error = error
        }

        /// The phase's outcome: the worse of its copy's and its verification's.
        public var outcome: MigrationReport.Outcome {
            if error != nil { return .failed }
            return RunReport.worst([copy?.outcome, verification?.outcome].compactMap { $0 })
        }
    }

    /// The configuration file.
    public var configuration: String
    /// When the run started.
    public var startedAt: Date
    /// When it ended.
    public var finishedAt: Date
    /// The phases that ran, in order.
    public var phases: [PhaseResult]
    /// Phases not started because an earlier one failed.
    public var skipped: [MigrationConfiguration.Phase]

    /// Creates a report.
    public init(configuration: String, startedAt: Date, finishedAt: Date = Date(), phases: [PhaseResult], skipped: [MigrationConfiguration.Phase]) {
        self.configuration = configuration
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.phases = phases
        self.skipped = skipped
    }

    /// The whole run's outcome: the worst of its phases'; `failed` when a phase was not started.
    public var outcome: MigrationReport.Outcome {
        skipped.isEmpty ? Self.worst(phases.map(\.outcome)) : .failed
    }

    /// The report as text: every phase's reports, then a summary table.
    public func rendered() -> String {
        var text = ""
        for result in phases {
            if let copy = result.copy { text += copy.rendered() + "\n" }
            if let verification = result.verification { text += verification.rendered() + "\n" }
            if let error = result.error { text += "\(result.phase.rawValue): FAILED: \(error)\n\n" }
        }
        let rows = phases.map { result in
            [result.phase.rawValue, result.copy?.outcome.rawValue ?? "-", result.copy.map { Format.duration($0.durationSeconds) } ?? "-",
             result.verification?.outcome.rawValue ?? "-", result.outcome.rawValue]
        } + skipped.map { [$0.rawValue, "not started", "-", "-", "-"] }
        text += "migrate run --config \(configuration): \(outcome.rawValue.uppercased()) in \(Format.duration(finishedAt.timeIntervalSince(startedAt)))\n"
        text += MigrationReport.table(columns: ["phase", "copy", "time", "verify", "outcome"], rows: rows).joined(separator: "\n") + "\n"
        return text
    }

    private enum CodingKeys: String, CodingKey {
        case configuration, startedAt, finishedAt, phases, skipped, outcome
    }

    /// Encodes the report with its overall `outcome`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(configuration, forKey: .configuration)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encode(phases, forKey: .phases)
        try container.encode(skipped, forKey: .skipped)
        try container.encode(outcome, forKey: .outcome)
    }

    /// Reads a report as ``encode(to:)`` wrote it (the overall outcome is computed again, not read).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        configuration = try container.decode(String.self, forKey: .configuration)
        startedAt = try container.decode(Date.self, forKey: .startedAt)
        finishedAt = try container.decode(Date.self, forKey: .finishedAt)
        phases = try container.decode([PhaseResult].self, forKey: .phases)
        skipped = try container.decode([MigrationConfiguration.Phase].self, forKey: .skipped)
    }

    /// The most serious of `outcomes` (`succeeded` when empty).
    static func worst(_ outcomes: [MigrationReport.Outcome]) -> MigrationReport.Outcome {
        let order: [MigrationReport.Outcome] = [.failed, .incomplete, .mismatched, .dryRun, .succeeded]
        return order.first { outcomes.contains($0) } ?? .succeeded
    }
}
