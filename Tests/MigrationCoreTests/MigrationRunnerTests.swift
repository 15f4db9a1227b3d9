import Foundation
import Logging
import Testing
@testable import MigrationCore

/// An in-memory target that misbehaves on purpose: it can drop records while acknowledging them, refuse some,
/// merge two records into one identity, or hold records before the run.
actor FakeTarget {
    enum Behaviour: Sendable {
        case faithful
        /// Acknowledges every record but keeps only those not divisible by `n` (a lying target).
        case dropsEveryNth(Int)
        /// Refuses records divisible by `n`, saying so.
        case refusesEveryNth(Int)
        /// Refuses everything.
        case refusesAll
        /// Stores record `i` under identity `i / 2`: two source records, one target identity.
        case mergesPairs
    }

    let behaviour: Behaviour
    private(set) var stored: [String: Set<Int>] = [:]

    init(_ behaviour: Behaviour, holding before: [String: Set<Int>] = [:]) {
        self.behaviour = behaviour
        self.stored = before
    }

    /// Writes `items` of `unit`; returns the ones refused.
    func write(_ items: [Int], unit: String) -> [Int] {
        var refused: [Int] = []
        for item in items {
            switch behaviour {
            case .faithful: stored[unit, default: []].insert(item)
            case .dropsEveryNth(let n): if item % n != 0 { stored[unit, default: []].insert(item) }
            case .refusesEveryNth(let n): if item % n == 0 { refused.append(item) } else { stored[unit, default: []].insert(item) }
            case .refusesAll: refused.append(item)
            case .mergesPairs: stored[unit, default: []].insert(item / 2)
            }
        }
        return refused
    }

    func counts() -> [String: Int] { stored.mapValues(\.count) }
}

/// Integers `0 ..< size` per partition, written to a ``FakeTarget``; each partition is one ledger unit.
struct FakeMigration: Migration {
    let target: FakeTarget
    let plan: MigrationPlan
    let size: Int
    let countable: Bool

    init(target: FakeTarget, partitions: [String] = ["a", "b"], size: Int = 100, countable: Bool = true, sharesTarget: Bool = false) {
        self.target = target
        self.size = size
        self.countable = countable
        plan = MigrationPlan(store: "fake", command: "migrate fake", source: "memory", target: "memory", fingerprint: "f\(size)",
                             stages: [partitions.map { PartitionPlan(name: $0, initialPosition: "0") }], units: partitions,
                             recordName: "records", estimatedRecords: size * partitions.count, sharesTarget: sharesTarget)
    }

    func reader(partition: String, position: String) async throws -> sending CountingReader {
        CountingReader(next: Int(position)!, end: size, batch: 7)
    }

    func writer(deadLetters: DeadLetterFile) async throws -> sending FakeWriter {
        FakeWriter(target: target, deadLetters: deadLetters)
    }

    func countTarget(units: [String]) async throws -> [String: Int]? {
        countable ? await target.counts() : nil
    }

    func sections(_ checkpoint: Checkpoint) -> [MigrationReport.Section] { [] }
}

struct FakeWriter: BatchWriter {
    let target: FakeTarget
    let deadLetters: DeadLetterFile

    mutating func write(_ items: [Int], partition: String) async throws -> BatchOutcome {
        let refused = await target.write(items, unit: partition)
        var outcome = BatchOutcome(units: items.count)
        outcome.ledger.selected(partition, items.count)
        outcome.ledger.written(partition, items.count - refused.count)
        outcome.ledger.refused(partition, refused.count)
        try await deadLetters.append(lines: refused.map { "{\"record\":\($0),\"reason\":\"refused\"}" })
        return outcome
    }

    mutating func reset() async {}
}

@Suite struct MigrationRunnerTests {
    private func run(_ migration: FakeMigration, policy: ResumePolicy = .fresh) async throws -> (MigrationReport, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runner-\(UUID().uuidString)").path
        let runner = MigrationRunner(settings: .init(checkpointDirectory: directory, resumePolicy: policy, concurrency: 2,
                                                     progressStyle: .silent, logger: Logger(label: "test")))
        return (try await runner.run(migration), runner.deadLetterPath(migration.plan))
    }

    @Test func aFaithfulTargetSucceedsWithABalancedLedger() async throws {
        let (report, _) = try await run(FakeMigration(target: FakeTarget(.faithful)))
        #expect(report.outcome == .succeeded)
        #expect(report.outcome.exitCode == 0)
        let audit = try #require(report.ledger)
        #expect(audit.rows.map(\.unit) == ["a", "b"])
        #expect(audit.rows.allSatisfy { $0.entry.selected == 100 && $0.entry.written == 100 && $0.onTarget == 100 && $0.problem == nil })
        #expect(report.rendered().contains("ledger: selected = written + refused + skipped"))
    }

    @Test func aTargetThatDropsAcknowledgedRecordsFailsTheRun() async throws {
        let (report, _) = try await run(FakeMigration(target: FakeTarget(.dropsEveryNth(10))))
        #expect(report.outcome == .failed)
        #expect(report.outcome.exitCode == 2)
        #expect(report.problems.contains { $0.contains("ledger: a: the target holds 90, but 100 were written") })
        #expect(!report.rendered().contains("SUCCEEDED"))
    }

    @Test func aTargetThatMergesRecordsFailsTheRun() async throws {
        let (report, _) = try await run(FakeMigration(target: FakeTarget(.mergesPairs)))
        #expect(report.outcome == .failed)
        #expect(report.problems.contains { $0.contains("the target holds 50, but 100 were written") && $0.contains("merged") })
    }

