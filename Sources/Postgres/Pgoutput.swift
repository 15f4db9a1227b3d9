/// A position in the write-ahead log: `16/B374D848` in PostgreSQL's notation.
public struct LSN: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 64-bit position.
    public var value: UInt64

    /// Creates a position.
    public init(_ value: UInt64) { self.value = value }

    /// Parses `X/Y` (two hexadecimal halves), or `nil` when `text` is not one.
    public init?(_ text: String) {
        let halves = text.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, let high = UInt32(halves[0], radix: 16), let low = UInt32(halves[1], radix: 16) else { return nil }
        value = UInt64(high) << 32 | UInt64(low)
    }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    public static func < (lhs: LSN, rhs: LSN) -> Bool { lhs.value < rhs.value }
}

/// A column of a relation as pgoutput describes it.
public struct PgoutputColumn: Sendable, Hashable {
    /// The column's name.
    public var name: String
    /// Its type's OID.
    public var type: UInt32
    /// Its `atttypmod` (`vector(3)` → 3; -1 when none).
    public var typeModifier: Int32
    /// Whether it is part of the replica identity (the key old rows are sent by).
    public var isKey: Bool
}

/// A table as pgoutput describes it before its first change in a session (and again after it is altered).
public struct PgoutputRelation: Sendable, Hashable {
    /// The table's OID, which changes name it by.
    public var oid: UInt32
    /// The schema.
    public var namespace: String
    /// The table.
    public var name: String
    /// `relreplident`: `d` (primary key), `n` (nothing), `f` (full row), `i` (an index).
    public var replicaIdentity: Character
    /// The published columns, in order.
    public var columns: [PgoutputColumn]
}

/// One column of a row in a change.
public enum PgoutputValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A TOASTed value the change did not touch: not sent, the target keeps its own.
    case unchanged
    /// The value's text form (the default).
    case text(String)
    /// The value's binary form (`binary 'true'`), as binary COPY and binary results carry it.
    case binary([UInt8])
}

/// The row an update or delete names the old row by.
public enum PgoutputOldRow: Sendable, Hashable {
    /// The replica identity's columns (others are null).
    case key([PgoutputValue])
    /// The whole old row (`REPLICA IDENTITY FULL`).
    case full([PgoutputValue])
}

/// A pgoutput message (PostgreSQL's built-in logical decoding output plugin), protocol versions 1 and 2.
/// Changes carry the transaction id only inside a streamed transaction (version 2, between
/// ``streamStart(xid:first:)`` and ``streamStop``).
public enum PgoutputMessage: Sendable, Hashable {
    /// A transaction starts; it ends at `finalLSN`. Times are microseconds since 2000-01-01 UTC.
    case begin(finalLSN: LSN, commitTime: Int64, xid: UInt32)
    /// The transaction committed at `commitLSN`; `endLSN` is where the next one starts.
    case commit(commitLSN: LSN, endLSN: LSN, commitTime: Int64)
    /// The changes that follow come from replication origin `name`.
    case origin(lsn: LSN, name: String)
    /// A table's description, before its first change.
    case relation(PgoutputRelation)
    /// A type that is not built in (pgvector's `vector`), before the first relation that uses it.
    case type(oid: UInt32, namespace: String, name: String)
    /// A new row.
    case insert(xid: UInt32?, relation: UInt32, row: [PgoutputValue])
    /// A changed row; `old` when the key changed or the table's replica identity is full.
    case update(xid: UInt32?, relation: UInt32, old: PgoutputOldRow?, row: [PgoutputValue])
    /// A deleted row, by its key (or its whole old row).
    case delete(xid: UInt32?, relation: UInt32, old: PgoutputOldRow)
    /// Tables emptied by one `TRUNCATE`.
    case truncate(xid: UInt32?, relations: [UInt32], cascade: Bool, restartIdentity: Bool)
    /// `pg_logical_emit_message` (with `messages 'true'`).
    case message(xid: UInt32?, transactional: Bool, lsn: LSN, prefix: String, content: [UInt8])
    /// A segment of a large in-progress transaction starts (`streaming 'on'`).
    case streamStart(xid: UInt32, first: Bool)
    /// The segment ends.
    case streamStop
    /// A streamed transaction committed.
    case streamCommit(xid: UInt32, commitLSN: LSN, endLSN: LSN, commitTime: Int64)
    /// A streamed (sub)transaction aborted: its changes are void.
    case streamAbort(xid: UInt32, subtransaction: UInt32)
}

/// Decodes pgoutput messages one at a time (each `XLogData` payload is one message). Pure: no I/O; it keeps only
/// whether a streamed segment is open, which decides whether changes carry a transaction id.
public struct PgoutputDecoder: Sendable {
    /// The `proto_version` asked for in `START_REPLICATION` (1 or 2).
    public let protocolVersion: Int
    private var inStream = false

