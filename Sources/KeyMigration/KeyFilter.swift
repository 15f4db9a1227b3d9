import MigrationCore
import RESP

/// Which keys a run copies or verifies: `--match` (any of), `--exclude` (none of), `--type` (any of) and `--shard`.
public struct KeyFilter: Sendable, Hashable {
    /// Keys must match one of these, when any are given.
    public var include: [GlobPattern]
    /// Keys must match none of these.
    public var exclude: [GlobPattern]
    /// Keys must have one of these types, when any are given.
    public var types: Set<RedisType>
    /// Keys must lie in this shard, when given: their hash slot (CRC16 of the key or its `{hash tag}`) modulo N
    /// is `i`, so the keys of one slot, and of one cluster node's slot ranges, stay together.
    public var shard: Shard?

    /// Creates a filter; the default passes every key.
    public init(include: [GlobPattern] = [], exclude: [GlobPattern] = [], types: Set<RedisType> = [], shard: Shard? = nil) {
        self.include = include
        self.exclude = exclude
        self.types = types
        self.shard = shard
    }

    /// The pattern SCAN can apply on the server (when there is exactly one `--match`).
    public var serverSidePattern: GlobPattern? {
        include.count == 1 ? include[0] : nil
    }

    /// Whether `key` passes the name patterns and lies in the shard.
    public func admits(_ key: [UInt8]) -> Bool {
        if !include.isEmpty && !include.contains(where: { $0.matches(key) }) { return false }
        return !exclude.contains { $0.matches(key) } && inShard(key)
    }

    /// Whether `key`'s hash slot belongs to the shard; every key does when the run is not sharded.
    public func inShard(_ key: [UInt8]) -> Bool {
        shard.map { $0.owns(bucket: HashSlot.slot(for: key)) } ?? true
    }

    /// Whether a key of `type` passes the type filter.
    public func admits(type: RedisType) -> Bool {
        types.isEmpty || types.contains(type)
    }
}

/// The Redis data types the migration knows.
public enum RedisType: String, Sendable, Hashable, CaseIterable, Codable {
    case string, list, hash, set, zset, stream
    /// Modules' types (`ReJSON-RL`, ...) and anything newer: copied by DUMP/RESTORE only.
    case other
    /// The key does not exist (expired or deleted).
    case none

    /// The type named in a `TYPE` reply.
    public init(typeReply name: String) {
        self = RedisType(rawValue: name) ?? (name == "none" ? .none : .other)
    }
}

extension Array where Element == UInt8 {
    /// The key as text for messages: printable ASCII as is, other bytes as `\xNN`, like redis-cli; long keys cut.
    public var printableKey: String {
        var out = "\""
        for byte in prefix(200) {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out += "\\" + String(UnicodeScalar(byte))
            case 0x20..<0x7F:
                out.append(Character(UnicodeScalar(byte)))
            default:
                let hex = String(byte, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        out += count > 200 ? "\"…(\(count) bytes)" : "\""
        return out
    }
}
