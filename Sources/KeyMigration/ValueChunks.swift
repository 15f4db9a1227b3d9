import RESP

/// One stream entry: its id and its field/value pairs.
public struct StreamEntry: Sendable, Hashable {
    /// The entry id (`1700000000000-0`).
    public var id: [UInt8]
    /// Field, value, field, value, ...
    public var fields: [[UInt8]]
}

/// A piece of one key's value, read by type: the whole value for small keys, one chunk of a big key.
public enum ValueChunk: Sendable, Hashable {
    /// Bytes of a string (in order).
    case string([UInt8])
    /// List elements (in order).
    case list([[UInt8]])
    /// Field, value, field, value, ...
    case hash([[UInt8]])
    /// Members.
    case set([[UInt8]])
    /// Member, score, member, score, ... with scores as the server prints them (exact for doubles).
    case zset([[UInt8]])
    /// Entries in id order.
    case stream([StreamEntry])

    /// The command that reads a whole value of `type` in one reply.
    static func wholeReadCommand(key: [UInt8], type: RedisType) -> RESPCommand? {
        switch type {
        case .string: return RESPCommand("GET", key)
        case .list: return RESPCommand("LRANGE", key, 0, -1)
        case .hash: return RESPCommand("HGETALL", key)
        case .set: return RESPCommand("SMEMBERS", key)
        case .zset: return RESPCommand("ZRANGE", key, 0, -1, "WITHSCORES")
        case .stream: return RESPCommand("XRANGE", key, "-", "+")
        case .other, .none: return nil
        }
    }

    /// Decodes the reply of a read command for `type`; `nil` for a missing key.
    init?(reply: RESPValue, type: RedisType) throws(ValueDecodingError) {
        switch (type, reply) {
        case (_, .null):
            return nil
        case (.string, .bulk(let bytes)):
            self = .string(bytes)
        case (.list, .array(let items)):
            self = .list(try Self.bulks(items, type: type))
        case (.hash, .array(let items)):
            self = .hash(try Self.bulks(items, type: type))
        case (.set, .array(let items)):
            self = .set(try Self.bulks(items, type: type))
        case (.zset, .array(let items)):
            self = .zset(try Self.bulks(items, type: type))
        case (.stream, .array(let items)):
            self = .stream(try items.map { item throws(ValueDecodingError) in
                guard let parts = item.array, parts.count == 2, let id = parts[0].bytes else {
                    throw ValueDecodingError(type: type, reply: item)
                }
                return StreamEntry(id: id, fields: parts[1].array.map { (try? Self.bulks($0, type: type)) ?? [] } ?? [])
            })
        default:
            throw ValueDecodingError(type: type, reply: reply)
        }
    }

    private static func bulks(_ items: [RESPValue], type: RedisType) throws(ValueDecodingError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let bytes = item.bytes else { throw ValueDecodingError(type: type, reply: item) }
            out.append(bytes)
        }
        return out
    }

    /// How many elements (or bytes, for strings) the chunk holds.
    var size: Int {
        switch self {
        case .string(let bytes): return bytes.count
        case .list(let items), .set(let items): return items.count
        case .hash(let items), .zset(let items): return items.count / 2
        case .stream(let entries): return entries.count
        }
    }

    /// The bytes the chunk holds, for progress.
    var byteCount: Int {
        switch self {
        case .string(let bytes): return bytes.count
        case .list(let items), .set(let items), .hash(let items), .zset(let items): return items.reduce(0) { $0 + $1.count }
        case .stream(let entries): return entries.reduce(0) { $0 + $1.id.count + $1.fields.reduce(0) { $0 + $1.count } }
        }
    }

    /// The commands that append this chunk to `key` on the target; `first` marks the first chunk of a value,
    /// which replaces whatever the key held.
    func writeCommands(key: [UInt8], first: Bool) -> [RESPCommand] {
        var commands: [RESPCommand] = []
        switch self {
        case .string(let bytes):
            commands.append(first ? RESPCommand("SET", key, bytes) : RESPCommand("APPEND", key, bytes))
        case .list, .hash, .set, .zset, .stream:
            // SET replaces a string by itself; the others add to whatever the key holds, so clear it first.
            if first { commands.append(RESPCommand("DEL", key)) }
        }
        switch self {
        case .string:
            break
        case .list(let items):
            if !items.isEmpty { commands.append(RESPCommand(arguments: [Array("RPUSH".utf8), key] + items)) }
        case .hash(let items):
            if !items.isEmpty { commands.append(RESPCommand(arguments: [Array("HSET".utf8), key] + items)) }
        case .set(let items):
            if !items.isEmpty { commands.append(RESPCommand(arguments: [Array("SADD".utf8), key] + items)) }
        case .zset(let items):
            guard !items.isEmpty else { break }
            var arguments: [[UInt8]] = [Array("ZADD".utf8), key]
            arguments.reserveCapacity(items.count + 2)
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                arguments.append(items[index + 1])
                arguments.append(items[index])
            }
            commands.append(RESPCommand(arguments: arguments))
        case .stream(let entries):
            for entry in entries {
                commands.append(RESPCommand(arguments: [Array("XADD".utf8), key, entry.id] + entry.fields))
            }
        }
        return commands
    }
}

/// A reply that does not have the shape its type promises.
public struct ValueDecodingError: Error, Sendable, CustomStringConvertible {
    /// The type being read.
    public var type: RedisType
    /// The reply.
    public var reply: RESPValue

    public var description: String { "unexpected reply while reading a \(type.rawValue): \(reply)" }
}
