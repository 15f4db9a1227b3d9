import Testing
@testable import RESP

@Suite struct RESPEncoderTests {
    @Test func encodesCommandsAsArraysOfBulkStrings() {
        let bytes = RESPEncoder.encode(RESPCommand("SET", "key", "value"))
        #expect(String(decoding: bytes, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")
    }

    @Test func keepsBinaryAndEmptyArguments() {
        let binary: [UInt8] = [0x00, 0xFF, 0x0D, 0x0A]
        let bytes = RESPEncoder.encode(RESPCommand(arguments: [Array("SET".utf8), binary, []]))
        #expect(bytes == Array("*3\r\n$3\r\nSET\r\n$4\r\n".utf8) + binary + Array("\r\n$0\r\n\r\n".utf8))
    }

    @Test func encodesIntegersAsDecimalText() {
        let bytes = RESPEncoder.encode(RESPCommand("EXPIRE", "k", 42))
        #expect(String(decoding: bytes, as: UTF8.self) == "*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n42\r\n")
    }
}

@Suite struct RESPDecoderTests {
    @Test func decodesEveryReplyType() throws {
        let decoder = RESPDecoder()
        decoder.feed(Array("+OK\r\n-ERR bad\r\n:-7\r\n$3\r\na\u{0}b\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n*-1\r\n".utf8))
        #expect(try decoder.next() == .status("OK"))
        #expect(try decoder.next() == .error("ERR bad"))
        #expect(try decoder.next() == .integer(-7))
        #expect(try decoder.next() == .bulk([0x61, 0x00, 0x62]))
        #expect(try decoder.next() == .null)
        #expect(try decoder.next() == .array([.integer(1), .array([.bulk([])])]))
        #expect(try decoder.next() == .null)
        #expect(try decoder.next() == nil)
    }

    @Test func waitsForReplySplitAcrossFeeds() throws {
        let decoder = RESPDecoder()
        let wire = Array("$10\r\n0123456789\r\n".utf8)
        for byte in wire.dropLast() {
            decoder.feed([byte])
            #expect(try decoder.next() == nil)
        }
        decoder.feed([wire.last!])
        #expect(try decoder.next() == .bulk(Array("0123456789".utf8)))
    }

    @Test func rejectsBytesThatAreNotRESP() {
        let decoder = RESPDecoder()
        decoder.feed(Array("HTTP/1.1 400 Bad Request\r\n".utf8))
        #expect(throws: RESPDecoder.ProtocolError.self) { try decoder.next() }
    }

    @Test func exposesErrorCodes() {
        #expect(RESPValue.error("MOVED 12 127.0.0.1:7001").errorCode == .moved)
        #expect(RESPValue.error("NOPERM this user has no permissions to access the key").errorCode == .noPermission)
        #expect(RESPValue.error("TRYAGAIN Multiple keys request during rehashing of slot").errorCode?.isTransient == true)
        #expect(RESPValue.error("OOM command not allowed when used memory > maxmemory").errorCode?.isTransient == false)
        #expect(RESPValue.bulk(Array("15".utf8)).integer == 15)
        #expect(RESPValue.status("OK").errorCode == nil)
    }
}

@Suite struct HashSlotTests {
    @Test func matchesRedisSlotsForKnownKeys() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        #expect(HashSlot.slot(for: Array("foo".utf8)) == 12182)
        #expect(HashSlot.slot(for: Array("bar".utf8)) == 5061)
        #expect(HashSlot.slot(for: Array("123456789".utf8)) == 0x31C3 & 0x3FFF)
        #expect(HashSlot.slot(for: []) == 0)
    }

    @Test func hashesOnlyTheFirstNonEmptyTag() {
        let following = HashSlot.slot(for: Array("{user1000}.following".utf8))
        #expect(following == HashSlot.slot(for: Array("{user1000}.followers".utf8)))
        #expect(following == HashSlot.slot(for: Array("user1000".utf8)))
        // An empty tag hashes the whole key.
        #expect(HashSlot.slot(for: Array("foo{}{bar}".utf8)) != HashSlot.slot(for: Array("bar".utf8)))
        #expect(HashSlot.slot(for: Array("foo{{bar}}zap".utf8)) == HashSlot.slot(for: Array("{bar".utf8)))
    }
}
