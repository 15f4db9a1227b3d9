import MigrationCore
import RESP

/// The target ran out of memory (`-OOM`) while a key was written: the run stops, since every further key would
/// be refused the same way, and says how full the target is and what to do.
public struct TargetOutOfMemoryError: Error, Sendable, CustomStringConvertible {
    /// The key being written, as printable text.
    public var key: String
    /// Its source database.
    public var database: Int
    /// The target's `used_memory` and `maxmemory` when it refused, if it told them.
    public var usedMemory: Int?
    public var maxMemory: Int?
    /// The target's `maxmemory_policy`.
    public var policy: String?
    /// The server's message.
    public var serverMessage: String

    public var description: String {
        let memory = usedMemory.map { used in
            "used_memory \(Format.bytes(used)) of maxmemory \(maxMemory.map(Format.bytes) ?? "?")\(policy.map { ", maxmemory-policy \($0)" } ?? "")"
        } ?? "memory use unknown"
        return "the target ran out of memory writing key \(key) (db \(database)): \(serverMessage) (\(memory)). The key is not on the target under its name (a big key is written under a staging name and renamed only when whole). Give the target more memory (a larger node type, more shards, or a higher maxmemory), an eviction policy that fits, or copy fewer keys (--match/--exclude); then continue with --resume."
    }

    /// Reads the target's memory figures (best effort: a target too full to answer INFO still stops the run).
    static func make(key: [UInt8], database: Int, serverMessage: String, target: RedisClient) async -> TargetOutOfMemoryError {
        let info = (try? await target.send(RESPCommand("INFO", "memory"), key: key))?.string ?? ""
        return TargetOutOfMemoryError(key: key.printableKey, database: database, usedMemory: RedisInventory.infoField("used_memory", in: info),
                                      maxMemory: RedisInventory.infoField("maxmemory", in: info),
                                      policy: RedisInventory.infoText("maxmemory_policy", in: info), serverMessage: serverMessage)
    }
}

/// The name a big key is written under until it is whole: in the same hash slot as the key (a cluster RENAMEs
/// only within a slot), derived from the key alone so that a later run finds what a crashed one left.
enum StagingKey {
    /// The marker every staging name contains.
    static let marker = Array("migrate-staging".utf8)

    /// `{tag}migrate-staging:key` for a key with a hash tag; `{key}migrate-staging` for one without a tag and
    /// without `}`; otherwise `key:migrate-staging:N` with the first N that hashes to the key's slot.
    static func name(for key: [UInt8]) -> [UInt8] {
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        if let start = key.firstIndex(of: open), let end = key[(start + 1)...].firstIndex(of: close), end > start + 1 {
            return [open] + key[(start + 1)..<end] + [close] + marker + Array(":".utf8) + key
        }
        if !key.isEmpty && !key.contains(close) {
            return [open] + key + [close] + marker
        }
        let slot = HashSlot.slot(for: key)
        var suffix = 0
        while true {
            let candidate = key + Array(":".utf8) + marker + Array(":\(suffix)".utf8)
            if HashSlot.slot(for: candidate) == slot { return candidate }
            suffix += 1
        }
    }
}
