import Foundation
import Testing
@testable import MigrationCore

@Suite struct TimelineTests {
    enum Flaky: Error {
        case connectionLost(String)
        case busy
    }

    struct Refusal: Error {}

    /// A reporter inside `recording` samples itself every interval and once more at its end, with the rates over
    /// each span; the retries noted meanwhile go with the next sample, by cause, never by message.
    @Test func reportersSampleIntoTheRunsTimeline() async throws {
        let (_, series) = try await ProgressTimeline.recording(interval: 0.1) {
            let progress = ProgressReporter(phase: "copy", unit: "keys", total: nil, style: .silent)
            await progress.start()
            for _ in 0..<5 {
                await progress.advance(100, bytes: 1000)
                try await Task.sleep(for: .milliseconds(110))
            }
            await ProgressTimeline.noteRetry(Flaky.connectionLost("key secret:1"))
            await ProgressTimeline.noteRetry(Flaky.connectionLost("another message"))
            await ProgressTimeline.noteRetry(Refusal())
            try await RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(1)).run(isTransient: { _ in true }) {
                if Task.isCancelled { throw Refusal() }
            }
            await progress.finish()
        }
        #expect(series.samples.count >= 4, "\(series.samples)")
        #expect(series.phases == ["copy"])
        #expect(series.samples.last?.done == 500 && series.samples.last?.bytes == 5000)
        #expect(series.samples.contains { $0.recordsPerSecond > 0 && $0.bytesPerSecond == $0.recordsPerSecond * 10 })
        #expect(series.retries == ["Flaky.connectionLost": 2, "Refusal": 1])
    }

    @Test func withoutATimelineNothingIsSampled() async {
        #expect(ProgressTimeline.current == nil)
        #expect(ProgressTimeline.follow(phase: "copy", unit: "keys") { ProgressReading(done: 1) } == nil)
        await ProgressTimeline.noteRetry(Flaky.busy)
    }
}
