import Testing
@testable import KeyMigration

@Suite struct HeartbeatsTests {
    private let start = ContinuousClock.now

    @Test func theOldestUnheardMarkerBoundsTheLag() {
        var beats = Heartbeats()
        let first = beats.next()
        beats.sent(first, to: "a:1", at: start)
        beats.sent(first, to: "b:1", at: start)
        let second = beats.next()
        beats.sent(second, to: "a:1", at: start + .seconds(1))
        beats.sent(second, to: "b:1", at: start + .seconds(1))
        #expect(beats.oldest == start)
        beats.heard(first, from: "a:1")
        #expect(beats.oldest == start)
        #expect(!beats.caughtUp(through: first))
        // Hearing a later marker means the earlier ones were read too.
        beats.heard(second, from: "b:1")
        #expect(beats.caughtUp(through: first) && !beats.caughtUp(through: second))
        #expect(beats.oldest == start + .seconds(1))
        beats.forget("a:1")
        #expect(beats.caughtUp(through: second) && beats.oldest == nil)
    }

    @Test func payloadsNameNodeAndSequence() {
        let payload = Heartbeats.payload(node: "[::1]:7000", sequence: 42)
        #expect(Heartbeats.parse(Array(payload.utf8))! == ("[::1]:7000", 42))
        #expect(Heartbeats.parse(Array("no-sequence".utf8)) == nil)
    }
}
