import Foundation
import Logging
import Testing
@testable import MigrationCore

@Suite struct BatchLedgerTests {
    @Test func commitsOnlyContiguousPrefixes() {
        var ledger = BatchLedger<Int>()
        let first = ledger.issue(endingAt: "10")
        let second = ledger.issue(endingAt: "20")
        let third = ledger.issue(endingAt: "30")
        #expect(ledger.complete(third, result: 3) == nil)
        #expect(ledger.complete(second, result: 2) == nil)
        let commit = ledger.complete(first, result: 1)
        #expect(commit?.position == "30")
        #expect(commit?.results == [1, 2, 3])
        #expect(ledger.inFlight == 0)
    }

    @Test func commitsInOrderAsBatchesFinish() {
        var ledger = BatchLedger<String>()
        let a = ledger.issue(endingAt: "a")
        let b = ledger.issue(endingAt: "b")
        #expect(ledger.complete(a, result: "A")?.position == "a")
        #expect(ledger.inFlight == 1)
        #expect(ledger.complete(b, result: "B")?.results == ["B"])
    }
}

@Suite struct OrderIndependentChecksumTests {
    @Test func ignoresOrderButNotContent() {
        var forward = OrderIndependentChecksum()
        var backward = OrderIndependentChecksum()
        let records = (0..<100).map { Array("record-\($0)".utf8) }
        records.forEach { forward.add(record: $0) }
        records.reversed().forEach { backward.add(record: $0) }
        #expect(forward == backward)
        #expect(forward.count == 100)
        var altered = OrderIndependentChecksum()
        records.dropLast().forEach { altered.add(record: $0) }
        altered.add(record: Array("record-99 ".utf8))
        #expect(altered != forward)
    }

    @Test func partialChecksumsAddUp() throws {
        var whole = OrderIndependentChecksum()
        var left = OrderIndependentChecksum()
        var right = OrderIndependentChecksum()
        for index in 0..<50 {
            let record = Array("r\(index)".utf8)
            whole.add(record: record)
            if index % 2 == 0 { left.add(record: record) } else { right.add(record: record) }
        }
        left.merge(right)
        #expect(left == whole)
        let decoded = try JSONDecoder().decode(OrderIndependentChecksum.self, from: JSONEncoder().encode(whole))
        #expect(decoded == whole)
        #expect(whole.hex.count == 32)
    }
}

@Suite struct CheckpointStoreTests {
    private func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "migrate-tests-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func savesAndLoadsAtomically() async throws {
        let directory = temporaryDirectory()
        let store = CheckpointStore(path: directory + "/nested/run.json")
        #expect(try await store.load() == nil)
        var checkpoint = Checkpoint(migration: "redis", fingerprint: "abc")
        var state = Checkpoint.PartitionState(position: "1234")
        state.tally.add("copied", 7)
        state.checksum.add(record: [1, 2, 3])
        checkpoint.partitions["node/db0"] = state
        try await store.save(checkpoint)
        let loaded = try await store.load()
        #expect(loaded?.partitions["node/db0"]?.position == "1234")
        #expect(loaded?.tally["copied"] == 7)
        #expect(loaded?.checksum == state.checksum)
        #expect(!FileManager.default.fileExists(atPath: store.path + ".tmp"))
    }

    @Test func reportsUnwritableDirectories() async {
        let store = CheckpointStore(path: "/proc/migrate-cannot-write/run.json")
        await #expect(throws: CheckpointError.self) { try await store.save(Checkpoint(migration: "redis", fingerprint: "x")) }
    }

    @Test func reportsCorruptFiles() async throws {
        let path = temporaryDirectory() + "/bad.json"
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        await #expect(throws: CheckpointError.self) { try await CheckpointStore(path: path).load() }
    }
}

@Suite struct ReportTests {
    @Test func rendersTotalsSectionsAndProblems() {
        let report = MigrationReport(
            command: "migrate redis", source: "redis://a:6379", target: "rediss://u:***@b:6379", outcome: .succeeded,
            startedAt: Date(timeIntervalSince1970: 0), finishedAt: Date(timeIntervalSince1970: 65),
            totals: Tally(["copied": 1_234_567]),
            sections: [.init(title: "keys by type", columns: ["type", "keys"], rows: [["string", "12"]])],
            problems: ["missing in target: \"k\""]
        )
        let text = report.rendered()
        #expect(text.contains("migrate redis: SUCCEEDED in 1:05"))
        #expect(text.contains("1,234,567"))
        #expect(text.contains("keys by type"))
        #expect(text.contains("missing in target: \"k\""))
    }

