import Foundation
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

extension Integration {
    /// Checkpoints know the source, target and selection they belong to; a stale replica is not copied silently.
    @Suite struct SourceIdentity {
        /// Marks every checkpoint in `directory` unfinished, as a crash mid-run leaves it.
        static func markUnfinished(_ directory: String) throws -> [String] {
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("redis-") && $0.hasSuffix(".json") }
            for file in files {
                let path = "\(directory)/\(file)"
                var object = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
                object["finished"] = false
                try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
            }
            return files
        }

        /// `--resume` with a checkpoint of another selection, or of a source that was restarted (a new replication
        /// id at the same address), is refused naming the difference and both ways out; `--fresh` then copies.
        @Test func foreignCheckpointIsRefusedNamingTheDifference() async throws {
            try await ScratchRedis.with(port: 16_911, []) { server in
                let source = try await Servers.client(server.url)
                for index in 0..<50 { _ = try await source.must("SET", "user:\(index)", "v\(index)") }
                let target = try await Servers.client(Servers.target)
                try await target.flushAll()
                let directory = checkpointDirectory()
                let first = try await CLI.run(["redis", "--source", server.url, "--target", Servers.target, "--checkpoint-dir", directory, "--match", "user:*"])
                #expect(first.status == 0, "\(first.output)")
                let checkpoint = try #require(try Self.markUnfinished(directory).first)
                let saved = try #require(try await CheckpointStore(path: "\(directory)/\(checkpoint)").load())
                #expect(saved.identity?["source"] == "redis://127.0.0.1:16911")
                #expect(saved.identity?["source replication id"]?.count == 40, "\(saved.identity ?? [:])")
                try await target.flushAll()

                // Another selection.
                let other = try await CLI.run(["redis", "--source", server.url, "--target", Servers.target, "--checkpoint-dir", directory,
                                               "--match", "order:*", "--resume"])
                #expect(other.status == 2, "\(other.output)")
                #expect(other.stderr.contains("belongs to another migration") && other.stderr.contains("selection: mode dump match order:*"), "\(other.stderr)")
                #expect(other.stderr.contains("match user:*") && other.stderr.contains("in the checkpoint"), "\(other.stderr)")
                #expect(other.stderr.contains("--fresh") && other.stderr.contains("--checkpoint-dir"), "\(other.stderr)")
                #expect(try await target.keyCount() == 0, "a refused resume wrote")

                // The same address, but the server was restarted: a new replication id.
                let before = saved.identity?["source replication id"] ?? ""
                await source.close()
                await server.stop()
                try await ScratchRedis.with(port: 16_911, []) { restarted in
                    let again = try await Servers.client(restarted.url)
                    for index in 0..<50 { _ = try await again.must("SET", "user:\(index)", "v\(index)") }
                    let resumed = try await CLI.run(["redis", "--source", restarted.url, "--target", Servers.target, "--checkpoint-dir", directory,
                                                     "--match", "user:*", "--resume"])
                    #expect(resumed.status == 2, "\(resumed.output)")
                    #expect(resumed.stderr.contains("source replication id: ") && resumed.stderr.contains("\(before) in the checkpoint"), "\(resumed.stderr)")
                    #expect(try await target.keyCount() == 0, "a refused resume wrote")

                    let fresh = try await CLI.run(["redis", "--source", restarted.url, "--target", Servers.target, "--checkpoint-dir", directory,
                                                   "--match", "user:*", "--fresh"])
                    #expect(fresh.status == 0, "\(fresh.output)")
                    #expect(try await target.keyCount() == 50)
                    await again.close()
                }
                await target.close()
            }
        }

        /// A replica whose primary is unreachable (link down) is refused, with the way out; the plan shows its
        /// state; `--allow-stale-replica` copies it anyway.
        @Test func staleReplicaIsRefusedUnlessAllowed() async throws {
            // The primary's port has nothing listening: the link never comes up.
            try await ScratchRedis.with(port: 16_912, ["--replicaof", "127.0.0.1", "16913"]) { replica in
                let target = try await Servers.client(Servers.target)
                try await target.flushAll()
                _ = try await target.must("SET", "sentinel", "1")
                let directory = checkpointDirectory()
                let refused = try await CLI.run(["redis", "--source", replica.url, "--target", Servers.target, "--checkpoint-dir", directory])
                #expect(refused.status == 2, "\(refused.output)")
                #expect(refused.stderr.contains("the source 127.0.0.1:16912 is a replica and its link to its primary is down"), "\(refused.stderr)")
                #expect(refused.stderr.contains("--allow-stale-replica"), "\(refused.stderr)")
                #expect(try await target.keyCount() == 1)
                let verify = try await CLI.run(["verify", "redis", "--source", replica.url, "--target", Servers.target])
                #expect(verify.status == 2 && verify.stderr.contains("is a replica"), "\(verify.output)")

                let plan = await RedisInventory(settings: settings(source: Servers.deployment(replica.url), target: Servers.deployment(Servers.target)),
                                                options: RedisCopyOptions(), sampleSize: 10).take()
                let replication = plan.facts.first { $0.first == "source replication" }?.last ?? ""
                #expect(replication.contains("replica, link down"), "\(plan.facts)")
                #expect(plan.problems.contains { $0.contains("is a replica and its link to its primary is down") }, "\(plan.problems)")

                let allowed = try await CLI.run(["redis", "--source", replica.url, "--target", Servers.target, "--checkpoint-dir", directory,
                                                 "--allow-stale-replica"])
                #expect(allowed.status == 0, "\(allowed.output)")
                await target.close()
            }
        }

        /// A replica in sync passes; one whose primary last talked to it longer ago than --max-replica-lag does not.
        @Test func replicaLagAboveTheThresholdIsRefused() async throws {
            try await ScratchRedis.with(port: 16_914, []) { primary in
                try await ScratchRedis.with(port: 16_915, ["--replicaof", "127.0.0.1", "16914"]) { replica in
                    let client = try await Servers.client(replica.url)
                    for _ in 0..<100 {
                        let info = try await client.send(RESPCommand("INFO", "replication")).string ?? ""
                        if info.contains("master_link_status:up") { break }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    await client.close()
                    let target = try await Servers.client(Servers.target)
                    try await target.flushAll()
                    let directory = checkpointDirectory()
                    let synced = try await CLI.run(["redis", "--source", replica.url, "--target", Servers.target, "--checkpoint-dir", directory])
                    #expect(synced.status == 0, "\(synced.output)")
                    // The primary stops talking (SIGSTOP): after two seconds the replica's last contact is too old.
                    kill(primary.process.processIdentifier, SIGSTOP)
                    defer { kill(primary.process.processIdentifier, SIGCONT) }
                    try await Task.sleep(for: .seconds(3))
                    let lagging = try await CLI.run(["redis", "--source", replica.url, "--target", Servers.target, "--checkpoint-dir", directory,
                                                     "--max-replica-lag", "1", "--fresh"])
                    #expect(lagging.status == 2, "\(lagging.output)")
                    #expect(lagging.stderr.contains("more than --max-replica-lag 1"), "\(lagging.stderr)")
                    kill(primary.process.processIdentifier, SIGCONT)
                    await target.close()
                }
            }
        }
    }
}