    @Test func refusedRecordsEndIncompleteAndAreListed() async throws {
        let (report, deadLetterPath) = try await run(FakeMigration(target: FakeTarget(.refusesEveryNth(25))))
        #expect(report.outcome == .incomplete)
        #expect(report.outcome.exitCode == 4)
        #expect(report.ledger?.total.refused == 8)
        #expect(report.problems.contains { $0.contains("8 record(s) the target refused") && $0.contains(deadLetterPath) })
        let lines = try String(contentsOfFile: deadLetterPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 8)
        #expect(lines.allSatisfy { $0.contains("\"reason\":\"refused\"") })
    }

    @Test func everyRecordRefusedIsAFailure() async throws {
        let (report, _) = try await run(FakeMigration(target: FakeTarget(.refusesAll)))
        #expect(report.outcome == .failed)
    }

    @Test func aTargetHoldingRecordsBeforeIsHeldToARange() async throws {
        // 5 of unit a's records are already there (the same identities a run writes again), and 3 others.
        let before: Set<Int> = [0, 1, 2, 3, 4, 1000, 1001, 1002]
        let (report, _) = try await run(FakeMigration(target: FakeTarget(.faithful, holding: ["a": before])))
        #expect(report.outcome == .succeeded)
        let row = try #require(report.ledger?.rows.first { $0.unit == "a" })
        #expect(row.before == 8)
        #expect(row.onTarget == 103)
    }

    @Test func aTargetThatCannotBeCountedIsCheckedForBalanceOnly() async throws {
        let (report, _) = try await run(FakeMigration(target: FakeTarget(.faithful), countable: false))
        #expect(report.outcome == .succeeded)
        #expect(report.ledger?.rows.allSatisfy { $0.onTarget == nil } == true)
    }

    @Test func aShardIsHeldToAtLeastWhatItWrote() async throws {
        // Other shards' records arrive on the same target while this one runs.
        let shared = FakeTarget(.faithful, holding: ["a": Set(1000..<1500)])
        let (report, _) = try await run(FakeMigration(target: shared, sharesTarget: true))
        #expect(report.outcome == .succeeded)
        #expect(report.notes.contains { $0.contains("other shards write to the same target") })
        let (lying, _) = try await run(FakeMigration(target: FakeTarget(.dropsEveryNth(10)), sharesTarget: true))
        #expect(lying.outcome == .failed)
    }

    @Test func anUnbalancedLedgerIsAFailure() {
        var ledger = Ledger()
        ledger.selected("db0", 10)
        ledger.written("db0", 8)
        ledger.skipped("db0", rule: "deleted on the source during the copy", 1)
        let audit = LedgerAudit(ledger: ledger, before: ["db0": 0], onTarget: ["db0": 8])
        #expect(audit.problems.map(\.problem) == ["1 selected record(s) were neither written, refused nor skipped"])
    }

    @Test func expiringRecordsMayBeMissingFromTheTarget() {
        var ledger = Ledger()
        ledger.selected("db0", 10)
        ledger.written("db0", 10, volatile: 3)
        #expect(LedgerAudit(ledger: ledger, before: ["db0": 0], onTarget: ["db0": 7]).problems.isEmpty)
        #expect(LedgerAudit(ledger: ledger, before: ["db0": 0], onTarget: ["db0": 6]).problems.count == 1)
        #expect(LedgerAudit(ledger: ledger, before: ["db0": 0], onTarget: ["db0": 11]).problems.first?.problem?.contains("did not write") == true)
    }

    @Test func aLedgerSurvivesTheCheckpointFile() async throws {
        var state = Checkpoint.PartitionState(position: "7")
        state.ledger.selected("db1", 3)
        state.ledger.written("db1", 2)
        state.ledger.skipped("db1", rule: "expired", 1)
        var checkpoint = Checkpoint(migration: "redis", fingerprint: "x")
        checkpoint.partitions["p"] = state
        checkpoint.targetBefore = ["db1": 0]
        let store = CheckpointStore(path: FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).json").path)
        try await store.save(checkpoint)
        let loaded = try #require(try await store.load())
        #expect(loaded.partitions == checkpoint.partitions)
        #expect(loaded.targetBefore == ["db1": 0])
        #expect(loaded.ledger.total.balances)
    }
}

@Suite struct StrictFieldsTests {
    struct Entry: Decodable {
        var source: Int
        var prefix: String
        enum CodingKeys: String, CodingKey, CaseIterable { case source, prefix }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: CodingKeys.self)
            source = try container.decode(Int.self, forKey: .source)
            prefix = try container.decode(String.self, forKey: .prefix)
        }
    }

    @Test func aMisspeltFieldIsNamedWithTheFieldItMeant() throws {
        let json = Data(#"[{"source": 1, "prefix": "a:"}, {"source": 2, "prefx": "b:"}]"#.utf8)
        do {
            _ = try JSONDecoder().decode([Entry].self, from: json)
            Issue.record("a misspelt field was accepted")
        } catch let error as UnknownFieldError {
            #expect(error.description.hasPrefix("unknown field `prefx` in [1]: did you mean `prefix`?"))
        }
    }

    @Test func closestMatchOnlySuggestsNearNames() {
        #expect(closestMatch(to: "lightrag_vdb_entitiy", in: ["lightrag_vdb_entity", "lightrag_vdb_chunks"]) == "lightrag_vdb_entity")
        #expect(closestMatch(to: "table", in: ["mapping", "source"]) == nil)
    }
}
