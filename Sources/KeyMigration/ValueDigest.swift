import Hashing
import MigrationCore
import RESP

/// A digest of one key's logical value, the same whichever server (or version, or encoding) holds it:
/// ordered for strings, lists and streams; order-independent for hashes, sets and sorted sets, whose scores are
/// compared as doubles, not as the server happened to print them.
struct ValueDigest: ~Copyable {
    private var ordered = SHA256Hasher()
    private var unordered = OrderIndependentChecksum()
    private let isUnordered: Bool
    private var elements = 0

    init(type: RedisType) {
        isUnordered = [.hash, .set, .zset].contains(type)
        ordered.update(length: type.rawValue.utf8.count)
        ordered.update(type.rawValue)
    }

    mutating func add(_ chunk: ValueChunk) {
        switch chunk {
        case .string(let bytes):
            ordered.update(elements == 0 ? Self.withoutHyperLogLogCache(bytes) : bytes)
            elements += bytes.count
        case .list(let items):
            for item in items {
                ordered.update(length: item.count)
                ordered.update(item)
            }
            elements += items.count
        case .stream(let entries):
            for entry in entries {
                ordered.update(length: entry.id.count)
                ordered.update(entry.id)
                ordered.update(length: entry.fields.count)
                for field in entry.fields {
                    ordered.update(length: field.count)
                    ordered.update(field)
                }
            }
            elements += entries.count
        case .set(let members):
            for member in members { unordered.add(record: member) }
            elements += members.count
        case .hash(let items):
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                unordered.add(record: Self.pair(items[index], items[index + 1]))
            }
            elements += items.count / 2
        case .zset(let items):
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                unordered.add(record: Self.pair(items[index], Self.canonicalScore(items[index + 1])))
            }
            elements += items.count / 2
        }
    }

    /// The digest: SHA-256 over the type, the ordered elements, the element count and, for hashes, sets and
    /// sorted sets, the unordered fold (one hash per key, which the copy computes for every key it writes).
    consuming func finalize() -> [UInt8] {
        ordered.update(length: elements)
        if isUnordered { ordered.update(unordered.hex) }
        return ordered.finalize()
    }

    /// A HyperLogLog is a string whose bytes 8-15 cache its cardinality; PFCOUNT rewrites that cache without
    /// changing the set it describes, so it is left out of the comparison.
    static func withoutHyperLogLogCache(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 16, bytes.starts(with: Array("HYLL".utf8)) else { return bytes }
        var copy = bytes
        for index in 8..<16 { copy[index] = 0 }
        return copy
    }

    private static func pair(_ first: [UInt8], _ second: [UInt8]) -> [UInt8] {
        var record: [UInt8] = []
        record.reserveCapacity(first.count + second.count + 8)
        withUnsafeBytes(of: UInt64(first.count).littleEndian) { record.append(contentsOf: $0) }
        record.append(contentsOf: first)
        record.append(contentsOf: second)
        return record
    }

    /// A score as the 8 bytes of its double, so `0.1` and `0.10000000000000001` compare equal.
    static func canonicalScore(_ text: [UInt8]) -> [UInt8] {
        guard let value = Double(String(decoding: text, as: UTF8.self)) else { return text }
        return withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
    }
}

/// Computes value digests for many keys of one database: small values in one pipeline, big ones in chunks.
struct ValueDigester {
    var reader: ValueReader
    var bigKeyBytes: Int

    /// The digest of each key's value, or `nil` for keys that vanished or whose type cannot be read by value.
    func digests(of keys: [(key: [UInt8], state: KeyState)], client: RedisClient) async throws -> [[UInt8]?] {
        var results = [[UInt8]?](repeating: nil, count: keys.count)
        var small: [Int] = []
        for (index, item) in keys.enumerated() where ValueChunk.wholeReadCommand(key: item.key, type: item.state.type) != nil {
            if item.state.size > bigKeyBytes {
                var digest = ValueDigest(type: item.state.type)
                try await reader.read(item.key, type: item.state.type, from: client) { digest.add($0) }
                results[index] = digest.finalize()
            } else {
                small.append(index)
            }
        }
        let replies = try await client.pipeline(small.map {
            KeyedCommand(key: keys[$0].key, ValueChunk.wholeReadCommand(key: keys[$0].key, type: keys[$0].state.type)!)
        })
        for (index, reply) in zip(small, replies) {
            guard reply.errorMessage == nil, let chunk = try ValueChunk(reply: reply, type: keys[index].state.type) else { continue }
            var digest = ValueDigest(type: keys[index].state.type)
            digest.add(chunk)
            results[index] = digest.finalize()
        }
        return results
    }
}

/// The one checksum record of a key, the same in `migrate redis`'s summary and in `migrate verify redis` (source
/// and target side): the source database and the source-side name (a target key is named by what it was copied
/// from, so a `--db-map` prefix does not change the checksum), the type, the value's ``ValueDigest`` (empty for
/// module types, which are compared by presence only), and whether the key expires (not when: a copy made a
/// moment later keeps the same absolute expiry, but a relative one drifts).
enum KeyRecord {
    static func checksum(database: Int, key: [UInt8], type: RedisType, value: [UInt8]?, expires: Bool) -> [UInt8] {
        var record: [UInt8] = []
        record.reserveCapacity(key.count + 64)
        withUnsafeBytes(of: UInt64(database).littleEndian) { record.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(key.count).littleEndian) { record.append(contentsOf: $0) }
        record.append(contentsOf: key)
        record.append(UInt8(type.rawValue.utf8.count))
        record.append(contentsOf: type.rawValue.utf8)
        record.append(contentsOf: value ?? [])
        record.append(expires ? 1 : 0)
        return record
    }
}
