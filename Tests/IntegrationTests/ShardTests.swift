import Foundation
import GraphMigration
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

extension Integration {
    /// `--shard i/N` for keys and graphs: N processes together copy and verify exactly what one would.
    @Suite struct ShardedRuns {
        static let shards = 3

        /// The reports the runs wrote with `--report`.
        static func reports(_ paths: [String]) throws -> [MigrationReport] {
            try paths.map { try JSONDecoder.reports.decode(MigrationReport.self, from: Data(contentsOf: URL(fileURLWithPath: $0))) }
        }

        /// `arguments` once per shard, each with its `--shard` and `--report` file in `directory`.
        static func perShard(_ arguments: [String], directory: String, report name: String) -> (runs: [[String]], reports: [String]) {
            let reports = (0..<shards).map { "\(directory)/\(name)-\($0).json" }
            return ((0..<shards).map { arguments + ["--shard", "\($0)/\(shards)", "--report", reports[$0]] }, reports)
        }

        @Test func keysShardByHashSlotAndTogetherCopyEachKeyOnce() async throws {
            let source = try await Servers.client(Servers.source)
            let sourceDB1 = try await Servers.client(Servers.source, database: 1)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            // Hash-tagged pairs ({user:N}:profile, {user:N}:cart) must land in one shard; database 1 goes under a prefix.
            _ = try await source.pipeline((0..<900).flatMap { index -> [KeyedCommand] in
                [KeyedCommand(key: nil, RESPCommand("SET", "plain:\(index)", "v\(index)")),
                 KeyedCommand(key: nil, RESPCommand("HSET", "{user:\(index)}:profile", "name", "u\(index)")),
                 KeyedCommand(key: nil, RESPCommand("SET", "{user:\(index)}:cart", "c\(index)", "PX", 3_600_000))]
            })
            _ = try await sourceDB1.pipeline((0..<300).map { KeyedCommand(key: nil, RESPCommand("SET", "other:\($0)", "o\($0)")) })
            let total = 2700 + 300

            let directory = checkpointDirectory()
            let endpoints = ["--source", Servers.source, "--target", Servers.target, "--db-map", "1:db1:"]
            let copy = Self.perShard(["redis"] + endpoints + ["--batch", "100", "--checkpoint-dir", directory], directory: directory, report: "copy")
            for result in try await CLI.runTogether(copy.runs) {
                #expect(result.status == 0, "\(result.output)")
            }
            let copied = try Self.reports(copy.reports).map { $0.totals["copied"] }
            #expect(copied.reduce(0, +) == total, "\(copied)")
            #expect(copied.allSatisfy { $0 > total / 4 }, "each shard takes about a third: \(copied)")
            #expect(try await target.keyCount() == total)
            // Every shard keeps its own checkpoint.
            let checkpoints = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("redis-") && $0.hasSuffix(".json") }
            #expect(checkpoints.count == Self.shards)

            // Each shard verifies its part; the parts add up to the source.
            let verify = Self.perShard(["verify", "redis"] + endpoints, directory: directory, report: "verify")
            for result in try await CLI.runTogether(verify.runs) {
                #expect(result.status == 0, "\(result.output)")
            }
            let verified = try Self.reports(verify.reports)
            #expect(verified.map { $0.totals["source"] }.reduce(0, +) == total)
            #expect(verified.map { $0.totals["matched"] }.reduce(0, +) == total)
            #expect(verified.map { $0.totals["target"] }.reduce(0, +) == total)

            // A key only the target has is extra in exactly one shard: by its source-side name (without the
            // db1: prefix) when it maps back to a source database.
            try await target.must("SET", "db1:stray", "x")
            try await target.must("SET", "stray", "y")
            let dirty = Self.perShard(["verify", "redis"] + endpoints, directory: directory, report: "dirty")
            let statuses = try await CLI.runTogether(dirty.runs).map(\.status)
            let extras = try Self.reports(dirty.reports).map { $0.totals["extra in target"] }
            #expect(extras.reduce(0, +) == 2, "\(extras)")
            #expect(statuses.filter { $0 == 3 }.count == extras.filter { $0 > 0 }.count, "\(statuses) \(extras)")
            let strayOwner = (0..<Self.shards).first { KeyFilter(shard: Shard("\($0)/\(Self.shards)")).inShard(Array("stray".utf8)) }
            #expect(strayOwner.map { extras[$0] } == 2, "both strays are named stray on the source side: \(extras)")
            await source.close()
            await sourceDB1.close()
            await target.close()
        }

