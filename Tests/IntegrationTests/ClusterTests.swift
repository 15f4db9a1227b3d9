import Foundation
import MigrationCore
import Testing
import Transport
@testable import KeyMigration
@testable import RESP

extension Integration {
    @Suite struct Cluster {
        /// Moves `slot` from its owner to another primary, the way `redis-cli --cluster reshard` does.
        /// `finish: false` leaves the slot half-moved (MIGRATING/IMPORTING) so clients see ASK.
        func moveSlot(_ slot: Int, in client: RedisClient, finish: Bool = true, keys: [[UInt8]] = []) async throws -> (from: Endpoint, to: Endpoint) {
            try await client.refreshTopology()
            let from = client.topology.primary(forSlot: slot)!
            let to = client.topology.primaries.first { $0 != from }!
            let fromNode = try await client.openConnection(to: from, database: 0)
            let toNode = try await client.openConnection(to: to, database: 0)
            let fromID = try await fromNode.request(RESPCommand("CLUSTER", "MYID")).string!
            let toID = try await toNode.request(RESPCommand("CLUSTER", "MYID")).string!
            _ = try await toNode.request(RESPCommand("CLUSTER", "SETSLOT", slot, "IMPORTING", fromID))
            _ = try await fromNode.request(RESPCommand("CLUSTER", "SETSLOT", slot, "MIGRATING", toID))
            for key in keys {
                _ = try await fromNode.request(RESPCommand("MIGRATE", to.host, to.port, key, 0, 5000, "REPLACE"))
            }
            if finish {
                while true {
                    let remaining = try await fromNode.request(RESPCommand("CLUSTER", "GETKEYSINSLOT", slot, 1000)).array ?? []
                    if remaining.isEmpty { break }
                    _ = try await fromNode.request(RESPCommand("MIGRATE", arguments: [to.host, to.port, "", 0, 5000, "REPLACE", "KEYS"]
                                                                + remaining.compactMap(\.bytes)))
                }
                for node in [toNode, fromNode] {
                    _ = try await node.request(RESPCommand("CLUSTER", "SETSLOT", slot, "NODE", toID))
                }
            }
            await fromNode.close()
            await toNode.close()
            return (from, to)
        }

        @Test func followsAskAndMovedWhileASlotMoves() async throws {
            let client = try await Servers.client(Servers.cluster)
            try await client.flushAll()
            let key = Array("{slot-test}:a".utf8)
            let slot = HashSlot.slot(for: key)
            try await client.must("SET", key, "before")
            // Half-moved slot, the key already on the importing node: the old owner answers ASK.
            let (_, to) = try await moveSlot(slot, in: client, finish: false, keys: [key])
            let stale = try await Servers.client(Servers.cluster)
            try await stale.must("SET", key, "via ask")
            #expect(try await stale.must("GET", key).string == "via ask")
            // Finish the move: a client with the old map gets MOVED and follows it.
            let (from, _) = try await moveSlot(slot, in: client, finish: true)
            #expect(from != to)
            try await stale.must("SET", key, "via moved")
            let owner = try await RedisConnection.connect(.init(endpoint: to))
            #expect(try await owner.request(RESPCommand("GET", key)).string == "via moved")
            #expect(stale.topology.primary(forSlot: slot) == to)
            await owner.close()
            await stale.close()
            await client.close()
        }

        @Test func slotMovedMidRunLosesNothing() async throws {
            let source = try await Servers.client(Servers.source)
            let cluster = try await Servers.client(Servers.cluster)
            try await source.flushAll()
            try await cluster.flushAll()
            for start in stride(from: 0, to: 20_000, by: 1000) {
                _ = try await source.pipeline((start..<(start + 1000)).map {
                    KeyedCommand(key: nil, RESPCommand("SET", "key:\($0)", "value:\($0)"))
                })
            }
            let migration = RedisMigration(
                settings: settings(source: Servers.deployment(Servers.source), target: Servers.deployment(Servers.cluster), batch: 200),
                options: RedisCopyOptions(), rateLimit: 8000, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh)
            let run = Task { try await migration.run() }
            // Move three busy slots while the copy runs.
            try await Task.sleep(for: .milliseconds(600))
            for index in [1, 7_000, 13_000] {
                _ = try await moveSlot(HashSlot.slot(for: Array("key:\(index)".utf8)), in: cluster)
            }
            let report = try await run.value
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(try await cluster.keyCount() == 20_000)
            let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(Servers.cluster))
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            await source.close()
            await cluster.close()
        }

        @Test func clusterSourceIsScannedPerPrimary() async throws {
            let cluster = try await Servers.client(Servers.cluster)
            let target = try await Servers.client(Servers.target)
            try await cluster.flushAll()
            try await target.flushAll()
            _ = try await cluster.pipeline((0..<3000).map { KeyedCommand(key: Array("k\($0)".utf8), RESPCommand("SET", "k\($0)", "\($0)")) })
            let keys = try await fillEveryType(cluster, prefix: "{t}")
            let report = try await migrate(Servers.deployment(Servers.cluster), Servers.deployment(Servers.target))
            #expect(report.sections.first { $0.title == "partitions" }?.rows.count == 3)
            #expect(report.totals["copied"] == 3000 + keys)
            let verification = try await verify(Servers.deployment(Servers.cluster), Servers.deployment(Servers.target))
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            await cluster.close()
            await target.close()
        }

