/// A decoded PostgreSQL value.
public enum PostgresValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case text(String)
    case bytes([UInt8])
    /// Microseconds since 2000-01-01 00:00 (UTC for `timestamptz`; no zone for `timestamp`).
    case timestamp(microsecondsSince2000: Int64, withTimeZone: Bool)
    /// Days since 2000-01-01.
    case date(daysSince2000: Int32)
    /// 16 bytes.
    case uuid([UInt8])
    /// `json` or `jsonb`, as JSON text.
    case json(String)
    case array([PostgresValue])
    /// `vector` or `halfvec` (widened to Float).
    case vector([Float])
    /// `sparsevec`: 0-based indices.
    case sparseVector(dimensions: Int, indices: [Int32], values: [Float])

    /// Seconds since 1970 for timestamps, days × 86400 for dates.
    public var unixSeconds: Int64? {
        switch self {
        case .timestamp(let micros, _): return micros / 1_000_000 + 946_684_800 - (micros % 1_000_000 < 0 ? 1 : 0)
        case .date(let days): return Int64(days) * 86_400 + 946_684_800
        default: return nil
        }
    }
}

/// Type OIDs: the built-in ones are fixed; pgvector's are looked up by name in each database.
public struct PostgresTypes: Sendable, Hashable {
    public static let bool: UInt32 = 16, bytea: UInt32 = 17, int8: UInt32 = 20, int2: UInt32 = 21, int4: UInt32 = 23
    public static let text: UInt32 = 25, json: UInt32 = 114, float4: UInt32 = 700, float8: UInt32 = 701
    public static let bpchar: UInt32 = 1042, varchar: UInt32 = 1043, date: UInt32 = 1082, timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184, uuid: UInt32 = 2950, jsonb: UInt32 = 3802, name: UInt32 = 19

    /// The `vector` type's OID in this database.
    public var vector: UInt32?
    /// The `halfvec` type's OID.
    public var halfvec: UInt32?
    /// The `sparsevec` type's OID.
    public var sparsevec: UInt32?

    /// Creates a catalog.
    public init(vector: UInt32? = nil, halfvec: UInt32? = nil, sparsevec: UInt32? = nil) {
        self.vector = vector
        self.halfvec = halfvec
        self.sparsevec = sparsevec
    }

    /// Whether values of `oid` decode in binary (else the reader casts the column to text).
    public func decodes(_ oid: UInt32) -> Bool {
        Self.scalars.contains(oid) || Self.arrays[oid] != nil || [vector, halfvec, sparsevec].contains(oid)
    }

    /// Whether `oid` is one of pgvector's types.
    public func isVector(_ oid: UInt32) -> Bool {
        [vector, halfvec, sparsevec].contains(oid)
    }

    static let scalars: Set<UInt32> = [bool, bytea, int8, int2, int4, text, json, float4, float8, bpchar, varchar, date,
                                       timestamp, timestamptz, uuid, jsonb, name]
    /// Array type OID → element type OID.
    static let arrays: [UInt32: UInt32] = [1000: bool, 1001: bytea, 1016: int8, 1005: int2, 1007: int4, 1009: text,
                                           199: json, 1021: float4, 1022: float8, 1014: bpchar, 1015: varchar,
                                           1182: date, 1115: timestamp, 1185: timestamptz, 2951: uuid, 3807: jsonb]
}

