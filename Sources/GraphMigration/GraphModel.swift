import Bolt
import Chronology
import Foundation
import Hashing
import JSON
import MigrationCore

/// A node read from the source.
public struct GraphNode: Sendable {
    /// The source's internal id (keyset position).
    public var sourceID: Int64
    /// Who it is on the target.
    public var identity: NodeIdentity
    public var labels: [String]
    public var properties: [(String, PackStreamValue)]

    /// The id it gets on the target (`~id` on Neptune).
    public var id: String { identity.targetID }
}

/// A relationship read from the source.
public struct GraphRelationship: Sendable {
    public var sourceID: Int64
    public var id: String
    public var type: String
    /// The start and end nodes.
    public var from: NodeIdentity
    public var to: NodeIdentity
    /// The labels of the start and end nodes (empty when not read).
    public var startLabels: [String] = []
    public var endLabels: [String] = []
    public var properties: [(String, PackStreamValue)]

    /// Target ids of the start and end nodes.
    public var start: String { from.targetID }
    public var end: String { to.targetID }
}

/// One item of the graph pipeline.
public enum GraphItem: Sendable {
    case node(GraphNode)
    case relationship(GraphRelationship)
}

/// How property values that Neptune cannot store are treated.
public struct PropertyPolicy: Sendable, Hashable, Decodable {
    /// What to do with a value Neptune cannot store as it is.
    public enum Treatment: String, Sendable, Hashable, Decodable {
        /// Store its JSON text.
        case json
        /// Refuse the node or relationship (it goes to the dead-letter file).
        case refuse
    }

    /// Lists (Neptune stores simple literals only).
    public var lists: Treatment = .json
    /// Maps.
    public var maps: Treatment = .json
    /// Byte arrays (stored as base64 when `json`).
    public var bytes: Treatment = .json

    public init() {}

    enum CodingKeys: String, CodingKey { case lists, maps, bytes }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["lists", "maps", "bytes"])
        let container = try decoder.container(keyedBy: CodingKeys.self)
        lists = try container.decodeIfPresent(Treatment.self, forKey: .lists) ?? .json
        maps = try container.decodeIfPresent(Treatment.self, forKey: .maps) ?? .json
        bytes = try container.decodeIfPresent(Treatment.self, forKey: .bytes) ?? .json
    }
}

/// A value that cannot be written, and why.
public struct UnstorableProperty: Error, Sendable, CustomStringConvertible {
    public var property: String
    public var reason: String

    public var description: String { "property '\(property)' \(reason)" }
}

/// Converts Bolt values to what Neptune stores: simple literals. Temporal values become ISO 8601 strings,
/// lists and maps JSON text (or a refusal), and every conversion is counted.
public struct PropertyConverter: Sendable {
    public var policy: PropertyPolicy

    public init(policy: PropertyPolicy) {
        self.policy = policy
    }