    /// Creates a decoder for `protocolVersion` 1 or 2.
    public init(protocolVersion: Int) {
        precondition((1...2).contains(protocolVersion), "pgoutput protocol versions 1 and 2 are decoded")
        self.protocolVersion = protocolVersion
    }

    /// Decodes one message.
    public mutating func decode(_ bytes: [UInt8]) throws(PostgresError) -> PgoutputMessage {
        var reader = WireReader(bytes)
        let kind = try reader.byte()
        let message: PgoutputMessage
        switch kind {
        case UInt8(ascii: "B"):
            message = .begin(finalLSN: LSN(try reader.uint64()), commitTime: try reader.int64(), xid: try reader.uint32())
        case UInt8(ascii: "C"):
            _ = try reader.byte()
            message = .commit(commitLSN: LSN(try reader.uint64()), endLSN: LSN(try reader.uint64()), commitTime: try reader.int64())
        case UInt8(ascii: "O"):
            message = .origin(lsn: LSN(try reader.uint64()), name: try reader.string())
        case UInt8(ascii: "R"):
            _ = try streamedXid(&reader)
            let oid = try reader.uint32(), namespace = try reader.string(), name = try reader.string()
            let identity = Character(Unicode.Scalar(try reader.byte()))
            let count = Int(try reader.int16())
            var columns: [PgoutputColumn] = []
            for _ in 0..<max(count, 0) {
                let flags = try reader.byte()
                columns.append(PgoutputColumn(name: try reader.string(), type: try reader.uint32(), typeModifier: try reader.int32(), isKey: flags & 1 == 1))
            }
            message = .relation(PgoutputRelation(oid: oid, namespace: namespace, name: name, replicaIdentity: identity, columns: columns))
        case UInt8(ascii: "Y"):
            _ = try streamedXid(&reader)
            message = .type(oid: try reader.uint32(), namespace: try reader.string(), name: try reader.string())
        case UInt8(ascii: "I"):
            let xid = try streamedXid(&reader), relation = try reader.uint32()
            try reader.expect("N", in: "Insert")
            message = .insert(xid: xid, relation: relation, row: try reader.tuple())
        case UInt8(ascii: "U"):
            let xid = try streamedXid(&reader), relation = try reader.uint32()
            var old: PgoutputOldRow?
            var marker = try reader.byte()
            if marker == UInt8(ascii: "K") || marker == UInt8(ascii: "O") {
                old = try reader.oldRow(marker)
                marker = try reader.byte()
            }
            guard marker == UInt8(ascii: "N") else { throw .malformed("pgoutput Update: expected the new row (N), found \(Self.describe(marker))") }
            message = .update(xid: xid, relation: relation, old: old, row: try reader.tuple())
        case UInt8(ascii: "D"):
            let xid = try streamedXid(&reader), relation = try reader.uint32()
            message = .delete(xid: xid, relation: relation, old: try reader.oldRow(try reader.byte()))
        case UInt8(ascii: "T"):
            let xid = try streamedXid(&reader)
            let count = Int(try reader.int32())
            let options = try reader.byte()
            var relations: [UInt32] = []
            for _ in 0..<max(count, 0) { relations.append(try reader.uint32()) }
            message = .truncate(xid: xid, relations: relations, cascade: options & 1 != 0, restartIdentity: options & 2 != 0)
        case UInt8(ascii: "M"):
            let xid = try streamedXid(&reader)
            let flags = try reader.byte(), lsn = LSN(try reader.uint64()), prefix = try reader.string()
            let length = Int(try reader.int32())
            message = .message(xid: xid, transactional: flags & 1 == 1, lsn: lsn, prefix: prefix, content: try reader.bytes(length))
        case UInt8(ascii: "S") where protocolVersion >= 2:
            let xid = try reader.uint32(), first = try reader.byte() == 1
            inStream = true
            message = .streamStart(xid: xid, first: first)
        case UInt8(ascii: "E") where protocolVersion >= 2:
            inStream = false
            message = .streamStop
        case UInt8(ascii: "c") where protocolVersion >= 2:
            let xid = try reader.uint32()
            _ = try reader.byte()
            message = .streamCommit(xid: xid, commitLSN: LSN(try reader.uint64()), endLSN: LSN(try reader.uint64()), commitTime: try reader.int64())
        case UInt8(ascii: "A") where protocolVersion >= 2:
            message = .streamAbort(xid: try reader.uint32(), subtransaction: try reader.uint32())
        default:
            throw .malformed("pgoutput message \(Self.describe(kind)) is not one protocol version \(protocolVersion) sends")
        }
        guard reader.isAtEnd else { throw .malformed("pgoutput message \(Self.describe(kind)) has \(reader.remaining) bytes past its end") }
        return message
    }

    private func streamedXid(_ reader: inout WireReader) throws(PostgresError) -> UInt32? {
        inStream ? try reader.uint32() : nil
    }

