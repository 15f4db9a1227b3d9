import Hashing
import JSON

/// How a source row's key becomes a Qdrant point id.
public enum PointIDRule: String, Sendable, Hashable, CaseIterable, Decodable {
    /// LightRAG's rule: `UUID(bytes = sha256(workspace + id)[:16], version = 4)`, as its Qdrant storage computes it
    /// (an empty workspace counts as LightRAG's default, `_`).
    case lightrag
    /// A name-based UUID (version 5) of the key columns, joined by U+001F, in the `migrate` namespace: stable,
    /// so reruns overwrite rather than duplicate, and `(workspace, id)` pairs never collide.
    case uuid5
    /// The key as it is: an unsigned integer or a UUID (Qdrant accepts nothing else).
    case keep

    /// The point id for `key` (the key columns' text values, in order).
    public func pointID(for key: [String]) throws(PointIDError) -> JSONValue {
        switch self {
        case .lightrag:
            // LightRAG hashes its effective workspace, `_` when none is configured, followed by the id.
            var hasher = SHA256Hasher()
            for (index, part) in key.enumerated() { hasher.update(index == 0 && part.isEmpty && key.count > 1 ? "_" : part) }
            return .string(UUIDText.format(UUIDText.stamp(Array(hasher.finalize().prefix(16)), version: 4)))
        case .uuid5:
            let name = Array(key.joined(separator: "\u{1F}").utf8)
            let digest = Digest.sha1(UUIDText.migrateNamespace + name)
            return .string(UUIDText.format(UUIDText.stamp(Array(digest.prefix(16)), version: 5)))
        case .keep:
            guard key.count == 1 else { throw PointIDError(key: key, reason: "a composite key cannot be kept as a point id; use id: uuid5 or lightrag") }
            if let number = UInt64(key[0]) { return .int(Int64(bitPattern: number)) }
            if let uuid = UUIDText.parse(key[0]) { return .string(UUIDText.format(uuid)) }
            throw PointIDError(key: key, reason: "Qdrant point ids are unsigned integers or UUIDs; use id: uuid5 to derive one")
        }
    }
}

/// A key that cannot become a point id.
public struct PointIDError: Error, Sendable, CustomStringConvertible {
    /// The key.
    public var key: [String]
    /// Why.
    public var reason: String

    public var description: String { "row with key (\(key.joined(separator: ", "))) has no valid point id: \(reason)" }
}

/// UUID bytes and text.
public enum UUIDText {
    /// The namespace of `migrate`'s version-5 ids: the version-5 UUID of "migrate" in RFC 4122's URL namespace.
    static let migrateNamespace: [UInt8] = stamp(Array(Digest.sha1(urlNamespace + Array("https://migrate/point-id".utf8)).prefix(16)), version: 5)

    private static let urlNamespace: [UInt8] = [0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8]

    /// Sets the version and RFC 4122 variant bits, as Python's `uuid.UUID(bytes=…, version=…)` does.
    public static func stamp(_ bytes: [UInt8], version: UInt8) -> [UInt8] {
        var out = bytes
        out[6] = (out[6] & 0x0F) | (version << 4)
        out[8] = (out[8] & 0x3F) | 0x80
        return out
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case.
    public static func format(_ bytes: [UInt8]) -> String {
        let hex = bytes.map { byte -> String in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined()
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }

    /// The 16 bytes of a UUID written with or without hyphens (or as `urn:uuid:`).
    public static func parse(_ text: String) -> [UInt8]? {
        var hex = text.lowercased()
        if hex.hasPrefix("urn:uuid:") { hex.removeFirst(9) }
        hex.removeAll { $0 == "-" }
        guard hex.count == 32 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    /// A point id in one canonical text form (integers in decimal, UUIDs hyphenated lower case).
    public static func canonical(_ id: JSONValue) -> String {
        switch id {
        case .int(let value): return String(UInt64(bitPattern: value))
        case .string(let text): return parse(text).map(format) ?? text
        default: return JSONWriter.text(id)
        }
    }
}