    @Test func formatsNumbers() {
        #expect(Format.count(0) == "0")
        #expect(Format.count(-1234) == "-1,234")
        #expect(Format.bytes(1_500_000) == "1.5 MB")
        #expect(Format.duration(3725) == "1:02:05")
        #expect(Format.duration(1e300) == "?", "an ETA past Int is not a crash")
        #expect(JSONLines.encode(event: "progress", Tally(["a": 1])) == "{\"event\":\"progress\",\"a\":1}")
    }
}

@Suite struct RetryPolicyTests {
    struct Flaky: Error {}

    @Test func retriesTransientErrorsThenSucceeds() async throws {
        let policy = RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(1), maxDelay: .milliseconds(2))
        var calls = 0
        let value = try await policy.run(isTransient: { $0 is Flaky }) {
            calls += 1
            if calls < 3 { throw Flaky() }
            return 42
        }
        #expect(value == 42)
        #expect(calls == 3)
    }

    @Test func givesUpOnPermanentErrors() async {
        let policy = RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(1))
        var calls = 0
        await #expect(throws: CancellationError.self) {
            try await policy.run(isTransient: { $0 is Flaky }) {
                calls += 1
                throw CancellationError()
            }
        }
        #expect(calls == 1)
    }

    @Test func backsOffExponentiallyWithinBounds() {
        let policy = RetryPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect(policy.delay(afterAttempt: 1) <= .milliseconds(100))
        #expect(policy.delay(afterAttempt: 1) >= .milliseconds(80))
        #expect(policy.delay(afterAttempt: 10) <= .seconds(1))
    }
}

@Suite struct ShardTests {
    @Test func parsesIndexOverCount() {
        let shard = Shard("2/5")
        #expect(shard?.index == 2)
        #expect(shard?.count == 5)
        #expect(shard?.description == "2/5")
        #expect(Shard("0/1") != nil)
        for invalid in ["4/4", "-1/4", "1/0", "x", "1/2/3", "/2", "1/", "", " 1/2"] {
            #expect(Shard(invalid) == nil, "\(invalid) should be refused")
        }
    }

    @Test func idsFallInExactlyOneShard() {
        let shards = (0..<4).map { Shard("\($0)/4")! }
        var sizes = [0, 0, 0, 0]
        for index in 0..<4000 {
            let owners = shards.indices.filter { shards[$0].owns("id-\(index)") }
            #expect(owners.count == 1)
            if let owner = owners.first { sizes[owner] += 1 }
        }
        // SHA-256 spreads ids evenly: each shard gets a quarter, give or take.
        #expect(sizes.allSatisfy { (850...1150).contains($0) }, "\(sizes)")
    }

    @Test func ownershipIsFixedByTheDigest() {
        // Every process must agree on the owner: SHA-256's first 8 bytes, big-endian, modulo N (values from Python's hashlib).
        let expected: [(id: String, of3: Int, of7: Int)] = [("id-0", 0, 3), ("n42", 1, 6), ("4f1c", 2, 2)]
        for (id, of3, of7) in expected {
            #expect((0..<3).filter { Shard("\($0)/3")!.owns(id) } == [of3], "\(id)")
            #expect((0..<7).filter { Shard("\($0)/7")!.owns(id) } == [of7], "\(id)")
        }
        #expect(Shard("0/1")!.owns("anything"))
    }

    @Test func bucketsAreTakenModuloTheCount() {
        #expect(Shard("1/3")!.owns(bucket: 4))
        #expect(!Shard("1/3")!.owns(bucket: 5))
        #expect(Shard("0/3")!.owns(bucket: 0))
        let slots = 0..<16384
        let perShard = (0..<3).map { index in slots.filter { Shard("\(index)/3")!.owns(bucket: $0) }.count }
        #expect(perShard == [5462, 5461, 5461])
    }
}
