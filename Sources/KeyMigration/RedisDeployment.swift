import MigrationCore
import RESP
import Transport

/// One side of a migration: where the seed node is, how to authenticate, and whether it is a cluster.
public struct RedisDeployment: Sendable {
    /// The seed node's connection settings (database 0; partitions select their own).
    public var connection: RedisConnectionConfiguration
    /// Standalone, cluster, or ask the server.
    public var mode: RedisTopologyMode
    /// The deployment as it may be shown: the URI without its password.
    public var displayName: String

    /// Creates a deployment description.
    public init(connection: RedisConnectionConfiguration, mode: RedisTopologyMode, displayName: String) {
        self.connection = connection
        self.mode = mode
        self.displayName = displayName
    }

    /// Connects a client for `database`.
    func connect(database: Int = 0) async throws(RedisError) -> RedisClient {
        var configuration = connection
        configuration.database = database
        return try await RedisClient.connect(configuration, mode: mode)
    }

    /// Connects a client for database 0, runs `body` with it, and closes it however `body` ends.
    func withClient<T>(_ body: (RedisClient) async throws -> T) async throws -> T {
        let client = try await connect()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

/// A partition of a Redis source: one primary and one database, scanned with SCAN.
struct KeyPartition: Sendable, Hashable {
    var node: Endpoint
    var database: Int

    var name: String { "\(node)/db\(database)" }
}

/// The position a partition's last batch ends at (SCAN cursors are never this).
let endOfPartition = "end"

/// Reads one partition's key names with SCAN, filtered by name.
struct KeyScanReader: BatchReader {
    let connection: RedisConnection
    var cursor: String
    let count: Int
    let filter: KeyFilter

    mutating func next() async throws -> ReadBatch<[UInt8]> {
        var keys: [[UInt8]] = []
        repeat {
            var arguments: [any RESPArgumentConvertible] = [cursor]
            if let pattern = filter.serverSidePattern {
                arguments += ["MATCH", pattern.pattern]
            }
            arguments += ["COUNT", count]
            let command = RESPCommand("SCAN", arguments: arguments)
            let reply = try await connection.request(command)
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let names = parts[1].array else {
                throw RedisError.unexpectedReply(connection.endpoint, command: "SCAN", reply: "\(reply)")
            }
            cursor = next
            for name in names {
                if let key = name.bytes, filter.admits(key) { keys.append(key) }
            }
        } while keys.count < count && cursor != "0"
        let finished = cursor == "0"
        return ReadBatch(items: keys, position: finished ? endOfPartition : cursor, isLast: finished)
    }
}
