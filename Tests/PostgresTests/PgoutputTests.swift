import Testing
@testable import Postgres

/// pgoutput as PostgreSQL 18 sends it: the messages of `PgoutputFixtures` were captured from a real server by
/// scripts/pgoutput/capture.sh (its workload is listed there).
@Suite struct PgoutputTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    static func decodeAll(_ fixture: [(lsn: String, hex: String)], version: Int) throws -> [(lsn: LSN, message: PgoutputMessage)] {
        var decoder = PgoutputDecoder(protocolVersion: version)
        return try fixture.map { (LSN($0.lsn)!, try decoder.decode(bytes($0.hex))) }
    }

    static let items: UInt32 = 0x4148
    static let plain: UInt32 = 0x4150
    static let vectorType: UInt32 = 0x4001

    @Test func lsnTextRoundTrips() {
        #expect(LSN("16/B374D848")?.value == 0x16_B374_D848)
        #expect(LSN(0x16_B374_D848).description == "16/B374D848")
        #expect(LSN("0/0") == LSN(0))
        #expect(LSN("zz/1") == nil && LSN("1") == nil)
        #expect(LSN("0/1869A60")! < LSN("1/0")!)
    }

    @Test func textMessagesOfEveryKind() throws {
        let decoded = try Self.decodeAll(PgoutputFixtures.textV1, version: 1)
        let messages = decoded.map(\.message)
        let text = { (values: [String?]) in values.map { $0.map(PgoutputValue.text) ?? .null } }

        // Transactions: every Begin is closed by a Commit at its final LSN, whose end is the row's LSN.
        let begins = messages.compactMap { if case .begin(let final, _, let xid) = $0 { (final, xid) } else { nil } }
        let commits = decoded.compactMap { entry -> (LSN, LSN, LSN)? in
            if case .commit(let commit, let end, _) = entry.message { (commit, end, entry.lsn) } else { nil }
        }
        #expect(begins.count == 10 && commits.count == 10)
        #expect(begins.map(\.0) == commits.map(\.0))
        #expect(commits.allSatisfy { $0.1 == $0.2 })
        #expect(begins.map(\.1) == Array(757...766))
        #expect(messages.first == .begin(finalLSN: LSN("0/1869C08")!, commitTime: 0x0304_bc72_341f_e1, xid: 757))

        #expect(messages[1] == .type(oid: Self.vectorType, namespace: "public", name: "vector"))
        #expect(messages[2] == .relation(PgoutputRelation(oid: Self.items, namespace: "public", name: "items", replicaIdentity: "d", columns: [
            .init(name: "id", type: 23, typeModifier: -1, isKey: true), .init(name: "note", type: 25, typeModifier: -1, isKey: false),
            .init(name: "embedding", type: Self.vectorType, typeModifier: 3, isKey: false), .init(name: "tags", type: 1009, typeModifier: -1, isKey: false),
        ])))
        #expect(messages[3] == .insert(xid: nil, relation: Self.items, row: text(["1", "one", "[1,2,3]", "{a,b}"])))
        #expect(messages[4] == .insert(xid: nil, relation: Self.items, row: text(["2", nil, "[0.5,-1,2]", nil])))
        #expect(messages.contains(.update(xid: nil, relation: Self.items, old: nil, row: text(["1", "uno", "[1,2,3]", "{a,b}"]))))
        // The key changed: the old key travels, the other old columns are null.
        #expect(messages.contains(.update(xid: nil, relation: Self.items, old: .key(text(["2", nil, nil, nil])), row: text(["3", nil, "[0.5,-1,2]", nil]))))
        // A TOASTed column the update did not touch is not sent.
        let toasted = messages.compactMap { if case .insert(_, Self.items, let row) = $0, row[0] == .text("4") { row } else { nil } }
        guard case .text(let long) = toasted.first?[1] else { Issue.record("no insert of row 4"); return }
        #expect(long.count == 64_000)
        #expect(messages.contains(.update(xid: nil, relation: Self.items, old: nil, row: [.text("4"), .unchanged, .text("[9,9,9]"), .null])))
        // REPLICA IDENTITY FULL: the whole old row, every column part of the identity.
        #expect(messages.contains(.relation(PgoutputRelation(oid: Self.plain, namespace: "public", name: "plain", replicaIdentity: "f", columns: [
            .init(name: "a", type: 23, typeModifier: -1, isKey: true), .init(name: "b", type: 25, typeModifier: -1, isKey: true),
        ]))))
        #expect(messages.contains(.update(xid: nil, relation: Self.plain, old: .full(text(["1", "x"])), row: text(["1", "y"]))))
        #expect(messages.contains(.delete(xid: nil, relation: Self.plain, old: .full(text(["1", "y"])))))
        #expect(messages.contains(.delete(xid: nil, relation: Self.items, old: .key(text(["1", nil, nil, nil])))))
        #expect(messages.contains(.truncate(xid: nil, relations: [Self.items, Self.plain], cascade: false, restartIdentity: false)))
    }

    @Test func binaryRowsCarryTheBinaryFormat() throws {
        let messages = try Self.decodeAll(PgoutputFixtures.binaryV2, version: 2).map(\.message)
        guard case .insert(nil, Self.items, let row) = messages[3], case .binary(let id) = row[0], case .binary(let vector) = row[2],
              case .binary(let tags) = row[3] else {
            Issue.record("the first insert has no binary fields: \(messages[3])")
            return
        }
        let types = PostgresTypes(vector: Self.vectorType)
        #expect(try PostgresBinary.decode(id, type: 23, types: types) == .int(1))
        #expect(row[1] == .binary(Array("one".utf8)))
        #expect(try PostgresBinary.decode(vector, type: Self.vectorType, types: types) == .vector([1, 2, 3]))
        #expect(try PostgresBinary.decode(tags, type: 1009, types: types) == .array([.text("a"), .text("b")]))
        // Without streaming, version 2 sends what version 1 does, tuple formats aside.
        let textKinds = try Self.decodeAll(PgoutputFixtures.textV1, version: 1).map { Self.kind($0.message) }
        #expect(messages.map(Self.kind) == textKinds)
    }

    static func kind(_ message: PgoutputMessage) -> String {
        String(describing: message).prefix { $0 != "(" }.description
    }

    @Test func streamedChangesCarryTheirTransaction() throws {
        var decoder = PgoutputDecoder(protocolVersion: 2)
        // Stream Start (xid 900, first segment), an Insert with its xid, Stream Stop, Stream Commit.
        #expect(try decoder.decode([0x53, 0, 0, 0x03, 0x84, 1]) == .streamStart(xid: 900, first: true))
        let insert: [UInt8] = [0x49, 0, 0, 0x03, 0x84, 0, 0, 0x41, 0x48, 0x4E, 0, 1, 0x74, 0, 0, 0, 1, 0x37]
        #expect(try decoder.decode(insert) == .insert(xid: 900, relation: Self.items, row: [.text("7")]))
        #expect(try decoder.decode([0x45]) == .streamStop)
        let commit: [UInt8] = [0x63, 0, 0, 0x03, 0x84, 0] + [0, 0, 0, 0, 0, 0, 0, 0x10] + [0, 0, 0, 0, 0, 0, 0, 0x20] + [0, 0, 0, 0, 0, 0, 0, 5]
        #expect(try decoder.decode(commit) == .streamCommit(xid: 900, commitLSN: LSN(0x10), endLSN: LSN(0x20), commitTime: 5))
        #expect(try decoder.decode([0x41, 0, 0, 0x03, 0x84, 0, 0, 0x03, 0x85]) == .streamAbort(xid: 900, subtransaction: 901))
        // Outside a segment the same insert has no xid: it reads as a different relation and too many bytes.
        #expect(throws: PostgresError.self) { try decoder.decode(insert) }
        // Version 1 has no streaming.
        var v1 = PgoutputDecoder(protocolVersion: 1)
        #expect(throws: PostgresError.malformed("pgoutput message 'S' is not one protocol version 1 sends")) { try v1.decode([0x53, 0, 0, 0x03, 0x84, 1]) }
    }

    @Test func malformedMessagesAreErrorsNotCrashes() throws {
        var decoder = PgoutputDecoder(protocolVersion: 1)
        let insert = Self.bytes(PgoutputFixtures.textV1[3].hex)
        for length in 0..<insert.count {
            #expect(throws: PostgresError.self) { try decoder.decode(Array(insert.prefix(length))) }
        }
        #expect(throws: PostgresError.self) { try decoder.decode(insert + [0]) }
        #expect(throws: PostgresError.malformed("pgoutput tuple: column kind 'x' is none of n, u, t, b")) {
            try decoder.decode([0x49, 0, 0, 0x41, 0x48, 0x4E, 0, 1, 0x78])
        }
    }

    @Test func replicationFramesAndStandbyStatus() throws {
        let message = Self.bytes(PgoutputFixtures.textV1[0].hex)
        let frame: [UInt8] = [0x77] + [0, 0, 0, 0, 0x01, 0x86, 0x9A, 0x60] + [0, 0, 0, 0, 0x01, 0x86, 0x9C, 0x38] + [0, 0, 0, 0, 0, 0, 0, 9] + message
        #expect(try ReplicationFrame.decode(frame) == .data(start: LSN("0/1869A60")!, serverEnd: LSN("0/1869C38")!, sentAt: 9, message: message))
        let keepalive: [UInt8] = [0x6B] + [0, 0, 0, 1, 0, 0, 0, 2] + [0, 0, 0, 0, 0, 0, 0, 3] + [1]
        #expect(try ReplicationFrame.decode(keepalive) == .keepalive(serverEnd: LSN("1/2")!, sentAt: 3, replyRequested: true))
        #expect(throws: PostgresError.self) { try ReplicationFrame.decode([0x6B, 0]) }
        #expect(throws: PostgresError.self) { try ReplicationFrame.decode([0x58]) }
        #expect(ReplicationFrame.standbyStatus(written: LSN(0x0102), flushed: LSN(0x0304), applied: LSN(0x0506), sentAt: 7, replyRequested: true)
            == [0x72] + [0, 0, 0, 0, 0, 0, 1, 2] + [0, 0, 0, 0, 0, 0, 3, 4] + [0, 0, 0, 0, 0, 0, 5, 6] + [0, 0, 0, 0, 0, 0, 0, 7] + [1])
    }
}
