import Testing
@testable import Postgres

@Suite struct PostgresBinaryTests {
    let types = PostgresTypes(vector: 16_385, halfvec: 16_390, sparsevec: 16_395)

    @Test func decodesPgvectorTypes() throws {
        // vector: int16 dim, int16 unused, float4 big-endian values.
        let vector: [UInt8] = [0, 2, 0, 0, 0x3F, 0x80, 0, 0, 0xC0, 0, 0, 0]
        #expect(try PostgresBinary.decode(vector, type: 16_385, types: types) == .vector([1, -2]))
        // halfvec: float2 values.
        #expect(try PostgresBinary.decode([0, 2, 0, 0, 0x38, 0x00, 0xC0, 0x00], type: 16_390, types: types) == .vector([0.5, -2]))
        // sparsevec: int32 dim, int32 nnz, int32 unused, int32 indices (0-based), float4 values.
        let sparse: [UInt8] = [0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0x3F, 0x80, 0, 0, 0x40, 0, 0, 0]
        #expect(try PostgresBinary.decode(sparse, type: 16_395, types: types) == .sparseVector(dimensions: 5, indices: [1, 4], values: [1, 2]))
        #expect(PostgresBinary.encodeVector([1, -2]) == vector)
        #expect(PostgresBinary.encodeSparseVector(dimensions: 5, indices: [1, 4], values: [1, 2]) == sparse)
    }

    @Test func decodesScalarsArraysAndJSON() throws {
        #expect(try PostgresBinary.decode([0, 0, 0, 0, 0, 0, 0, 42], type: PostgresTypes.int8, types: types) == .int(42))
        #expect(try PostgresBinary.decode([0xFF, 0xFF, 0xFF, 0xFE], type: PostgresTypes.int4, types: types) == .int(-2))
        #expect(try PostgresBinary.decode(Array("héllo".utf8), type: PostgresTypes.varchar, types: types) == .text("héllo"))
        #expect(try PostgresBinary.decode([1] + Array("{\"a\":1}".utf8), type: PostgresTypes.jsonb, types: types) == .json("{\"a\":1}"))
        // text[] {"a", NULL}: ndim 1, has-nulls 1, element OID 25, length 2, lower bound 1, then elements.
        let array: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0x61, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(try PostgresBinary.decode(array, type: 1009, types: types) == .array([.text("a"), .null]))
        #expect(throws: PostgresError.self) { try PostgresBinary.decode([0, 1], type: PostgresTypes.int8, types: types) }
    }

    @Test func timestampsBecomeUnixSeconds() throws {
        // 2000-01-01 00:00:01 = 946684801.
        let value = try PostgresBinary.decode([0, 0, 0, 0, 0, 0x0F, 0x42, 0x40], type: PostgresTypes.timestamptz, types: types)
        #expect(value.unixSeconds == 946_684_801)
        #expect(PostgresValue.date(daysSince2000: -1).unixSeconds == 946_598_400)
    }

    @Test func copyStreamsRoundTripInAnyPieces() throws {
        var encoder = CopyBinaryEncoder()
        encoder.appendRow([Array("a".utf8), nil, [1, 2, 3]])
        encoder.appendRow([[], Array("b".utf8), nil])
        let bytes = encoder.finish()
        for pieceSize in [1, 3, 7, bytes.count] {
            var decoder = CopyBinaryDecoder()
            var rows: [[[UInt8]?]] = []
            var offset = 0
            while offset < bytes.count {
                decoder.feed(Array(bytes[offset..<min(offset + pieceSize, bytes.count)]))
                offset += pieceSize
                while let row = try decoder.nextRow() { rows.append(row) }
            }
            #expect(rows.count == 2)
            #expect(rows[0] == [Array("a".utf8), nil, [1, 2, 3]])
            #expect(rows[1] == [[], Array("b".utf8), nil])
            #expect(decoder.finished)
        }
    }

    @Test func refusesDataThatIsNotBinaryCopy() {
        var decoder = CopyBinaryDecoder()
        decoder.feed(Array("id\tname\n1\ta\n....................".utf8))
        #expect(throws: PostgresError.self) { try decoder.nextRow() }
    }
}
