import Foundation
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

/// CI must never skip the integration suites silently.
@Suite struct IntegrationGate {
    @Test func integrationSuitesRunInCI() {
        if Servers.environment["CI"] != nil {
            #expect(Servers.enabled, "CI is set but MIGRATE_IT is not: .ci/run must start the servers and source .run/servers.env")
        }
    }
}

/// Against real servers started by `scripts/servers.sh`. Serialized: the suites share the servers.
@Suite(.serialized, .enabled(if: Servers.enabled, "set MIGRATE_IT=1 and start scripts/servers.sh"))
struct Integration {}

/// Writes one key of every type, with and without expiries, binary and very long names; returns the key count.
@discardableResult
func fillEveryType(_ client: RedisClient, prefix: String = "") async throws -> Int {
    let binaryKey: [UInt8] = Array(prefix.utf8) + [0x00, 0xFF, 0xFE, 0x0A, 0x80]
    let longKey = Array(prefix.utf8) + Array(repeating: UInt8(ascii: "k"), count: 10_000)
    try await client.must("SET", prefix + "string", "plain value")
    try await client.must("SET", prefix + "string:ttl", "expires", "PX", 3_600_000)
    try await client.must("SET", binaryKey, [UInt8](repeating: 0xAB, count: 5) + [0x00, 0xFF])
    try await client.must("SET", longKey, "long name")
    try await client.must("SET", prefix + "unicode:ключ:鍵", "значение 値 🚀")
    try await client.must("RPUSH", prefix + "list", "a", "b", "c", "a")
    try await client.must("PEXPIRE", prefix + "list", 7_200_000)
    try await client.must("HSET", prefix + "hash", "f1", "v1", "f2", "v2", "empty", "")
    try await client.must("SADD", prefix + "set", "x", "y", "z")
    try await client.must("ZADD", prefix + "zset", "0.1", "a", "0.3333333333333333", "b", "-inf", "c", "1e300", "d")
    try await client.must("XADD", prefix + "stream", "1-1", "field", "value")
    try await client.must("XADD", prefix + "stream", "2-0", "f1", "v1", "f2", "v2")
    try await client.must("XGROUP", "CREATE", prefix + "stream", "readers", "1-1", key: Array((prefix + "stream").utf8))
    try await client.must("PFADD", prefix + "hll", "a", "b", "c", "d")
    try await client.must("SET", prefix + "counter", "12345")
    return 12
}

extension Integration {
    @Suite struct Standalone {
        @Test func everyTypeRoundTripsWithExpiries() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let keys = try await fillEveryType(source)

            let report = try await migrate(Servers.deployment(Servers.source), Servers.deployment(Servers.target))
            #expect(report.totals["copied"] == keys)
            #expect(report.totals["restored"] == keys)
            #expect(try await target.keyCount() == keys)

            // Absolute expiry: the same millisecond on both sides.
            let sourceExpiry = try await source.must("PEXPIRETIME", "string:ttl").integer
            #expect(try await target.must("PEXPIRETIME", "string:ttl").integer == sourceExpiry)
            #expect(try await target.must("PTTL", "string").integer == -1)
            #expect(try await target.must("ZSCORE", "zset", "b").string == "0.33333333333333331")
            #expect(try await target.must("PFCOUNT", "hll").integer == 4)
            #expect(try await target.must("XINFO", "GROUPS", "stream").array?.count == 1)

