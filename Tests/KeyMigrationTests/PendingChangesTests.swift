import Testing
import MigrationCore
@testable import KeyMigration

@Suite struct PendingChangesTests {
    private let start = ContinuousClock.now
    private func change(_ name: String, database: Int = 0) -> PendingChanges.Change {
        .init(database: database, key: Array(name.utf8))
    }

    @Test func deduplicatesAndKeepsTheFirstTime() {
        var pending = PendingChanges(capacity: 10)
        pending.note(change("a"), at: start)
        pending.note(change("a"), at: start + .seconds(5))
        pending.note(change("a", database: 1), at: start + .seconds(6))
        #expect(pending.count == 2)
        #expect(pending.lag(at: start + .seconds(7)) == .seconds(7))
    }

    @Test func takesOldestFirstAndCountsTheBatchInFlightForLag() {
        var pending = PendingChanges(capacity: 10)
        for (index, name) in ["a", "b", "c"].enumerated() {
            pending.note(change(name), at: start + .seconds(index))
        }
        #expect(pending.take(2) == [change("a"), change("b")])
        #expect(pending.count == 1)
        #expect(pending.lag(at: start + .seconds(10)) == .seconds(10))
        pending.completeBatch()
        #expect(pending.lag(at: start + .seconds(10)) == .seconds(8))
        #expect(pending.take(5) == [change("c")])
        pending.completeBatch()
        #expect(pending.take(5).isEmpty)
        #expect(pending.lag(at: start + .seconds(10)) == .zero)
    }

    @Test func aKeyChangedWhileInFlightIsTakenAgain() {
        var pending = PendingChanges(capacity: 10)
        pending.note(change("a"), at: start)
        _ = pending.take(1)
        pending.note(change("a"), at: start + .seconds(1))
        pending.completeBatch()
        #expect(pending.take(1) == [change("a")])
    }

    @Test func overflowDropsEverythingForAReconcilePass() {
        var pending = PendingChanges(capacity: 2)
        let accepted = [pending.note(change("a"), at: start), pending.note(change("b"), at: start + .seconds(1)),
                        // A key already pending takes no room.
                        pending.note(change("a"), at: start + .seconds(2)), pending.note(change("c"), at: start + .seconds(3))]
        #expect(accepted == [true, true, true, false])
        #expect(pending.count == 0 && pending.needsReconcile)
        // The dropped changes still count as lag until the reconcile pass that covers them ends.
        #expect(pending.lag(at: start + .seconds(4)) == .seconds(4))
        pending.note(change("d"), at: start + .seconds(4))
        pending.beginReconcile()
        #expect(!pending.needsReconcile)
        #expect(pending.lag(at: start + .seconds(5)) == .seconds(5))
        pending.endReconcile()
        #expect(pending.lag(at: start + .seconds(5)) == .seconds(1))
        #expect(pending.take(10) == [change("d")])
    }

    @Test func aPeriodicReconcileAddsNoLag() {
        var pending = PendingChanges(capacity: 2)
        pending.beginReconcile()
        #expect(pending.lag(at: start + .seconds(5)) == .zero)
        pending.requestReconcile(since: start)
        pending.requestReconcile(since: start + .seconds(2))
        #expect(pending.lag(at: start + .seconds(5)) == .seconds(5))
    }

    @Test func staysCorrectAcrossCompaction() {
        var pending = PendingChanges(capacity: 100_000)
        for index in 0..<10_000 {
            pending.note(change("k\(index)"), at: start + .milliseconds(index))
        }
        var taken: [PendingChanges.Change] = []
        var batch = pending.take(999)
        while !batch.isEmpty {
            taken += batch
            pending.completeBatch()
            batch = pending.take(999)
        }
        #expect(taken.count == 10_000 && taken.last == change("k9999") && taken.first == change("k0"))
    }
}

@Suite struct LiveStatusTests {
    @Test func showsAsAJSONLineAndATerminalLine() {
        let status = LiveStatus(phase: "following", notifications: 1300, applied: 1204, pending: 3, lagMs: 12, reconciled: 0,
                                reconciles: 1, overflows: 0)
        #expect(JSONLines.encode(event: "live", status) == """
            {"event":"live","applied":1204,"lag_ms":12,"notifications":1300,"overflows":0,"pending":3,"phase":"following","reconciled":0,"reconciles":1}
            """)
        #expect(status.line == "live  following  applied 1,204  pending 3  lag 12 ms  reconciled 0 (1 pass)")
    }
}
