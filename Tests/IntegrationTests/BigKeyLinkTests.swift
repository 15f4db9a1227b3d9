import Foundation
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

extension Integration {
    /// Big keys over a link that resets every 100–700 KB, and into a target that runs out of memory.
    @Suite struct BigKeysOnABadLink {
        /// Fills `client` with a hash of `fields` 1 KB values and a sorted set of `members` 100-byte members.
        static func fillBigKeys(_ client: RedisClient, fields: Int, members: Int) async throws {
            let value = String(repeating: "h", count: 1000)
            for start in stride(from: 0, to: fields, by: 500) {
                let pairs = (start..<min(start + 500, fields)).flatMap { [Array("field-\($0)".utf8), Array(value.utf8)] }
                _ = try await client.send(RESPCommand(arguments: [Array("HSET".utf8), Array("big:hash".utf8)] + pairs), key: Array("big:hash".utf8))
            }
            let padding = String(repeating: "z", count: 90)
            for start in stride(from: 0, to: members, by: 1000) {
                var arguments: [[UInt8]] = [Array("ZADD".utf8), Array("big:zset".utf8)]
                for index in start..<min(start + 1000, members) {
                    arguments.append(Array(String(Double(index) / 7).utf8))
                    arguments.append(Array("member-\(index)-\(padding)".utf8))
                }
                _ = try await client.send(RESPCommand(arguments: arguments), key: Array("big:zset".utf8))
            }
        }

        /// The test sizes: a 20 MB hash and a ~20 MB sorted set (the 200 MB takes minutes per run on the
        /// two shared CPUs of CI; the chunk path is the same at any size).
        @Test func bigHashZsetAndSmallKeysCrossAResettingLinkExactly() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            try await Self.fillBigKeys(source, fields: 20_000, members: 150_000)
            for start in stride(from: 0, to: 20_000, by: 1000) {
                _ = try await source.pipeline((start..<(start + 1000)).map { KeyedCommand(key: nil, RESPCommand("SET", "small:\($0)", "value-\($0)")) })
            }
            let proxy = try await FaultProxy.start(target: "127.0.0.1:\(Servers.endpoint(Servers.target).port)",
                                                   options: ["--reset-between", "100000", "700000", "--seed", "11"])
            defer { proxy.stop() }
            var options = RedisCopyOptions()
            options.bigKeyBytes = 1 << 20
            let report = try await migrate(Servers.deployment(Servers.source), Servers.deployment("redis://127.0.0.1:\(proxy.port)"), options: options, batch: 200)
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(report.totals["copied"] == 20_002)
            #expect(report.totals["big keys"] == 2)
            #expect(report.totals["big-key chunks split"] > 0, "no chunk was split: \(report.rendered())")
            #expect(try await target.keyCount() == 20_002, "a staging key was left behind")
            #expect(try await target.send(RESPCommand("HLEN", "big:hash")).integer == 20_000)
            #expect(try await target.send(RESPCommand("ZCARD", "big:zset")).integer == 150_000)
            let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(Servers.target))
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            await source.close()
            await target.close()
        }

        /// The target's maxmemory is reached in the middle of a big key: the run stops non-zero naming the key and
        /// the target's memory, the key is absent (no partial value, no staging key); with more memory, --resume
        /// completes and verifies.
        @Test func fullTargetStopsWithTheKeyAbsentAndResumeCompletes() async throws {
            let source = try await Servers.client(Servers.source)
            try await source.flushAll()
            try await Self.fillBigKeys(source, fields: 30_000, members: 0)
            for index in 0..<100 { _ = try await source.must("SET", "small:\(index)", "value-\(index)") }
            try await ScratchRedis.with(port: 16_921, ["--maxmemory", "20mb", "--maxmemory-policy", "noeviction"]) { server in
                let target = try await Servers.client(server.url)
                let directory = checkpointDirectory()
                let reportPath = "\(directory)/report.json"
                let full = try await CLI.run(["redis", "--source", Servers.source, "--target", server.url, "--checkpoint-dir", directory,
                                              "--big-key-bytes", "1048576", "--report", reportPath])
                #expect(full.status == 2, "\(full.output)")
                #expect(full.output.contains("the target ran out of memory writing key \"big:hash\"") && full.output.contains("of maxmemory 21.0 MB"), "\(full.output)")
                let report = String(decoding: FileManager.default.contents(atPath: reportPath) ?? Data(), as: UTF8.self)
                #expect(report.contains("big:hash") && report.contains("used_memory"), "\(report)")
                #expect(try await target.send(RESPCommand("EXISTS", "big:hash")).integer == 0, "a partial big key is on the target")
                #expect(try await target.send(RESPCommand("KEYS", "*migrate-staging*")).array?.isEmpty == true, "a staging key was left")

                _ = try await target.must("CONFIG", "SET", "maxmemory", "0")
                let resumed = try await CLI.run(["redis", "--source", Servers.source, "--target", server.url, "--checkpoint-dir", directory,
                                                 "--big-key-bytes", "1048576", "--resume"])
                #expect(resumed.status == 0, "\(resumed.output)")
                #expect(try await target.send(RESPCommand("HLEN", "big:hash")).integer == 30_000)
                let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(server.url))
                #expect(verification.outcome == .succeeded, "\(verification.rendered())")
                await target.close()
            }
            await source.close()
        }
    }
}
