/// The account a run keeps of every record, per unit (a Redis source database, a vector mapping entry, a node
/// label set, a relationship type): `selected = written + refused + skipped`.
///
/// A writer records each record it is handed as ``selected(_:_:)`` and then exactly one of
/// ``written(_:_:volatile:)`` (acknowledged by the target, never assumed), ``refused(_:_:)`` (listed with its
/// reason in the dead-letter file or the report) or ``skipped(_:rule:_:)`` (left out by a named rule).
/// Ledgers add up across batches and partitions and are kept in the checkpoint, so a resumed run's account
/// covers the whole migration.
public struct Ledger: Sendable, Codable, Equatable {
    /// One unit's account.
    public struct Entry: Sendable, Codable, Equatable {
        /// Records read from the source that the user's selection matched.
        public var selected = 0
        /// Records the target acknowledged.
        public var written = 0
        /// Records the target refused (each listed with its reason).
        public var refused = 0
        /// Records left out, by the rule that left them out.
        public var skipped: [String: Int] = [:]
        /// Written records that can vanish from the target by themselves (keys with an expiry).
        public var volatile = 0

        /// An empty account.
        public init() {}

        /// All records left out, whatever the rule.
        public var skippedTotal: Int { skipped.values.reduce(0, +) }

        /// Whether every selected record is accounted for.
        public var balances: Bool { selected == written + refused + skippedTotal }

        /// Adds `other`'s counts.
        public mutating func merge(_ other: Entry) {
            selected += other.selected
            written += other.written
            refused += other.refused
            volatile += other.volatile
            skipped.merge(other.skipped, uniquingKeysWith: +)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            selected = try container.decodeIfPresent(Int.self, forKey: .selected) ?? 0
            written = try container.decodeIfPresent(Int.self, forKey: .written) ?? 0
            refused = try container.decodeIfPresent(Int.self, forKey: .refused) ?? 0
            skipped = try container.decodeIfPresent([String: Int].self, forKey: .skipped) ?? [:]
            volatile = try container.decodeIfPresent(Int.self, forKey: .volatile) ?? 0
        }
    }

    /// Accounts by unit name.
    public private(set) var units: [String: Entry]

    /// An empty ledger.
    public init(units: [String: Entry] = [:]) {
        self.units = units
    }

    /// Counts `count` records of `unit` as selected.
    public mutating func selected(_ unit: String, _ count: Int = 1) {
        units[unit, default: Entry()].selected += count
    }

    /// Counts `count` records of `unit` as acknowledged by the target; `volatile` of them may expire there.
    public mutating func written(_ unit: String, _ count: Int = 1, volatile: Int = 0) {
        units[unit, default: Entry()].written += count
        units[unit, default: Entry()].volatile += volatile
    }

    /// Counts `count` records of `unit` as refused by the target.
    public mutating func refused(_ unit: String, _ count: Int = 1) {
        units[unit, default: Entry()].refused += count
    }

    /// Counts `count` records of `unit` as left out by `rule`.
    public mutating func skipped(_ unit: String, rule: String, _ count: Int = 1) {
        units[unit, default: Entry()].skipped[rule, default: 0] += count
    }

    /// Makes `unit` appear in the ledger even when it had no records (an empty table is still accounted for).
    public mutating func open(_ unit: String) {
        _ = units[unit, default: Entry()]
    }

    /// Adds every account of `other`.
    public mutating func merge(_ other: Ledger) {
        for (unit, entry) in other.units {
            units[unit, default: Entry()].merge(entry)
        }
    }

    /// The sum over every unit.
    public var total: Entry {
        units.values.reduce(into: Entry()) { $0.merge($1) }
    }

    public init(from decoder: any Decoder) throws {
        units = try decoder.singleValueContainer().decode([String: Entry].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(units)
    }
}

/// The ledger held against the target's own count, unit by unit, after a copy: the proof a run offers.
public struct LedgerAudit: Sendable, Codable, Equatable {
    /// One unit's line.
    public struct Row: Sendable, Codable, Equatable {
        /// The unit.
        public var unit: String
        /// Its account.
        public var entry: Ledger.Entry
        /// What the target held in the unit when the migration first started, if it was counted.
        public var before: Int?
        /// What the target holds now, if it was counted.
        public var onTarget: Int?
        /// Why the unit does not balance, or `nil` when it does.
        public var problem: String?
    }