            let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(Servers.target))
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            #expect(verification.totals["matched"] == keys)
            #expect(verification.checksum?.count == keys)
            #expect(verification.checksum == report.checksum)
            await source.close()
            await target.close()
        }

        @Test func structModeCopiesEveryTypeExactly() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let keys = try await fillEveryType(source)
            try await target.must("SET", "string", "stale value that must be replaced")
            var options = RedisCopyOptions()
            options.mode = .struct
            let report = try await migrate(Servers.deployment(Servers.source), Servers.deployment(Servers.target), options: options)
            #expect(report.totals["rebuilt"] == keys)
            let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(Servers.target))
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            await source.close()
            await target.close()
        }

        @Test func bigKeysAreCopiedInChunks() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            for start in stride(from: 0, to: 60_000, by: 1000) {
                var hash: [any RESPArgumentConvertible] = ["big:hash"]
                var zset: [any RESPArgumentConvertible] = ["big:zset"]
                var list: [any RESPArgumentConvertible] = ["big:list"]
                for index in start..<(start + 1000) {
                    hash += ["field:\(index)", "value:\(index)"]
                    zset += [String(Double(index) / 7.0), "member:\(index)"]
                    list.append("item:\(index)")
                }
                _ = try await source.pipeline([
                    KeyedCommand(key: nil, RESPCommand("HSET", arguments: hash)),
                    KeyedCommand(key: nil, RESPCommand("ZADD", arguments: zset)),
                    KeyedCommand(key: nil, RESPCommand("RPUSH", arguments: list)),
                ])
            }
            try await source.must("SET", "big:string", [UInt8](repeating: 0x5A, count: 3 << 20))
            try await source.must("APPEND", "big:string", "tail")
            try await source.must("PEXPIRE", "big:hash", 3_600_000)

            var options = RedisCopyOptions()
            options.bigKeyBytes = 256 << 10
            options.bytesPerChunk = 1 << 20
            let report = try await migrate(Servers.deployment(Servers.source), Servers.deployment(Servers.target), options: options)
            #expect(report.totals["big keys"] == 4)
            #expect(report.totals["rebuilt"] == 4)
            #expect(try await target.must("HLEN", "big:hash").integer == 60_000)
            #expect(try await target.must("ZSCORE", "big:zset", "member:1").string == (try await source.must("ZSCORE", "big:zset", "member:1").string))
            #expect(try await target.must("STRLEN", "big:string").integer == (3 << 20) + 4)
            #expect(try await target.must("PEXPIRETIME", "big:hash").integer == (try await source.must("PEXPIRETIME", "big:hash").integer))

            var verifyOptions = RedisVerifyOptions()
            verifyOptions.bigKeyBytes = 256 << 10
            let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(Servers.target), options: verifyOptions)
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            await source.close()
            await target.close()
        }

        @Test func filtersAndDryRun() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            for index in 0..<50 {
                try await source.must("SET", "user:\(index)", "u")
                try await source.must("SET", "session:\(index)", "s")
                try await source.must("SADD", "user:set:\(index)", "m")
            }
            var dry = RedisCopyOptions()
            dry.dryRun = true
            let dryMigration = RedisMigration(settings: settings(source: Servers.deployment(Servers.source), target: Servers.deployment(Servers.target)),
                                              options: dry, rateLimit: nil, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh)
            let dryReport = try await dryMigration.run()
            #expect(dryReport.outcome == .dryRun)
            #expect(dryReport.totals["copied"] == 150)
            #expect(try await target.keyCount() == 0)

            var options = RedisCopyOptions()
            options.filter = KeyFilter(include: [GlobPattern("user:*")], exclude: [GlobPattern("user:1*")], types: [.string])
            let report = try await migrate(Servers.deployment(Servers.source), Servers.deployment(Servers.target), options: options)
            #expect(report.totals["copied"] == 39)
            #expect(try await target.keyCount() == 39)
            #expect(try await target.must("EXISTS", "user:10").integer == 0)
            await source.close()
            await target.close()
        }
    }

    @Suite struct Fallback {
        /// The copy digests strings from their DUMP payloads: every encoding every server writes decodes to the value.
        @Test(arguments: [Servers.source, Servers.valkey8, Servers.valkey9])
        func stringPayloadsDecodeOnEveryServer(url: String) async throws {
            let client = try await Servers.client(url)
            try await client.flushAll()
            let values: [[UInt8]] = [
                Array("12345".utf8), Array("-7".utf8), Array("-2147483648".utf8), Array("4294967296".utf8), [],
                Array(String(repeating: "x", count: 5000).utf8), Array(String(repeating: "{\"id\":\"chunk-1\",\"content\":\"abc\"}", count: 40).utf8),
                (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }, [0x00, 0xFF, 0x80],
            ]
            for (index, value) in values.enumerated() {
                try await client.must("SET", "s\(index)", value)
                let payload = try #require(try await client.must("DUMP", "s\(index)").bytes)
                #expect(RDBString.value(ofPayload: payload) == value, "value \(index) on \(url): payload starts \(Array(payload.prefix(12)))")
            }
            try await client.must("PFADD", "hll", "a", "b")
            let hll = try #require(try await client.must("DUMP", "hll").bytes)
            #expect(RDBString.value(ofPayload: hll) == (try await client.must("GET", "hll").bytes))
            await client.close()
        }

        @Test func valkey9ToValkey8FallsBackPerKeyAndLosesNothing() async throws {
            let source = try await Servers.client(Servers.valkey9)
            let target = try await Servers.client(Servers.valkey8)
            try await source.flushAll()
            try await target.flushAll()
            let keys = try await fillEveryType(source)
            let report = try await migrate(Servers.deployment(Servers.valkey9), Servers.deployment(Servers.valkey8))
            #expect(report.totals["fallbacks"] == keys, "Valkey 8 must refuse Valkey 9 payloads: \(report.rendered())")
            #expect(report.totals["rebuilt"] == keys)
            #expect(try await target.keyCount() == keys)
            let verification = try await verify(Servers.deployment(Servers.valkey9), Servers.deployment(Servers.valkey8))
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            // Payloads differ between the versions; the checksum over values does not.
            #expect(verification.checksum == report.checksum)
            await source.close()
            await target.close()
        }
    }
}
