import Foundation
import RESP

/// What one pipeline of `TYPE`, expiry and `MEMORY USAGE` says about a key.
struct KeyState: Sendable, Equatable {
    /// The type; `.none` when the key does not exist.
    var type: RedisType
    /// Absolute expiry in Unix milliseconds, or `nil` when the key does not expire.
    var expireAt: Int64?
    /// Approximate bytes the key uses (0 when the server cannot say).
    var size: Int
}

/// A client for one database of one deployment, with the expiry command that deployment understands.
struct DatabaseClient {
    let client: RedisClient
    /// `PEXPIRETIME` (absolute, Redis 7+/Valkey) when the server knows it, else `PTTL`.
    let expiryCommand: String

    /// Connects to `database` of `deployment` and probes for `PEXPIRETIME`.
    static func connect(_ deployment: RedisDeployment, database: Int) async throws -> DatabaseClient {
        let client = try await deployment.connect(database: database)
        let probeKey = Array("migrate:probe".utf8)
        let probe = try await client.send(RESPCommand("PEXPIRETIME", probeKey), key: probeKey)
        return DatabaseClient(client: client, expiryCommand: probe.errorMessage == nil ? "PEXPIRETIME" : "PTTL")
    }

    /// Type, absolute expiry and size of each key, in one pipeline.
    func inspect(_ keys: [[UInt8]]) async throws -> [KeyState] {
        var commands: [KeyedCommand] = []
        commands.reserveCapacity(keys.count * 3)
        for key in keys {
            commands.append(KeyedCommand(key: key, RESPCommand("TYPE", key)))
            commands.append(KeyedCommand(key: key, RESPCommand(expiryCommand, key)))
            commands.append(KeyedCommand(key: key, RESPCommand("MEMORY", "USAGE", key)))
        }
        let replies = try await client.pipeline(commands)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return keys.indices.map { index in
            let expiry = replies[index * 3 + 1].integer ?? -1
            var type = RedisType(typeReply: replies[index * 3].string ?? "none")
            var expireAt: Int64?
            if expiry == -2 {
                type = .none
            } else if expiry >= 0 {
                expireAt = expiryCommand == "PTTL" ? now + expiry : expiry
            }
            return KeyState(type: type, expireAt: expireAt, size: Int(replies[index * 3 + 2].integer ?? 0))
        }
    }
}
