import Foundation
import MigrationCore
import Yams

/// Where each source database goes on the target: a database number and a key prefix.
///
/// A cluster target has database 0 only, so other source databases must be folded into it with a prefix
/// (`--db-map 3:db3:`). Mappings that would let two source keys land on one target key are refused.
public struct DatabaseMapping: Sendable, Hashable {
    /// Where one source database goes.
    public struct Rule: Sendable, Hashable {
        /// The source database.
        public var source: Int
        /// The target database.
        public var target: Int
        /// Prepended to every key.
        public var prefix: [UInt8]

        /// Creates a rule.
        public init(source: Int, target: Int, prefix: [UInt8] = []) {
            self.source = source
            self.target = target
            self.prefix = prefix
        }
    }

    /// A mapping that could not be used, with the fix.
    public struct InvalidMapping: Error, Sendable, CustomStringConvertible {
        /// The problem and the fix.
        public var description: String
    }

    /// The explicit rules by source database.
    public private(set) var rules: [Int: Rule]
    /// Source databases that must hold keys: a mapping file's entries not marked `optional: true`.
    public private(set) var required: Set<Int>

    /// A mapping with the given rules; databases without a rule keep their number and names. Databases in
    /// `required` must hold keys on the source (see ``checkRequired(keysPerDatabase:selected:)``).
    public init(rules: [Rule] = [], required: Set<Int> = []) {
        self.rules = Dictionary(rules.map { ($0.source, $0) }, uniquingKeysWith: { _, last in last })
        self.required = required
    }

    /// Parses `--db-map` values: `SRC:PREFIX` (into database 0 under PREFIX), `SRC=DST` (another database),
    /// or `SRC=DST:PREFIX`.
    public init(arguments: [String]) throws(InvalidMapping) {
        var rules: [Rule] = []
        for argument in arguments {
            rules.append(try Self.parse(argument))
        }
        let sources = rules.map(\.source)
        if Set(sources).count != sources.count {
            throw InvalidMapping(description: "--db-map names a source database twice; give one rule per database")
        }
        self.init(rules: rules)
    }

    /// Loads a mapping file (see `mappings/redis-databases.yaml`). A field the format does not know is an error
    /// (a misspelt `prefx:` would otherwise copy the database without its prefix).
    public init(yamlFile path: String) throws(InvalidMapping) {
        struct File: Decodable {
            struct Entry: Decodable {
                var db: Int?
                var prefix: String?
                var optional: Bool

                enum CodingKeys: String, CodingKey, CaseIterable { case db, prefix, optional }

                init(from decoder: any Decoder) throws {
                    try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
                    let container = try decoder.container(keyedBy: CodingKeys.self)
                    db = try container.decodeIfPresent(Int.self, forKey: .db)
                    prefix = try container.decodeIfPresent(String.self, forKey: .prefix)
                    optional = try container.decodeIfPresent(Bool.self, forKey: .optional) ?? false
                }
            }
            var databases: [Int: Entry]

            enum CodingKeys: String, CodingKey, CaseIterable { case databases }

            init(from decoder: any Decoder) throws {
                try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
                databases = try decoder.container(keyedBy: CodingKeys.self).decode([Int: Entry].self, forKey: .databases)
            }
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InvalidMapping(description: "cannot read mapping file '\(path)': check the path")
        }
        let file: File
        do {
            file = try YAMLDecoder().decode(File.self, from: data)
        } catch let error as UnknownFieldError {
            throw InvalidMapping(description: "mapping file '\(path)': \(error)")
        } catch {
            throw InvalidMapping(description: "mapping file '\(path)' is not valid: \(error). Expected `databases: {3: {prefix: \"db3:\"}}`")
        }
        if let negative = file.databases.first(where: { $0.key < 0 || ($0.value.db ?? 0) < 0 }) {
            throw InvalidMapping(description: "mapping file '\(path)': databases[\(negative.key)]: database numbers are 0 or more")
        }
        self.init(
            rules: file.databases.map { source, entry in
                Rule(source: source, target: entry.db ?? (entry.prefix == nil ? source : 0), prefix: Array((entry.prefix ?? "").utf8))
            },
            required: Set(file.databases.filter { !$0.value.optional }.keys)
        )
    }

    private static func parse(_ text: String) throws(InvalidMapping) -> Rule {
        let usage = "--db-map '\(text)' is not valid: use SRC:PREFIX (e.g. 3:db3:), SRC=DST (e.g. 3=0) or SRC=DST:PREFIX"
        let head: Substring
        var prefix: Substring = ""
        if let colon = text.firstIndex(of: ":") {
            head = text[..<colon]
            prefix = text[text.index(after: colon)...]
        } else {
            head = Substring(text)
        }
        let parts = head.split(separator: "=", omittingEmptySubsequences: false)
        guard parts.count <= 2, let source = Int(parts[0]), source >= 0 else { throw InvalidMapping(description: usage) }
        var target = prefix.isEmpty ? source : 0
        if parts.count == 2 {
            guard let value = Int(parts[1]), value >= 0 else { throw InvalidMapping(description: usage) }
            target = value
        }
        if parts.count == 1 && text.contains(":") && prefix.isEmpty {
            throw InvalidMapping(description: usage)
        }
        return Rule(source: source, target: target, prefix: Array(prefix.utf8))
    }

