import Testing
@testable import Bolt

@Suite struct PackStreamTests {
    private func encode(_ value: PackStreamValue) -> [UInt8] {
        var encoder = PackStreamEncoder()
        encoder.encode(value)
        return encoder.bytes
    }

    private func decode(_ bytes: [UInt8]) throws -> PackStreamValue {
        var decoder = PackStreamDecoder(bytes)
        let value = try decoder.decode()
        #expect(decoder.isAtEnd)
        return value
    }

    // Byte-for-byte examples from the PackStream specification.
    @Test(arguments: [
        (PackStreamValue.null, [0xC0]), (.bool(true), [0xC3]), (.bool(false), [0xC2]),
        (.int(1), [0x01]), (.int(42), [0x2A]), (.int(-16), [0xF0]), (.int(127), [0x7F]), (.int(-17), [0xC8, 0xEF]),
        (.int(-128), [0xC8, 0x80]), (.int(128), [0xC9, 0x00, 0x80]), (.int(1234), [0xC9, 0x04, 0xD2]),
        (.int(32_768), [0xCA, 0x00, 0x00, 0x80, 0x00]), (.int(-2_147_483_649), [0xCB, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF]),
        (.float(1.1), [0xC1, 0x3F, 0xF1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A]), (.float(-1.1), [0xC1, 0xBF, 0xF1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A]),
        (.bytes([1, 2, 3]), [0xCC, 0x03, 0x01, 0x02, 0x03]),
        (.string(""), [0x80]), (.string("A"), [0x81, 0x41]), (.string("Größenmaßstäbe"), [0xD0, 0x12, 0x47, 0x72, 0xC3, 0xB6, 0xC3, 0x9F, 0x65, 0x6E, 0x6D, 0x61, 0xC3, 0x9F, 0x73, 0x74, 0xC3, 0xA4, 0x62, 0x65]),
        (.list([]), [0x90]), (.list([.int(1), .int(2), .int(3)]), [0x93, 0x01, 0x02, 0x03]),
        (.map([]), [0xA0]), (.map([("one", .string("eins"))]), [0xA1, 0x83, 0x6F, 0x6E, 0x65, 0x84, 0x65, 0x69, 0x6E, 0x73]),
        (.structure(tag: 0x4E, fields: [.int(1), .list([.string("L")]), .map([])]), [0xB3, 0x4E, 0x01, 0x91, 0x81, 0x4C, 0xA0]),
    ] as [(PackStreamValue, [UInt8])])
    func matchesTheSpecification(_ value: PackStreamValue, _ bytes: [UInt8]) throws {
        #expect(encode(value) == bytes)
        #expect(try decode(bytes) == value)
    }

    @Test func usesSizedMarkersForLongCollections() throws {
        let text = String(repeating: "a", count: 300)
        #expect(Array(encode(.string(text)).prefix(3)) == [0xD1, 0x01, 0x2C])
        let list = PackStreamValue.list((0..<20).map { .int(Int64($0)) })
        #expect(Array(encode(list).prefix(2)) == [0xD4, 20])
        let map = PackStreamValue.map((0..<70_000).map { ("k\($0)", .null) })
        #expect(Array(encode(map).prefix(5)) == [0xDA, 0x00, 0x01, 0x11, 0x70])
        for value in [PackStreamValue.string(text), list, map, .bytes(Array(repeating: 7, count: 70_000))] {
            #expect(try decode(encode(value)) == value)
        }
    }

    @Test func rejectsTruncatedOrUnknownData() {
        #expect(throws: PackStreamError.self) { try decode([0xD0, 0x05, 0x41]) }
        #expect(throws: PackStreamError.self) { try decode([0xE0]) }
        #expect(throws: PackStreamError.self) { try decode([0xA1, 0x01, 0x01]) }
    }
}

@Suite struct BoltFramingTests {
    @Test func splitsLargeMessagesIntoChunksAndEndsWithAnEmptyOne() {
        let framed = BoltConnection.frame(Array(repeating: 7, count: 70_000))
        #expect(Array(framed.prefix(2)) == [0xFF, 0xFF])
        #expect(Array(framed[(2 + 65_535)..<(4 + 65_535)]) == [0x11, 0x71])
        #expect(Array(framed.suffix(2)) == [0, 0])
        #expect(framed.count == 70_000 + 2 + 2 + 2)
        #expect(BoltConnection.frame([1, 2]) == [0, 2, 1, 2, 0, 0])
    }

    @Test func offersBolt5And4VersionRanges() {
        // 5.4 down to 5.0, 4.4 and 4.3, 4.1, 4.0: Memgraph's 5.2 and 4.3 are both covered.
        #expect(BoltConnection.proposals == [0, 4, 4, 5, 0, 1, 4, 4, 0, 0, 1, 4, 0, 0, 0, 4])
    }
}