    /// The units, in name order.
    public var rows: [Row]

    /// Checks each unit's account, and its written records against the target's count.
    ///
    /// - Parameters:
    ///   - ledger: what the run accounted for.
    ///   - before: the target's count per unit when the migration first started (a unit absent here was not
    ///     counted then, and a target that held records cannot be held to equality).
    ///   - onTarget: the target's count per unit now; `nil` when the target cannot be counted (a dry run, an
    ///     export to files), so no row is held against it.
    public init(ledger: Ledger, before: [String: Int], onTarget: [String: Int]?) {
        rows = ledger.units.keys.sorted().map { unit in
            let entry = ledger.units[unit]!
            let held = before[unit]
            let now = onTarget.map { $0[unit] ?? 0 }
            return Row(unit: unit, entry: entry, before: held, onTarget: now, problem: Self.problem(entry, before: held, onTarget: now))
        }
    }

    private static func problem(_ entry: Ledger.Entry, before: Int?, onTarget: Int?) -> String? {
        if !entry.balances {
            let missing = entry.selected - entry.written - entry.refused - entry.skippedTotal
            return "\(missing > 0 ? "\(missing) selected record(s) were neither written, refused nor skipped" : "\(-missing) more record(s) accounted for than selected")"
        }
        guard let onTarget else { return nil }
        let low = entry.written - entry.volatile
        switch before {
        case 0?:
            if onTarget < low || onTarget > entry.written {
                return "the target holds \(onTarget), but \(entry.written) were written"
                    + (entry.volatile > 0 ? " (\(entry.volatile) of them with an expiry)" : "")
                    + (onTarget < low ? ": records were dropped or merged on the target" : ": the target holds records this run did not write")
            }
        case let held?:
            if onTarget < low || onTarget > held + entry.written {
                return "the target holds \(onTarget); with \(held) there before the run and \(entry.written) written it should hold between \(max(low, held)) and \(held + entry.written)"
            }
        case nil:
            if onTarget < low {
                return "the target holds \(onTarget), fewer than the \(entry.written) written: records were dropped or merged on the target"
            }
        }
        return nil
    }

    /// The rows that do not balance.
    public var problems: [Row] { rows.filter { $0.problem != nil } }

    /// The sum over every unit.
    public var total: Ledger.Entry {
        rows.reduce(into: Ledger.Entry()) { $0.merge($1.entry) }
    }

    /// The audit as a report table.
    public var section: MigrationReport.Section {
        let skippedRules = Set(rows.flatMap { $0.entry.skipped.keys }).sorted()
        let hasTarget = rows.contains { $0.onTarget != nil }
        var columns = ["unit", "selected", "written", "refused", "skipped"]
        if hasTarget { columns.append("on target") }
        columns.append("balance")
        func cells(_ name: String, _ entry: Ledger.Entry, onTarget: Int?, problem: String?) -> [String] {
            var row = [name, Format.count(entry.selected), Format.count(entry.written), Format.count(entry.refused), Format.count(entry.skippedTotal)]
            if hasTarget { row.append(onTarget.map(Format.count) ?? "-") }
            row.append(problem == nil ? "ok" : "NO")
            return row
        }
        var table = rows.map { cells($0.unit, $0.entry, onTarget: $0.onTarget, problem: $0.problem) }
        if rows.count > 1 {
            let onTarget = hasTarget ? rows.compactMap(\.onTarget).reduce(0, +) : nil
            table.append(cells("(all)", total, onTarget: onTarget, problem: problems.first?.problem))
        }
        let title = "ledger: selected = written + refused + skipped"
            + (skippedRules.isEmpty ? "" : " (skipped: \(skippedRules.joined(separator: "; ")))")
        return .init(title: title, columns: columns, rows: table)
    }
}
