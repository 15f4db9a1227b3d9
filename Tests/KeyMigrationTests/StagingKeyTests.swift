import Testing
@testable import KeyMigration
@testable import RESP
import Transport

/// Staging names stay in their key's hash slot; replication state is read as the server writes it.
@Suite struct StagingKeyTests {
    @Test(arguments: ["user:1", "{user:1}:profile", "a{}b", "x}y", "", "{", "}", "a{b", "tag{t}rest{u}", "k\u{0}\u{ff}"])
    func stagingNameHashesToTheKeysSlot(key: String) {
        let bytes = Array(key.utf8)
        let staging = StagingKey.name(for: bytes)
        #expect(HashSlot.slot(for: staging) == HashSlot.slot(for: bytes), "\(staging.printableKey)")
        #expect(staging != bytes)
        #expect(staging.firstRange(of: StagingKey.marker) != nil)
        #expect(StagingKey.name(for: bytes) == staging, "the name must be the same in the next run")
    }

    @Test func aChunkSplitsIntoHalvesThatRebuildIt() {
        #expect(ValueChunk.hash(["a", "1", "b", "2", "c", "3"].map { Array($0.utf8) }).halves?.0 == .hash(["a", "1"].map { Array($0.utf8) }))
        #expect(ValueChunk.list([[1]]).halves == nil)
        #expect(ValueChunk.string([UInt8](repeating: 1, count: 100)).halves == nil, "a small string is not split")
        let big = [UInt8](repeating: 7, count: 4096)
        if case (.string(let first), .string(let second))? = ValueChunk.string(big).halves {
            #expect(first + second == big)
        } else {
            Issue.record("a 4 KB string chunk should split")
        }
    }

    @Test func replicaHealthIsReadFromInfoReplication() {
        let endpoint = Endpoint(host: "127.0.0.1", port: 6380)
        let down = SourceNodeHealth(node: endpoint, info: "# Replication\r\nrole:slave\r\nmaster_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\nmaster_link_down_since_seconds:-1\r\nmaster_replid:abc\r\n")
        #expect(down.isReplica && down.linkStatus == "down" && down.lagSeconds == nil)
        #expect(throws: StaleSourceError.self) { try StaleSourceError.check([down], maxLagSeconds: 60, allowStale: false) }
        #expect(throws: Never.self) { try StaleSourceError.check([down], maxLagSeconds: 60, allowStale: true) }
        let lagging = SourceNodeHealth(node: endpoint, info: "role:slave\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:90\r\n")
        #expect(lagging.lagSeconds == 90)
        #expect(throws: StaleSourceError.self) { try StaleSourceError.check([lagging], maxLagSeconds: 60, allowStale: false) }
        let primary = SourceNodeHealth(node: endpoint, info: "role:master\r\nmaster_replid:0123\r\n")
        #expect(!primary.isReplica && primary.replicationID == "0123" && primary.summary == "primary")
        #expect(throws: Never.self) { try StaleSourceError.check([primary], maxLagSeconds: 0, allowStale: false) }
    }
}