    /// The rule for source database `database`.
    public func rule(for database: Int) -> Rule {
        rules[database] ?? Rule(source: database, target: database)
    }

    /// Checks that every required database the run reads holds keys: an entry for a database the source does not
    /// have is a typo that would leave the intended database's keys where they were.
    /// - Parameters:
    ///   - keysPerDatabase: the source's keys per database.
    ///   - selected: the databases the run reads (`--db`), or `nil` for all.
    public func checkRequired(keysPerDatabase: [Int: Int], selected: [Int]?) throws(InvalidMapping) {
        let empty = required.filter { (keysPerDatabase[$0] ?? 0) == 0 && (selected?.contains($0) ?? true) }.sorted()
        guard !empty.isEmpty else { return }
        let existing = keysPerDatabase.filter { $0.value > 0 }.keys.sorted()
        let names = empty.map(String.init).joined(separator: ", ")
        throw InvalidMapping(description: """
            the mapping has entries for source database\(empty.count == 1 ? "" : "s") \(names), which hold\(empty.count == 1 ? "s" : "") no keys \
            (databases with keys: \(existing.isEmpty ? "none" : existing.map(String.init).joined(separator: ", "))): \
            correct the number, or mark the entry `optional: true` when the database may be empty
            """)
    }

    /// Checks that every database in `sourceDatabases` has a place on the target and that no two can collide.
    public func validate(sourceDatabases: [Int], targetIsCluster: Bool) throws(InvalidMapping) {
        let used = sourceDatabases.sorted().map(rule(for:))
        for rule in used where targetIsCluster && rule.target != 0 {
            let hint = rule.source == rule.target ? "map it with --db-map \(rule.source):db\(rule.source): or leave it out with --db" : "map it into database 0"
            throw InvalidMapping(description: "source database \(rule.source) has keys but the cluster target has only database 0: \(hint)")
        }
        for (index, first) in used.enumerated() {
            for second in used[(index + 1)...] where first.target == second.target && first.prefix == second.prefix {
                throw InvalidMapping(description: """
                    source databases \(first.source) and \(second.source) would both go to target database \(first.target) \
                    under the prefix '\(String(decoding: first.prefix, as: UTF8.self))', so their keys could collide: \
                    give one of them its own prefix (--db-map \(second.source):db\(second.source):)
                    """)
            }
        }
    }

    /// Two rules into one target database where one prefix starts with the other (an unmapped database's empty
    /// prefix included): a key of `outer`'s database whose name starts with `remainder` lands among `inner`'s keys.
    public struct Overlap: Sendable, Hashable {
        /// The rule with the shorter prefix.
        public var outer: Rule
        /// The rule with the longer prefix.
        public var inner: Rule

        /// What a name of `outer`'s database must start with to land under `inner`'s prefix.
        public var remainder: [UInt8] { Array(inner.prefix.dropFirst(outer.prefix.count)) }
    }

    /// Every overlap among the rules of `sourceDatabases` (the keys that really collide are found by scanning
    /// the outer databases for the remainder).
    public func overlaps(sourceDatabases: [Int]) -> [Overlap] {
        let used = sourceDatabases.sorted().map(rule(for:))
        return used.flatMap { outer in
            used.filter { inner in
                inner.source != outer.source && inner.target == outer.target && inner.prefix.count > outer.prefix.count
                    && inner.prefix.starts(with: outer.prefix)
            }.map { Overlap(outer: outer, inner: $0) }
        }
    }

    /// The rule of another source database whose keys `key` of `database` would land among, if any: with
    /// `--db-map 3:db3:`, a key `db3:x` in database 0 would be indistinguishable from key `x` of database 3.
    public func collision(for key: [UInt8], database: Int, sourceDatabases: [Int]) -> Rule? {
        let own = rule(for: database)
        let mapped = own.prefix + key
        return sourceDatabases.lazy.filter { $0 != database }.map(rule(for:)).first { other in
            other.target == own.target && other.prefix.count > own.prefix.count && mapped.starts(with: other.prefix)
        }
    }

    /// The target database and key for `key` of source database `database`.
    public func map(_ key: [UInt8], database: Int) -> (database: Int, key: [UInt8]) {
        let rule = rule(for: database)
        return (rule.target, rule.prefix.isEmpty ? key : rule.prefix + key)
    }

    /// The source database and key that `key` of target database `database` came from, or `nil` when no
    /// source database among `sourceDatabases` maps there.
    public func unmap(_ key: [UInt8], database: Int, sourceDatabases: [Int]) -> (database: Int, key: [UInt8])? {
        let candidates = sourceDatabases.map(rule(for:)).filter { $0.target == database && key.starts(with: $0.prefix) }
        guard let best = candidates.max(by: { $0.prefix.count < $1.prefix.count }) else { return nil }
        return (best.source, Array(key.dropFirst(best.prefix.count)))
    }
}
