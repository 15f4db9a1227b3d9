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
    
        /// The big key's acknowledged chunks in `directory`'s staging log (0 when none is in flight).
        static func acknowledgedChunks(_ directory: String) -> Int {
            guard let file = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.first(where: { $0.hasSuffix("-staging.log") }),
                  let data = FileManager.default.contents(atPath: "\(directory)/\(file)"),
                  let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return 0 }
            return entries.compactMap { $0["sourceChunks"] as? Int }.max() ?? 0
        }

        /// kill -9 in the middle of a big key: the staging key holds the acknowledged chunks and the real name
        /// nothing; --resume continues from the last acknowledged chunk (fewer chunks sent than the key has), the
        /// report says so, and the copy verifies.
        @Test func killedMidBigKeyResumesFromItsChunk() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            try await Self.fillBigKeys(source, fields: 20_000, members: 0)
            // A slow link (64 KiB every 20 ms), so the copy of the 20 MB hash takes seconds.
            let proxy = try await FaultProxy.start(target: "127.0.0.1:\(Servers.endpoint(Servers.target).port)", options: ["--stall-ms", "20"])
            defer { proxy.stop() }
            let via = "redis://127.0.0.1:\(proxy.port)"
            let directory = checkpointDirectory()
            let arguments = ["redis", "--source", Servers.source, "--target", via, "--checkpoint-dir", directory, "--big-key-bytes", "1048576"]
            let process = try CLI.start(arguments, log: "\(directory)/first")
            var acknowledged = 0
            for _ in 0..<600 where process.isRunning {
                acknowledged = Self.acknowledgedChunks(directory)
                if acknowledged >= 3 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            acknowledged = Self.acknowledgedChunks(directory)
            try #require(acknowledged >= 3, "the run was not killed mid key")
            #expect(acknowledged < 20, "the key was already complete")
            #expect(try await target.send(RESPCommand("EXISTS", "big:hash")).integer == 0, "a partial value is under the real name")
            let staging = StagingKey.name(for: Array("big:hash".utf8))
            #expect(try await target.send(RESPCommand("HLEN", staging), key: staging).integer ?? 0 >= Int64(acknowledged * 1000) - 1000)

            let resumed = try await CLI.run(arguments + ["--resume", "--json"])
            #expect(resumed.status == 0, "\(resumed.output)")
            #expect(resumed.stdout.contains("continued from source chunk \(acknowledged)"), "\(resumed.stdout)")
            let report = try #require(resumed.stdout.split(separator: "\n").last { $0.contains("\"event\":\"report\"") })
            #expect(report.contains("\"big-key chunks acknowledged before\":\(acknowledged)"), "\(report)")
            let resent = Int(report.firstMatch(of: /"big-key chunks":(\d+)/)?.1 ?? "") ?? 0
            #expect(resent > 0 && resent <= 20 - acknowledged + 1, "the key was restarted: \(resent) chunks sent after \(acknowledged) acknowledged")
            #expect(try await target.send(RESPCommand("HLEN", "big:hash")).integer == 20_000)
            #expect(try await target.send(RESPCommand("EXISTS", staging), key: staging).integer == 0)
            #expect(Self.acknowledgedChunks(directory) == 0)
            let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(Servers.target))
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            await source.close()
            await target.close()
        }

        /// A staging key an earlier run left for a key no longer copied is removed and listed in the report.
        @Test func leftoverStagingKeyIsRemovedAndListed() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            try await Self.fillBigKeys(source, fields: 3_000, members: 0)
            let directory = checkpointDirectory()
            let arguments = ["redis", "--source", Servers.source, "--target", Servers.target, "--checkpoint-dir", directory, "--big-key-bytes", "1048576"]
            let first = try await CLI.run(arguments)
            #expect(first.status == 0, "\(first.output)")
            // As a crash leaves it: an unfinished checkpoint, a staging key and its log entry for a key since deleted.
            _ = try Integration.SourceIdentity.markUnfinished(directory)
            let checkpoint = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasPrefix("redis-") && $0.hasSuffix(".json") })
            let staging = StagingKey.name(for: Array("gone".utf8))
            _ = try await target.send(RESPCommand("HSET", staging, "f", "v"), key: staging)
            let entry = "[{\"database\":0,\"keyHex\":\"676f6e65\",\"key\":\"gone\",\"stagingHex\":\"\(staging.hexString)\",\"type\":\"hash\",\"sourceChunks\":1,\"length\":1,\"bytes\":2,\"pieces\":1}]"
            try Data(entry.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(checkpoint.dropLast(5))-staging.log"))
            let resumed = try await CLI.run(arguments + ["--resume"])
            #expect(resumed.status == 0, "\(resumed.output)")
            #expect(resumed.stdout.contains("removed staging key \"{gone}migrate-staging\" (db 0) that an earlier run left for key gone"), "\(resumed.stdout)")
            #expect(try await target.send(RESPCommand("EXISTS", staging), key: staging).integer == 0)
            await source.close()
            await target.close()
        }
    }
}
