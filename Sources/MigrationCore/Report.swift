import BlockingIO
import Foundation

/// The end-of-run report: a table for people, the same content as JSON (`--report FILE`) for machines.
public struct MigrationReport: Sendable, Codable, Equatable {
    /// How the run ended.
    public enum Outcome: String, Sendable, Codable {
        /// Everything was copied (or verified equal).
        case succeeded
        /// Verification found differences.
        case mismatched
        /// The run stopped on an error; the checkpoint says how far it got.
        case failed
        /// The run finished, but the target refused some records (listed in a dead-letter file).
        case incomplete
        /// `--dry-run`: read everything, wrote nothing.
        case dryRun = "dry-run"

        /// The process exit status for this outcome, the same for every command: 0 succeeded (or a dry run),
        /// 2 failed (resumable), 3 verification found differences, 4 finished with refused records.
        public var exitCode: Int32 {
            switch self {
            case .succeeded, .dryRun: return 0
            case .failed: return 2
            case .mismatched: return 3
            case .incomplete: return 4
            }
        }
    }

    /// A titled table of counts.
    public struct Section: Sendable, Codable, Equatable {
        /// The table's title.
        public var title: String
        /// Column names.
        public var columns: [String]
        /// Rows of cells, as many as `columns`.
        public var rows: [[String]]

        /// Creates a section.
        public init(title: String, columns: [String], rows: [[String]]) {
            self.title = title
            self.columns = columns
            self.rows = rows
        }
    }

    /// The command that ran (`migrate redis`).
    public var command: String
    /// The source, with secrets redacted.
    public var source: String
    /// The target, with secrets redacted.
    public var target: String
    /// How the run ended.
    public var outcome: Outcome
    /// When it started.
    public var startedAt: Date
    /// When it ended.
    public var finishedAt: Date
    /// Whether it continued from a checkpoint.
    public var resumed: Bool
    /// Totals by counter name.
    public var totals: Tally
    /// The order-independent checksum over what was copied or compared.
    public var checksum: OrderIndependentChecksum?
    /// Tables (per type, per database, per node).
    public var sections: [Section]
    /// Problems worth a person's attention (first differing keys, refused keys, the error that stopped the run).
    public var problems: [String]
    /// What the run produced or did besides copying (files written, uploads, rules applied): facts, not problems.
    public var notes: [String]
    /// The ledger held against the target's count, per unit, for runs that keep one.
    public var ledger: LedgerAudit?
    /// Where the checkpoint lives, to resume or inspect.
    public var checkpoint: String?
    /// The first records the target refused, with their reasons, and the dead-letter file that lists them all.
    public var refused: RefusedRecords?
    /// Progress over time (records/s, bytes/s, live lag, retries), when the command kept a timeline.
    public var timeline: ProgressSeries?
    /// Where and how the run ran: the tool's version, the options, facts about source and target.
    public var context: RunContext?

    /// Creates a report.
    public init(
        command: String, source: String, target: String, outcome: Outcome, startedAt: Date, finishedAt: Date = Date(),
        resumed: Bool = false, totals: Tally = Tally(), checksum: OrderIndependentChecksum? = nil,
        sections: [Section] = [], problems: [String] = [], notes: [String] = [], ledger: LedgerAudit? = nil, checkpoint: String? = nil
    ) {
        self.command = command
        self.source = source
        self.target = target
        self.outcome = outcome
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.resumed = resumed
        self.totals = totals
        self.checksum = checksum
        self.sections = sections
        self.problems = problems
        self.notes = notes
        self.ledger = ledger
        self.checkpoint = checkpoint
    }

    /// Seconds from start to end.
    public var durationSeconds: Double { finishedAt.timeIntervalSince(startedAt) }

    /// The report as aligned text tables.
    public func rendered() -> String {
        var lines: [String] = []
        lines.append("\(command): \(outcome.rawValue.uppercased()) in \(Format.duration(durationSeconds))\(resumed ? " (resumed)" : "")")
        lines.append("  source  \(source)")
        lines.append("  target  \(target)")
        if let checkpoint { lines.append("  checkpoint  \(checkpoint)") }
        if !totals.counts.isEmpty {
            lines.append("")
            let rows = totals.counts.sorted { $0.key < $1.key }.map { [$0.key, Format.count($0.value)] }
            lines.append(contentsOf: Self.table(columns: ["total", "count"], rows: rows))
        }
        if let checksum {
            lines.append("  checksum  \(checksum.hex) over \(Format.count(checksum.count)) records")
        }
        for section in (ledger.map { [$0.section] } ?? []) + sections where !section.rows.isEmpty {
            lines.append("")
            lines.append(section.title)
            lines.append(contentsOf: Self.table(columns: section.columns, rows: section.rows))
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

    /// Writes the report as pretty JSON to `path`.
    public func write(toPath path: String) async throws {
        try await ReportFile.write(self, toPath: path)
    }

    /// Rows as an aligned text table, numbers right-aligned.
    public static func table(columns: [String], rows: [[String]]) -> [String] {
        var widths = columns.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func format(_ cells: [String]) -> String {
            "  " + cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
                // Numbers right-aligned, text left-aligned.
                return cell.first?.isNumber == true || cell.hasPrefix("-") && cell.count > 1 ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
        return [format(columns), "  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(format)
    }
}

/// The records a target refused, as a report shows them.
public struct RefusedRecords: Sendable, Codable, Equatable {
    /// How many reports list at most.
    public static let listed = 100

    /// The dead-letter file that lists every refused record with its reason.
    public var file: String
    /// How many records the target refused.
    public var count: Int
    /// The first ``listed`` lines of the dead-letter file (one JSON object each: the record and the reason).
    public var first: [String]

    /// Creates the list.
    public init(file: String, count: Int, first: [String]) {
        self.file = file
        self.count = count
        self.first = first
    }
}

/// Where and how a run ran, for the people who sign it off.
public struct RunContext: Sendable, Codable, Equatable {
    /// The tool's version.
    public var toolVersion: String
    /// The command line (or a phase's options), with every secret redacted.
    public var arguments: [String]
    /// Named facts about source and target (address, version, topology, TLS), secrets redacted.
    public var facts: [[String]]

    /// Creates a context.
    public init(toolVersion: String, arguments: [String], facts: [[String]] = []) {
        self.toolVersion = toolVersion
        self.arguments = arguments
        self.facts = facts
    }
}

/// Reports as files: pretty JSON with snake_case keys and ISO 8601 dates, written atomically off the cooperative pool.
public enum ReportFile {
    /// Writes `value` to `path`.
    public static func write<T: Encodable>(_ value: T, toPath path: String) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try await write(data: encoder.encode(value), toPath: path)
    }

    /// Writes `text` (an HTML page) to `path`.
    public static func write(text: String, toPath path: String) async throws {
        try await write(data: Data(text.utf8), toPath: path)
    }

    private static func write(data: Data, toPath path: String) async throws {
        try await BlockingQueue(label: "migrate.report").run {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        }
    }
}
