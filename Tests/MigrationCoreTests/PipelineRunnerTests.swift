import Foundation
import Logging
import Testing
@testable import MigrationCore

/// Reads integers `position ..< end` in batches.
struct CountingReader: BatchReader {
    var next: Int
    let end: Int
    let batch: Int

    mutating func next() async throws -> ReadBatch<Int> {
        let upper = min(next + batch, end)
        let items = Array(next..<upper)
        next = upper
        return ReadBatch(items: items, position: String(upper), isLast: upper == end)
    }
}

/// Records every item written; throws a permanent error at `failAt`, a transient one once at `flakyAt`.
actor WrittenItems {
    var items: [Int] = []
    var flakyTriggered = false
    func append(_ batch: [Int]) { items += batch }
    func triggerFlaky() -> Bool {
        defer { flakyTriggered = true }
        return !flakyTriggered
    }
}

struct RecordingWriter: BatchWriter {
    struct Permanent: Error {}
    struct Transient: Error {}
    let sink: WrittenItems
    let failAt: Int?
    let flakyAt: Int?

    mutating func write(_ items: [Int], partition: String) async throws -> BatchOutcome {
        if let failAt, items.contains(failAt) { throw Permanent() }
        if let flakyAt, items.contains(flakyAt), await sink.triggerFlaky() { throw Transient() }
        await sink.append(items)
        var outcome = BatchOutcome(units: items.count)
        outcome.tally.add("written", items.count)
        for item in items { outcome.checksum.add(record: Array("\(partition):\(item)".utf8)) }
        return outcome
    }

    mutating func reset() async {}
}

@Suite struct PipelineRunnerTests {
    private func runner(concurrency: Int = 3) -> PipelineRunner {
        PipelineRunner(
            configuration: .init(concurrency: concurrency, retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1)),
                                 isTransient: { $0 is RecordingWriter.Transient }, checkpointInterval: .zero),
            logger: Logger(label: "test")
        )
    }

    private func run(
        _ runner: PipelineRunner, store: CheckpointStore, checkpoint: Checkpoint, sink: WrittenItems, failAt: Int?, flakyAt: Int? = nil
    ) async throws -> PipelineRunner.Result {
        try await runner.run(
            partitions: [PartitionPlan(name: "p0", initialPosition: "0"), PartitionPlan(name: "p1", initialPosition: "1000")],
            checkpoint: checkpoint,
            store: store,
            progress: ProgressReporter(phase: "test", unit: "items", total: nil, style: .silent),
            makeReader: { name, position in
                CountingReader(next: Int(position)!, end: name == "p0" ? 500 : 1700, batch: 7)
            },
            makeWriter: { RecordingWriter(sink: sink, failAt: failAt, flakyAt: flakyAt) }
        )
    }

    @Test func copiesEveryPartitionAndRetriesTransientFailures() async throws {
        let store = CheckpointStore(path: NSTemporaryDirectory() + "pipeline-\(UUID().uuidString).json")
        let sink = WrittenItems()
        let result = try await run(runner(), store: store, checkpoint: Checkpoint(migration: "t", fingerprint: "f"), sink: sink, failAt: nil, flakyAt: 250)
        let written = await sink.items.sorted()
        #expect(written == Array(0..<500) + Array(1000..<1700))
        #expect(result.checkpoint.finished)
        #expect(result.checkpoint.tally["written"] == 1200)
        #expect(result.checkpoint.tally["retried batches"] == 1)
        #expect(await sink.flakyTriggered)
        let saved = try await store.load()
        #expect(saved?.finished == true)
        #expect(saved?.partitions["p0"]?.position == "500")
    }

    @Test func resumesAfterAFailureWithNothingMissingAndNothingCountedTwice() async throws {
        let store = CheckpointStore(path: NSTemporaryDirectory() + "pipeline-\(UUID().uuidString).json")
        let first = WrittenItems()
        await #expect(throws: RecordingWriter.Permanent.self) {
            _ = try await run(runner(), store: store, checkpoint: Checkpoint(migration: "t", fingerprint: "f"), sink: first, failAt: 1300)
        }
        let saved = try #require(try await store.load())
        #expect(!saved.finished)
        let committed = saved.tally["written"]
        #expect(committed < 1200)

        let second = WrittenItems()
        let result = try await run(runner(), store: store, checkpoint: saved, sink: second, failAt: nil)
        let union = Set(await first.items).union(await second.items)
        #expect(union == Set(Array(0..<500) + Array(1000..<1700)))
        // Counters come from committed batches only: each item counted exactly once across both runs.
        #expect(result.checkpoint.tally["written"] == 1200)
        var expected = OrderIndependentChecksum()
        for item in 0..<500 { expected.add(record: Array("p0:\(item)".utf8)) }
        for item in 1000..<1700 { expected.add(record: Array("p1:\(item)".utf8)) }
        #expect(result.checkpoint.checksum == expected)
    }
}

/// Fails every batch, after a pause, with an error no retry fixes (an expired credential, a refused schema).
struct AlwaysFailingWriter: BatchWriter {
    struct Refused: Error {}
    let attempts: WrittenItems

    mutating func write(_ items: [Int], partition: String) async throws -> BatchOutcome {
        await attempts.append(items)
        try await Task.sleep(for: .milliseconds(50))
        throw Refused()
    }

    mutating func reset() async {}
}

@Suite struct PipelineFailureTests {
    /// Regression: when every writer had failed, the reader waited forever to hand over its next batch and the
    /// run hung instead of failing (a sharded graph run whose relationships gave up waiting for endpoints).
    @Test func aFailureOfEveryWriterEndsTheRunAtOnce() async throws {
        let attempts = WrittenItems()
        let runner = PipelineRunner(configuration: .init(concurrency: 3, isTransient: { _ in false }), logger: Logger(label: "test"))
        let outcome = await withTaskGroup(of: String.self) { group in
            group.addTask {
                do {
                    _ = try await runner.run(
                        partitions: [PartitionPlan(name: "p0", initialPosition: "0")],
                        checkpoint: Checkpoint(migration: "t", fingerprint: "f"), store: nil,
                        progress: ProgressReporter(phase: "test", unit: "items", total: nil, style: .silent),
                        makeReader: { _, position in CountingReader(next: Int(position)!, end: 100_000, batch: 7) },
                        makeWriter: { AlwaysFailingWriter(attempts: attempts) })
                    return "finished"
                } catch is AlwaysFailingWriter.Refused {
                    return "failed"
                } catch {
                    return "failed with \(error)"
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(20))
                return "hung"
            }
            let first = await group.next() ?? "nothing"
            group.cancelAll()
            return first
        }
        #expect(outcome == "failed")
        // The first failure stops the other writers: they do not go on taking batches.
        #expect(await attempts.items.count <= 3 * 7)
    }
}
