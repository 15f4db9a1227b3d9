import Foundation

/// What `migrate plan` found for one phase (keys, vectors or graph) before anything is written: an inventory of
/// the source, facts about the target, a rate measured on a short sample, and every problem that would stop
/// or spoil the run.
public struct PhasePlan: Sendable, Codable, Equatable {
    /// A measured read of the first records, from which the run's duration is estimated.
    public struct Sample: Sendable, Codable, Equatable {
        /// Records read.
        public var records: Int
        /// Seconds the read took.
        public var seconds: Double

        /// Creates a sample.
        public init(records: Int, seconds: Double) {
            self.records = records
            self.seconds = seconds
        }
    }

    /// `keys`, `vectors` or `graph`.
    public var phase: String
    /// The source, without secrets.
    public var source: String
    /// The target, without secrets.
    public var target: String
    /// What a record is (`keys`, `rows`, `records`).
    public var unit: String
    /// How many records the phase will read.
    public var records: Int
    /// Named facts: server versions, cluster mode, memory (`["target version", "valkey 8.1.1"]`).
    public var facts: [[String]]
    /// Inventory tables (keys per database and type, rows per table, nodes per label).
    public var sections: [MigrationReport.Section]
    /// The measured sample, if the source could be read.
    public var sample: Sample?
    /// Everything that would make the run fail or lose data, each with its fix.
    public var problems: [String]
    /// Things worth knowing that do not stop the run (conversions, big keys).
    public var notes: [String]

    /// Creates a plan.
    public init(phase: String, source: String, target: String, unit: String, records: Int = 0, facts: [[String]] = [],
                sections: [MigrationReport.Section] = [], sample: Sample? = nil, problems: [String] = [], notes: [String] = []) {
        self.phase = phase
        self.source = source
        self.target = target
        self.unit = unit
        self.records = records
        self.facts = facts
        self.sections = sections
        self.sample = sample
        self.problems = problems
        self.notes = notes
    }

    /// Seconds the phase should take at the sampled read rate: a lower bound, since nothing was written.
    public var estimatedSeconds: Double? {
        guard let sample, sample.records > 0, sample.seconds > 0 else { return nil }
        return Double(records) / (Double(sample.records) / sample.seconds)
    }

    /// The plan as text for people.
    public func rendered() -> String {
        var lines = ["\(phase): \(problems.isEmpty ? "READY" : "\(problems.count) PROBLEM\(problems.count == 1 ? "" : "S")")"]
        lines.append("  source  \(source)")
        lines.append("  target  \(target)")
        var summary = "  \(Format.count(records)) \(unit)"
        if let sample, let estimatedSeconds {
            let rate = Double(sample.records) / sample.seconds
            summary += "; sampled \(Format.count(sample.records)) at \(Format.count(Int(rate)))/s → at least \(Format.duration(estimatedSeconds))"
        }
        lines.append(summary)
        if !facts.isEmpty {
            lines.append("")
            lines.append(contentsOf: MigrationReport.table(columns: ["fact", "value"], rows: facts))
        }
        for section in sections where !section.rows.isEmpty {
            lines.append("")
            lines.append(section.title)
            lines.append(contentsOf: MigrationReport.table(columns: section.columns, rows: section.rows))
        }
        if !notes.isEmpty {
            lines.append("")
            lines.append("notes:")
            lines.append(contentsOf: notes.map { "  - \($0)" })
        }
        if !problems.isEmpty {
            lines.append("")
            lines.append("problems (\(problems.count)):")
            lines.append(contentsOf: problems.map { "  - \($0)" })
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