        @Test func graphShardsTogetherCopyEachRecordOnce() async throws {
            let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 600)
            try await GraphServers.admin("/reset")
            let directory = checkpointDirectory()
            let endpoints = GraphServers.commandLineEndpoints
            let environment = GraphServers.commandLineEnvironment
            let copy = Self.perShard(["graph"] + endpoints + ["--batch", "50", "--checkpoint-dir", directory], directory: directory, report: "copy")
            for result in try await CLI.runTogether(copy.runs, environment: environment) {
                #expect(result.status == 0, "\(result.output)")
            }
            let reports = try Self.reports(copy.reports)
            #expect(reports.map { $0.totals["nodes"] }.reduce(0, +) == nodes)
            #expect(reports.map { $0.totals["relationships"] }.reduce(0, +) == relationships)
            #expect(reports.allSatisfy { $0.totals["dead-lettered"] == 0 && $0.totals["nodes"] > 0 })
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
            #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships)

            let verify = Self.perShard(["verify", "graph"] + endpoints, directory: directory, report: "verify")
            for result in try await CLI.runTogether(verify.runs, environment: environment) {
                #expect(result.status == 0, "\(result.output)")
            }
            let verified = try Self.reports(verify.reports)
            #expect(verified.map { $0.totals["source nodes"] }.reduce(0, +) == nodes)
            #expect(verified.map { $0.totals["source relationships"] }.reduce(0, +) == relationships)
            #expect(verified.map { $0.totals["matched"] }.reduce(0, +) == nodes + relationships)
            let whole = try await CLI.run(["verify", "graph"] + endpoints, environment: environment)
            #expect(whole.status == 0, "\(whole.output)")
        }

        @Test func graphShardsKilledTogetherResumeToAnExactCopy() async throws {
            let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 600)
            try await GraphServers.admin("/reset")
            let directory = checkpointDirectory()
            let endpoints = GraphServers.commandLineEndpoints
            let environment = GraphServers.commandLineEnvironment
            let copy = ["graph"] + endpoints + ["--batch", "30", "--concurrency", "3", "--rate", "120", "--checkpoint-dir", directory]
            let seed = KillMatrix.seed
            print("sharded graph kills: seed=\(seed)")
            var random = SplitMix64(seed: seed)
            // Five rounds: the three shards start together and each is killed at its own random moment, so
            // shards die in the node phase, in the relationship phase, and while waiting for each other's nodes.
            for round in 0..<5 {
                let processes = try (0..<Self.shards).map { index in
                    try CLI.start(copy + ["--shard", "\(index)/\(Self.shards)"] + (round == 0 ? [] : ["--resume"]), environment: environment,
                                  log: "\(directory)/round\(round)-shard\(index)")
                }
                for process in processes {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 50...1500, using: &random)))
                    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                    process.waitUntilExit()
                }
            }
            let partial = try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c")
            #expect(partial < relationships, "the shards finished before the kills")
            for result in try await CLI.runTogether((0..<Self.shards).map { copy + ["--shard", "\($0)/\(Self.shards)", "--resume"] }, environment: environment) {
                #expect(result.status == 0, "\(result.output)")
            }
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
            #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships)
            let verification = try await CLI.run(["verify", "graph"] + endpoints, environment: environment)
            #expect(verification.status == 0, "\(verification.output)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains("dead-letter") }.isEmpty)
        }

        @Test func aGraphShardWaitsForOtherShardsNodesAndResumesWhenTheyCome() async throws {
            let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 300)
            try await GraphServers.admin("/reset")
            let directory = checkpointDirectory()
            func settings(_ index: Int, wait: Duration = .seconds(600)) throws -> GraphRunSettings {
                var settings = GraphServers.settings(target: .neptune(GraphServers.neptune()), mapping: try GraphServers.lightragMapping(), batch: 50)
                settings.shard = Shard("\(index)/3")
                settings.endpointWait = wait
                return settings
            }
            // Alone, shard 0 writes its nodes, then its relationships find endpoints of shards 1 and 2 missing: it
            // waits, gives up, and stops with its checkpoint instead of dead-lettering them.
            let alone = try await GraphMigration(settings: settings(0, wait: .seconds(2)), checkpointDirectory: directory, resumePolicy: .fresh).run()
            #expect(alone.outcome == .failed)
            #expect(alone.problems.first?.contains("--resume") == true, "\(alone.problems)")
            #expect(alone.totals["dead-lettered"] == 0)
            #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") < relationships)

            // Shards 1 and 2 together: each waits for the other's nodes, then both finish.
            let (one, two) = (try settings(1), try settings(2))
            async let first = GraphMigration(settings: one, checkpointDirectory: directory, resumePolicy: .fresh).run()
            async let second = GraphMigration(settings: two, checkpointDirectory: directory, resumePolicy: .fresh).run()
            let together = try await [first, second]
            #expect(together.allSatisfy { $0.outcome == .succeeded }, "\(together.map { $0.rendered() })")

            let resumed = try await GraphMigration(settings: settings(0), checkpointDirectory: directory, resumePolicy: .resume).run()
            #expect(resumed.outcome == .succeeded, "\(resumed.rendered())")
            #expect(resumed.resumed)
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
            #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships)
            let verification = try await GraphVerification(settings: GraphServers.settings(target: .neptune(GraphServers.neptune()),
                                                                                          mapping: try GraphServers.lightragMapping())).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
        }
    }
}
