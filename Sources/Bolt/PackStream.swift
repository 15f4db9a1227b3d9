/// A PackStream value (Bolt's serialization format, version 1).
public enum PackStreamValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case bytes([UInt8])
    case string(String)
    case list([PackStreamValue])
    /// Entries in wire order (keys are strings).
    case map([(String, PackStreamValue)])
    /// A tagged structure: Node, Relationship, temporal and spatial values, and Bolt messages.
    case structure(tag: UInt8, fields: [PackStreamValue])

    public static func == (lhs: PackStreamValue, rhs: PackStreamValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.float(a), .float(b)): return a.bitPattern == b.bitPattern || a == b
        case let (.bytes(a), .bytes(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.list(a), .list(b)): return a == b
        case let (.map(a), .map(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.structure(tagA, fieldsA), .structure(tagB, fieldsB)): return tagA == tagB && fieldsA == fieldsB
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        var encoder = PackStreamEncoder()
        encoder.encode(self)
        hasher.combine(encoder.bytes)
    }

    /// The value of `key` in a map.
    public subscript(key: String) -> PackStreamValue? {
        if case .map(let entries) = self { return entries.first { $0.0 == key }?.1 }
        return nil
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var int: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    public var list: [PackStreamValue]? {
        if case .list(let values) = self { return values }
        return nil
    }

    public var map: [(String, PackStreamValue)]? {
        if case .map(let entries) = self { return entries }
        return nil
    }
}

/// Writes PackStream, choosing the smallest marker for every value as the specification requires.
public struct PackStreamEncoder: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty encoder.
    public init() {}

    /// Appends `value`.
    public mutating func encode(_ value: PackStreamValue) {
        switch value {
        case .null: bytes.append(0xC0)
        case .bool(let flag): bytes.append(flag ? 0xC3 : 0xC2)
        case .int(let number): encodeInt(number)
        case .float(let number):
            bytes.append(0xC1)
            append(number.bitPattern)
        case .bytes(let data):
            if data.count <= 0xFF {
                bytes.append(0xCC); bytes.append(UInt8(data.count))
            } else if data.count <= 0xFFFF {
                bytes.append(0xCD); append(UInt16(data.count))
            } else {
                bytes.append(0xCE); append(UInt32(data.count))
            }
            bytes.append(contentsOf: data)
        case .string(let text):
            let utf8 = Array(text.utf8)
            header(count: utf8.count, tiny: 0x80, small: 0xD0)
            bytes.append(contentsOf: utf8)
        case .list(let items):
            header(count: items.count, tiny: 0x90, small: 0xD4)
            items.forEach { encode($0) }
        case .map(let entries):
            header(count: entries.count, tiny: 0xA0, small: 0xD8)
            for (key, item) in entries {
                encode(.string(key))
                encode(item)
            }
        case .structure(let tag, let fields):
            precondition(fields.count < 16, "a structure has at most 15 fields")
            bytes.append(0xB0 | UInt8(fields.count))
            bytes.append(tag)
            fields.forEach { encode($0) }
        }
    }

    private mutating func encodeInt(_ number: Int64) {
        switch number {
        case -16...127: bytes.append(UInt8(bitPattern: Int8(number)))
        case -128 ... -17: bytes.append(0xC8); bytes.append(UInt8(bitPattern: Int8(number)))
        case -32_768...32_767: bytes.append(0xC9); append(UInt16(bitPattern: Int16(number)))
        case -2_147_483_648...2_147_483_647: bytes.append(0xCA); append(UInt32(bitPattern: Int32(number)))
        default: bytes.append(0xCB); append(UInt64(bitPattern: number))
        }
    }

    /// Tiny marker (count < 16), then 8, 16 or 32-bit sizes (markers small, small+1, small+2).
    private mutating func header(count: Int, tiny: UInt8, small: UInt8) {
        if count < 16 {
            bytes.append(tiny | UInt8(count))
        } else if count <= 0xFF {
            bytes.append(small); bytes.append(UInt8(count))
        } else if count <= 0xFFFF {
            bytes.append(small + 1); append(UInt16(count))
        } else {
            bytes.append(small + 2); append(UInt32(count))
        }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Why PackStream bytes could not be decoded.
public struct PackStreamError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Reads PackStream values from a complete message.
public struct PackStreamDecoder: Sendable {
    private let bytes: [UInt8]
    private var index = 0

    /// A decoder over one message's bytes.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Whether every byte was read.
    public var isAtEnd: Bool { index == bytes.count }

    /// Reads the next value.
    public mutating func decode() throws(PackStreamError) -> PackStreamValue {
        let marker = try byte()
        switch marker {
        case 0x00...0x7F: return .int(Int64(marker))
        case 0xF0...0xFF: return .int(Int64(Int8(bitPattern: marker)))
        case 0x80...0x8F: return .string(try text(Int(marker & 0x0F)))
        case 0x90...0x9F: return .list(try list(Int(marker & 0x0F)))
        case 0xA0...0xAF: return .map(try map(Int(marker & 0x0F)))
        case 0xB0...0xBF:
            let tag = try byte()
            return .structure(tag: tag, fields: try list(Int(marker & 0x0F)))
        case 0xC0: return .null
        case 0xC1: return .float(Double(bitPattern: try unsigned(8)))
        case 0xC2: return .bool(false)
        case 0xC3: return .bool(true)
        case 0xC8: return .int(Int64(Int8(bitPattern: try byte())))
        case 0xC9: return .int(Int64(Int16(bitPattern: UInt16(try unsigned(2)))))
        case 0xCA: return .int(Int64(Int32(bitPattern: UInt32(try unsigned(4)))))
        case 0xCB: return .int(Int64(bitPattern: try unsigned(8)))
        case 0xCC, 0xCD, 0xCE: return .bytes(try take(Int(try unsigned(1 << Int(marker - 0xCC)))))
        case 0xD0, 0xD1, 0xD2: return .string(try text(Int(try unsigned(1 << Int(marker - 0xD0)))))
        case 0xD4, 0xD5, 0xD6: return .list(try list(Int(try unsigned(1 << Int(marker - 0xD4)))))
        case 0xD8, 0xD9, 0xDA: return .map(try map(Int(try unsigned(1 << Int(marker - 0xD8)))))
        default: throw PackStreamError(description: "unknown PackStream marker 0x\(String(marker, radix: 16)) at byte \(index - 1)")
        }
    }

    private mutating func byte() throws(PackStreamError) -> UInt8 {
        guard index < bytes.count else { throw PackStreamError(description: "PackStream data ends early") }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func unsigned(_ count: Int) throws(PackStreamError) -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<count { value = value << 8 | UInt64(try byte()) }
        return value
    }

    private mutating func take(_ count: Int) throws(PackStreamError) -> [UInt8] {
        guard count >= 0, index + count <= bytes.count else { throw PackStreamError(description: "PackStream data ends early") }
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }

    /// A string straight from the message's bytes (no intermediate array).
    private mutating func text(_ count: Int) throws(PackStreamError) -> String {
        guard count >= 0, index + count <= bytes.count else { throw PackStreamError(description: "PackStream data ends early") }
        defer { index += count }
        return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[index..<(index + count)]), as: UTF8.self) }
    }

    private mutating func list(_ count: Int) throws(PackStreamError) -> [PackStreamValue] {
        var items: [PackStreamValue] = []
        items.reserveCapacity(count)
        for _ in 0..<count { items.append(try decode()) }
        return items
    }

    private mutating func map(_ count: Int) throws(PackStreamError) -> [(String, PackStreamValue)] {
        var entries: [(String, PackStreamValue)] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            guard case .string(let key) = try decode() else { throw PackStreamError(description: "a map key that is not a string") }
            entries.append((key, try decode()))
        }
        return entries
    }
}