/// Decodes and encodes PostgreSQL's binary wire format, pgvector's types included. Pure: no I/O.
public enum PostgresBinary {
    /// Decodes one field of type `oid`.
    public static func decode(_ bytes: [UInt8], type oid: UInt32, types: PostgresTypes) throws(PostgresError) -> PostgresValue {
        var reader = ByteReader(bytes)
        switch oid {
        case PostgresTypes.bool: return .bool(try reader.uint8() != 0)
        case PostgresTypes.int2: return .int(Int64(Int16(bitPattern: try reader.uint16())))
        case PostgresTypes.int4: return .int(Int64(Int32(bitPattern: try reader.uint32())))
        case PostgresTypes.int8: return .int(Int64(bitPattern: try reader.uint64()))
        case PostgresTypes.float4: return .double(Double(Float(bitPattern: try reader.uint32())))
        case PostgresTypes.float8: return .double(Double(bitPattern: try reader.uint64()))
        case PostgresTypes.text, PostgresTypes.varchar, PostgresTypes.bpchar, PostgresTypes.name:
            return .text(String(decoding: bytes, as: UTF8.self))
        case PostgresTypes.json: return .json(String(decoding: bytes, as: UTF8.self))
        case PostgresTypes.jsonb:
            guard try reader.uint8() == 1 else { throw .malformed("unknown jsonb version") }
            return .json(String(decoding: bytes.dropFirst(), as: UTF8.self))
        case PostgresTypes.bytea: return .bytes(bytes)
        case PostgresTypes.uuid:
            guard bytes.count == 16 else { throw .malformed("uuid of \(bytes.count) bytes") }
            return .uuid(bytes)
        case PostgresTypes.date: return .date(daysSince2000: Int32(bitPattern: try reader.uint32()))
        case PostgresTypes.timestamp, PostgresTypes.timestamptz:
            return .timestamp(microsecondsSince2000: Int64(bitPattern: try reader.uint64()), withTimeZone: oid == PostgresTypes.timestamptz)
        case types.vector:
            return .vector(try decodeVector(&reader, half: false))
        case types.halfvec:
            return .vector(try decodeVector(&reader, half: true))
        case types.sparsevec:
            let dimensions = Int(Int32(bitPattern: try reader.uint32()))
            let count = Int(Int32(bitPattern: try reader.uint32()))
            _ = try reader.uint32()
            var indices: [Int32] = []
            indices.reserveCapacity(count)
            for _ in 0..<count { indices.append(Int32(bitPattern: try reader.uint32())) }
            var values: [Float] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(Float(bitPattern: try reader.uint32())) }
            return .sparseVector(dimensions: dimensions, indices: indices, values: values)
        default:
            if let element = PostgresTypes.arrays[oid] {
                return try decodeArray(&reader, element: element, types: types)
            }
            throw .malformed("no binary decoder for type OID \(oid)")
        }
    }

    private static func decodeVector(_ reader: inout ByteReader, half: Bool) throws(PostgresError) -> [Float] {
        let dimensions = Int(try reader.uint16())
        _ = try reader.uint16()
        let raw = try reader.bytes(dimensions * (half ? 2 : 4))
        // One pass over the big-endian components, without a bounds-checked read per value.
        return [Float](unsafeUninitializedCapacity: dimensions) { values, count in
            raw.withUnsafeBytes { bytes in
                for index in 0..<dimensions {
                    if half {
                        values[index] = Float(Float16(bitPattern: UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))))
                    } else {
                        values[index] = Float(bitPattern: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                    }
                }
            }
            count = dimensions
        }
    }

    private static func decodeArray(_ reader: inout ByteReader, element: UInt32, types: PostgresTypes) throws(PostgresError) -> PostgresValue {
        let dimensions = Int(try reader.uint32())
        _ = try reader.uint32() // has-nulls flag
        _ = try reader.uint32() // element OID
        guard dimensions > 0 else { return .array([]) }
        var lengths: [Int] = []
        for _ in 0..<dimensions {
            lengths.append(Int(try reader.uint32()))
            _ = try reader.uint32() // lower bound
        }
        func read(_ depth: Int) throws(PostgresError) -> PostgresValue {
            var items: [PostgresValue] = []
            for _ in 0..<lengths[depth] {
                if depth + 1 < dimensions {
                    items.append(try read(depth + 1))
                } else {
                    let length = Int32(bitPattern: try reader.uint32())
                    items.append(length < 0 ? .null : try decode(try reader.bytes(Int(length)), type: element, types: types))
                }
            }
            return .array(items)
        }
        return try read(0)
    }

    /// The binary form of a `vector` (or, with `half`, a `halfvec`).
    public static func encodeVector(_ values: [Float], half: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + values.count * (half ? 2 : 4))
        out.appendBigEndian(UInt16(values.count))
        out.appendBigEndian(UInt16(0))
        for value in values {
            if half { out.appendBigEndian(Float16(value).bitPattern) } else { out.appendBigEndian(value.bitPattern) }
        }
        return out
    }

    /// The binary form of a `sparsevec`.
    public static func encodeSparseVector(dimensions: Int, indices: [Int32], values: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.appendBigEndian(UInt32(dimensions))
        out.appendBigEndian(UInt32(indices.count))
        out.appendBigEndian(UInt32(0))
        for index in indices { out.appendBigEndian(UInt32(bitPattern: index)) }
        for value in values { out.appendBigEndian(value.bitPattern) }
        return out
    }

    /// The binary form of a `jsonb` value from JSON text.
    public static func encodeJSONB(_ json: String) -> [UInt8] {
        [1] + Array(json.utf8)
    }
}