        @Test func databasesFoldIntoPrefixesOnAClusterTarget() async throws {
            let source = try await Servers.client(Servers.source)
            let source1 = try await Servers.client(Servers.source, database: 1)
            let cluster = try await Servers.client(Servers.cluster)
            try await source.flushAll()
            try await cluster.flushAll()
            for index in 0..<100 {
                try await source.must("SET", "k\(index)", "db0")
                try await source1.must("SET", "k\(index)", "db1")
            }
            // Without a mapping, database 1 has nowhere to go: refused before anything is written.
            await #expect(throws: DatabaseMapping.InvalidMapping.self) {
                try await migrate(Servers.deployment(Servers.source), Servers.deployment(Servers.cluster))
            }
            #expect(try await cluster.keyCount() == 0)

            var options = RedisCopyOptions()
            options.mapping = try DatabaseMapping(arguments: ["1:db1:"])
            let report = try await migrate(Servers.deployment(Servers.source), Servers.deployment(Servers.cluster), options: options)
            #expect(report.totals["copied"] == 200)
            #expect(try await cluster.must("GET", "db1:k5").string == "db1")
            #expect(try await cluster.must("GET", "k5").string == "db0")
            var verifyOptions = RedisVerifyOptions()
            verifyOptions.mapping = options.mapping
            let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(Servers.cluster), options: verifyOptions)
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")

            // A db-0 key that would land among database 1's keys is found before anything is written, and named.
            try await source.must("SET", "db1:k5", "shadow")
            try await source.must("SET", "db1:", "shadow of nothing yet")
            try await cluster.flushAll()
            let shadowing = RedisMigration(settings: settings(source: Servers.deployment(Servers.source), target: Servers.deployment(Servers.cluster)),
                                           options: options, rateLimit: nil, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh)
            let error = await #expect(throws: DatabaseMapping.InvalidMapping.self) { try await shadowing.run() }
            let message = error?.description ?? ""
            #expect(message.contains("source database 0 has keys that the mapping puts among source database 1's keys"), "\(message)")
            #expect(message.contains("\"db1:k5\" would be \"db1:k5\", the name of database 1's \"k5\""), "\(message)")
            #expect(message.contains("\"db1:\" would be"), "\(message)")
            #expect(message.contains("--db-map 0:db0:"), "\(message)")
            #expect(try await cluster.keyCount() == 0)
            // Leaving them out (the filter the run will use) clears the way.
            options.filter = KeyFilter(exclude: [GlobPattern("db1:*")])
            let excluded = try await migrate(Servers.deployment(Servers.source), Servers.deployment(Servers.cluster), options: options)
            #expect(excluded.totals["copied"] == 200)
            await source.close()
            await source1.close()
            await cluster.close()
        }
    }
}

extension Integration.Cluster {
    @Test func replicaPromotedMidRunLosesNothing() async throws {
        let url = Servers.value("REDIS_CLUSTER_REPLICAS_URL")
        let source = try await Servers.client(Servers.source)
        let cluster = try await Servers.client(url)
        try await source.flushAll()
        try await cluster.flushAll()
        for start in stride(from: 0, to: 20_000, by: 1000) {
            _ = try await source.pipeline((start..<(start + 1000)).map { KeyedCommand(key: nil, RESPCommand("SET", "f:\($0)", "\($0)")) })
        }
        // A replica of the primary that owns slot 0.
        let shards = try await cluster.send(RESPCommand("CLUSTER", "SHARDS"))
        let replica = try #require(shards.array?.lazy.compactMap { shard -> Endpoint? in
            let fields = Self.fields(shard)
            let slots = fields["slots"]?.array?.compactMap(\.integer) ?? []
            guard slots.first == 0 else { return nil }
            return fields["nodes"]?.array?.lazy.map(Self.fields).first { $0["role"]?.string == "replica" }
                .flatMap { node in node["port"]?.integer.map { Endpoint(host: "127.0.0.1", port: Int($0)) } }
        }.first)

        let migration = RedisMigration(
            settings: settings(source: Servers.deployment(Servers.source), target: Servers.deployment(url), batch: 200),
            options: RedisCopyOptions(), rateLimit: 8000, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh)
        let run = Task { try await migration.run() }
        try await Task.sleep(for: .milliseconds(700))
        let promoted = try await RedisConnection.connect(.init(endpoint: replica))
        _ = try await promoted.request(RESPCommand("CLUSTER", "FAILOVER"))
        let report = try await run.value
        #expect(report.outcome == .succeeded, "\(report.rendered())")
        let role = try await promoted.request(RESPCommand("ROLE")).array?.first?.string
        #expect(role == "master", "the replica was not promoted during the run")
        await promoted.close()
        #expect(try await cluster.keyCount() == 20_000)
        let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(url))
        #expect(verification.outcome == .succeeded, "\(verification.rendered())")
        await source.close()
        await cluster.close()
    }

    static func fields(_ value: RESPValue) -> [String: RESPValue] {
        guard let items = value.array else { return [:] }
        return Dictionary(stride(from: 0, to: items.count - 1, by: 2).compactMap { index in
            items[index].string.map { ($0, items[index + 1]) }
        }, uniquingKeysWith: { first, _ in first })
    }
}