    fileprivate static func describe(_ byte: UInt8) -> String {
        (0x20..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }
}

/// A message of the replication stream's COPY BOTH (what `PQgetCopyData` returns after `START_REPLICATION`).
public enum ReplicationFrame: Sendable, Hashable {
    /// WAL data from `start`: one pgoutput message. `serverEnd` is the server's WAL end; times are
    /// microseconds since 2000-01-01 UTC.
    case data(start: LSN, serverEnd: LSN, sentAt: Int64, message: [UInt8])
    /// The server's keepalive; when `replyRequested`, a standby status update is due at once.
    case keepalive(serverEnd: LSN, sentAt: Int64, replyRequested: Bool)

    /// Decodes one frame.
    public static func decode(_ bytes: [UInt8]) throws(PostgresError) -> ReplicationFrame {
        var reader = WireReader(bytes)
        switch try reader.byte() {
        case UInt8(ascii: "w"):
            let start = LSN(try reader.uint64()), end = LSN(try reader.uint64()), sentAt = try reader.int64()
            return .data(start: start, serverEnd: end, sentAt: sentAt, message: try reader.bytes(reader.remaining))
        case UInt8(ascii: "k"):
            let end = LSN(try reader.uint64()), sentAt = try reader.int64(), reply = try reader.byte() == 1
            guard reader.isAtEnd else { throw .malformed("replication keepalive has \(reader.remaining) bytes past its end") }
            return .keepalive(serverEnd: end, sentAt: sentAt, replyRequested: reply)
        case let other:
            throw .malformed("replication stream message \(PgoutputDecoder.describe(other)) is neither WAL data nor a keepalive")
        }
    }

    /// A standby status update (`r`): WAL up to `written`/`flushed`/`applied` is received, durably kept, applied;
    /// the server may recycle WAL before `flushed` and moves the slot's confirmed position there.
    public static func standbyStatus(written: LSN, flushed: LSN, applied: LSN, sentAt: Int64, replyRequested: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "r")]
        bytes.reserveCapacity(34)
        for value in [written.value, flushed.value, applied.value, UInt64(bitPattern: sentAt)] {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
        bytes.append(replyRequested ? 1 : 0)
        return bytes
    }
}

/// Reads big-endian fields and NUL-terminated strings off one message, failing on a short message.
private struct WireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func byte() throws(PostgresError) -> UInt8 {
        guard offset < bytes.count else { throw .malformed("a pgoutput message ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bytes(_ count: Int) throws(PostgresError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw .malformed("a pgoutput message ends early (\(count) bytes announced, \(remaining) left)") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    private mutating func integer(_ width: Int) throws(PostgresError) -> UInt64 {
        var value: UInt64 = 0
        for byte in try bytes(width) { value = value << 8 | UInt64(byte) }
        return value
    }

    mutating func int16() throws(PostgresError) -> Int16 { Int16(bitPattern: UInt16(try integer(2))) }
    mutating func int32() throws(PostgresError) -> Int32 { Int32(bitPattern: UInt32(try integer(4))) }
    mutating func uint32() throws(PostgresError) -> UInt32 { UInt32(try integer(4)) }
    mutating func uint64() throws(PostgresError) -> UInt64 { try integer(8) }
    mutating func int64() throws(PostgresError) -> Int64 { Int64(bitPattern: try integer(8)) }

    mutating func string() throws(PostgresError) -> String {
        guard let end = bytes[offset...].firstIndex(of: 0) else { throw .malformed("a pgoutput string has no terminating NUL") }
        defer { offset = end + 1 }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    mutating func expect(_ marker: Character, in message: String) throws(PostgresError) {
        let found = try byte()
        guard found == marker.asciiValue else { throw .malformed("pgoutput \(message): expected '\(marker)', found \(PgoutputDecoder.describe(found))") }
    }

    mutating func oldRow(_ marker: UInt8) throws(PostgresError) -> PgoutputOldRow {
        switch marker {
        case UInt8(ascii: "K"): return .key(try tuple())
        case UInt8(ascii: "O"): return .full(try tuple())
        default: throw .malformed("pgoutput: expected an old row (K or O), found \(PgoutputDecoder.describe(marker))")
        }
    }

    mutating func tuple() throws(PostgresError) -> [PgoutputValue] {
        let count = Int(try int16())
        var values: [PgoutputValue] = []
        values.reserveCapacity(max(count, 0))
        for _ in 0..<max(count, 0) {
            switch try byte() {
            case UInt8(ascii: "n"): values.append(.null)
            case UInt8(ascii: "u"): values.append(.unchanged)
            case UInt8(ascii: "t"): values.append(.text(String(decoding: try bytes(Int(try int32())), as: UTF8.self)))
            case UInt8(ascii: "b"): values.append(.binary(try bytes(Int(try int32()))))
            case let other: throw .malformed("pgoutput tuple: column kind \(PgoutputDecoder.describe(other)) is none of n, u, t, b")
            }
        }
        return values
    }
}