/// Reads `COPY … (FORMAT binary)` data fed in arbitrary pieces, row by row. Pure: no I/O.
public struct CopyBinaryDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var position = 0
    private var headerRead = false
    /// Whether the trailer (a field count of -1) was read.
    public private(set) var finished = false

    /// An empty decoder.
    public init() {}

    /// Appends received bytes.
    public mutating func feed(_ bytes: [UInt8]) {
        if position > 0 && position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
        } else if position > 1 << 20 {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete row (each field `nil` for NULL), or `nil` when more bytes are needed or the data ended.
    public mutating func nextRow() throws(PostgresError) -> [[UInt8]?]? {
        if !headerRead {
            guard buffer.count - position >= 19 else { return nil }
            guard Array(buffer[position..<(position + 11)]) == Self.signature else { throw .malformed("not binary COPY data") }
            let extensionLength = Int(readUInt32(at: position + 15))
            guard buffer.count - position >= 19 + extensionLength else { return nil }
            position += 19 + extensionLength
            headerRead = true
        }
        guard !finished, buffer.count - position >= 2 else { return nil }
        let fieldCount = Int16(bitPattern: UInt16(buffer[position]) << 8 | UInt16(buffer[position + 1]))
        if fieldCount == -1 {
            position += 2
            finished = true
            return nil
        }
        // Make sure the whole row is here before consuming it.
        var cursor = position + 2
        var ranges: [Range<Int>?] = []
        ranges.reserveCapacity(Int(fieldCount))
        for _ in 0..<fieldCount {
            guard buffer.count - cursor >= 4 else { return nil }
            let length = Int32(bitPattern: readUInt32(at: cursor))
            cursor += 4
            if length < 0 {
                ranges.append(nil)
            } else {
                guard buffer.count - cursor >= Int(length) else { return nil }
                ranges.append(cursor..<(cursor + Int(length)))
                cursor += Int(length)
            }
        }
        position = cursor
        return ranges.map { $0.map { Array(buffer[$0]) } }
    }

    private func readUInt32(at index: Int) -> UInt32 {
        UInt32(buffer[index]) << 24 | UInt32(buffer[index + 1]) << 16 | UInt32(buffer[index + 2]) << 8 | UInt32(buffer[index + 3])
    }

    /// `PGCOPY\n\377\r\n\0`.
    static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]
}

/// Writes `COPY … FROM STDIN (FORMAT binary)` data. Pure: no I/O.
public struct CopyBinaryEncoder: Sendable {
    /// The bytes so far.
    public private(set) var bytes: [UInt8]

    /// Starts with the header.
    public init() {
        bytes = CopyBinaryDecoder.signature + [0, 0, 0, 0, 0, 0, 0, 0]
    }

    /// Appends a row of fields (`nil` for NULL), each already in binary form.
    public mutating func appendRow(_ fields: [[UInt8]?]) {
        bytes.appendBigEndian(UInt16(fields.count))
        for field in fields {
            if let field {
                bytes.appendBigEndian(UInt32(field.count))
                bytes.append(contentsOf: field)
            } else {
                bytes.appendBigEndian(UInt32(bitPattern: -1))
            }
        }
    }

    /// Appends the trailer and returns the data.
    public consuming func finish() -> [UInt8] {
        bytes.appendBigEndian(UInt16(bitPattern: -1))
        return bytes
    }
}

/// Big-endian reads over a byte array.
struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func uint8() throws(PostgresError) -> UInt8 {
        guard index < bytes.count else { throw .malformed("value too short") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func uint16() throws(PostgresError) -> UInt16 {
        UInt16(try uint8()) << 8 | UInt16(try uint8())
    }

    mutating func uint32() throws(PostgresError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw .malformed("value too short") }
        defer { index += 4 }
        return UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
    }

    mutating func uint64() throws(PostgresError) -> UInt64 {
        UInt64(try uint32()) << 32 | UInt64(try uint32())
    }

    mutating func bytes(_ count: Int) throws(PostgresError) -> [UInt8] {
        guard count >= 0, index + count <= bytes.count else { throw .malformed("value too short") }
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