    /// The literal for `value`, counting conversions in `conversions` (`list→json`, `datetime→string`, ...).
    public func literal(_ value: PackStreamValue, property: String, conversions: inout [String: Int]) throws(UnstorableProperty) -> JSONValue {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .int(number)
        case .float(let number):
            guard number.isFinite else {
                conversions["\(number)→string", default: 0] += 1
                return .string(String(number))
            }
            return .double(number)
        case .string(let text): return .string(text)
        case .bytes(let data):
            guard policy.bytes == .json else { throw UnstorableProperty(property: property, reason: "is a byte array, which Neptune cannot store (mapping: bytes: refuse)") }
            conversions["bytes→base64", default: 0] += 1
            return .string(Data(data).base64EncodedString())
        case .list:
            guard policy.lists == .json else { throw UnstorableProperty(property: property, reason: "is a list, which Neptune cannot store (mapping: lists: refuse)") }
            conversions["list→json", default: 0] += 1
            return .string(JSONWriter.text(try nested(value, property: property)))
        case .map:
            guard policy.maps == .json else { throw UnstorableProperty(property: property, reason: "is a map, which Neptune cannot store (mapping: maps: refuse)") }
            conversions["map→json", default: 0] += 1
            return .string(JSONWriter.text(try nested(value, property: property)))
        case .structure(let tag, let fields):
            let (kind, text) = try Self.temporal(tag: tag, fields: fields, property: property)
            conversions["\(kind)→string", default: 0] += 1
            return .string(text)
        }
    }

    /// The literal of every property, nulls left out (Neptune has no null properties).
    public func literals(_ properties: [(String, PackStreamValue)], conversions: inout [String: Int]) throws(UnstorableProperty) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        for (name, value) in properties {
            let literal = try literal(value, property: name, conversions: &conversions)
            if !literal.isNull { out.append((name, literal)) }
        }
        return out
    }

    /// JSON for a value inside a list or map (nested conversions are not counted separately).
    private func nested(_ value: PackStreamValue, property: String) throws(UnstorableProperty) -> JSONValue {
        switch value {
        case .list(let items):
            var out: [JSONValue] = []
            for item in items { out.append(try nested(item, property: property)) }
            return .array(out)
        case .map(let entries):
            var out: [(String, JSONValue)] = []
            for (key, item) in entries { out.append((key, try nested(item, property: property))) }
            return .object(out)
        default:
            var ignored: [String: Int] = [:]
            return try literal(value, property: property, conversions: &ignored)
        }
    }

    /// ISO 8601 text for Bolt's temporal and spatial structures.
    static func temporal(tag: UInt8, fields: [PackStreamValue], property: String) throws(UnstorableProperty) -> (String, String) {
        func int(_ index: Int) -> Int64 { index < fields.count ? fields[index].int ?? 0 : 0 }
        func float(_ index: Int) -> Double {
            guard index < fields.count else { return 0 }
            if case .float(let value) = fields[index] { return value }
            return Double(fields[index].int ?? 0)
        }
        switch tag {
        case 0x44: return ("date", CivilTime.isoDate(daysSince1970: int(0)))
        case 0x64: return ("localdatetime", CivilTime.isoDateTime(secondsSince1970: int(0), fraction: int(1)))
        case 0x49: // DateTime (Bolt 5): UTC seconds, nanoseconds, offset
            return ("datetime", CivilTime.isoDateTime(secondsSince1970: int(0) + int(2), fraction: int(1)) + CivilTime.isoOffset(seconds: int(2)))
        case 0x46: // legacy DateTime (Bolt 4): local seconds, nanoseconds, offset
            return ("datetime", CivilTime.isoDateTime(secondsSince1970: int(0), fraction: int(1)) + CivilTime.isoOffset(seconds: int(2)))
        case 0x69: // DateTimeZoneId (Bolt 5): UTC seconds, nanoseconds, zone id
            return ("datetime", CivilTime.isoDateTime(secondsSince1970: int(0), fraction: int(1)) + "Z[\(fields.count > 2 ? fields[2].string ?? "" : "")]")
        case 0x66: // legacy DateTimeZoneId: local seconds, nanoseconds, zone id
            return ("datetime", CivilTime.isoDateTime(secondsSince1970: int(0), fraction: int(1)) + "[\(fields.count > 2 ? fields[2].string ?? "" : "")]")
        case 0x54: // Time: nanoseconds of day, offset
            let nanos = int(0)
            return ("time", CivilTime.isoTime(secondOfDay: nanos / 1_000_000_000, fraction: nanos % 1_000_000_000) + CivilTime.isoOffset(seconds: int(1)))
        case 0x74: // LocalTime
            let nanos = int(0)
            return ("localtime", CivilTime.isoTime(secondOfDay: nanos / 1_000_000_000, fraction: nanos % 1_000_000_000))
        case 0x45: // Duration: months, days, seconds, nanoseconds
            var seconds = String(int(2))
            if int(3) != 0 {
                let nanos = String(int(3))
                seconds += "." + String(repeating: "0", count: max(0, 9 - nanos.count)) + nanos
            }
            return ("duration", "P\(int(0))M\(int(1))DT\(seconds)S")
        case 0x58: return ("point", JSONWriter.text(.object([("srid", .int(int(0))), ("x", .double(float(1))), ("y", .double(float(2)))])))
        case 0x59: return ("point", JSONWriter.text(.object([("srid", .int(int(0))), ("x", .double(float(1))), ("y", .double(float(2))), ("z", .double(float(3)))])))
        default:
            throw UnstorableProperty(property: property, reason: "holds a structure 0x\(String(tag, radix: 16)) that has no literal form")
        }
    }
}

/// Canonical records for checksums and comparison: sorted labels, sorted properties, literal values.
enum GraphRecord {
    static func node(id: String, labels: [String], properties: [(String, JSONValue)]) -> [UInt8] {
        var out = Array("n\u{0}\(id)\u{0}".utf8)
        out += Array(labels.sorted().joined(separator: "\u{1}").utf8)
        out.append(0)
        out += JSONWriter.canonical(.object(properties.filter { !$0.1.isNull }))
        return out
    }

    static func relationship(id: String, type: String, start: String, end: String, properties: [(String, JSONValue)]) -> [UInt8] {
        var out = Array("r\u{0}\(id)\u{0}\(type)\u{0}\(start)\u{0}\(end)\u{0}".utf8)
        out += JSONWriter.canonical(.object(properties.filter { !$0.1.isNull }))
        return out
    }
}
