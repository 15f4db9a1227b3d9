import Bolt
import Foundation
import GraphMigration
import JSON
import MigrationCore
import Postgres
import Qdrant
import Testing
@testable import KeyMigration
@testable import VectorMigration
@testable import RESP

/// A reproducible random source: SplitMix64, seeded from `MIGRATE_KILL_SEED` or at random (and printed).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `kill -9` at random moments of a CLI run, then `--resume`, in a chain; the kill points are printed as
/// `kill-matrix …` lines that `scripts/kill-matrix.sh` turns into a table.
struct KillMatrix {
    /// When one run of the chain is killed.
    enum Moment: String {
        /// 0–150 ms after start: while connecting and planning, before any checkpoint of this run.
        case early
        /// As soon as the checkpoint file changes: right after a checkpoint write.
        case afterCheckpoint = "after-checkpoint"
        /// 150–1,200 ms after start: anywhere in the middle of batches.
        case random
    }

    /// One kill of the chain.
    struct Point {
        var run: Int
        var moment: Moment
        var milliseconds: Int
        /// The checkpoint's progress counter after the kill.
        var progress: Int
    }

    let store: String
    let arguments: [String]
    let environment: [String: String]
    let directory: String
    /// The checkpoint counter that measures progress (`copied`, `written`, `nodes` + `relationships`).
    let progressCounters: [String]
    let kills = 20

    /// Runs `kills` runs, each killed at a moment drawn from `seed` (each kind of moment at least six times), and
    /// returns the kill points; every run after the first passes `--resume`.
    func run(seed: UInt64) async throws -> [Point] {
        var random = SplitMix64(seed: seed)
        var moments = Array(repeating: Moment.early, count: 6) + Array(repeating: .afterCheckpoint, count: 7)
            + Array(repeating: .random, count: kills - 13)
        moments.shuffle(using: &random)
        print("kill-matrix \(store) seed=\(seed)")
        var points: [Point] = []
        for (index, moment) in moments.enumerated() {
            let before = checkpointData()
            let process = try CLI.start(index == 0 ? arguments : arguments + ["--resume"], environment: environment,
                                        log: "\(directory)/run\(index + 1)")
            let started = ContinuousClock.now
            switch moment {
            case .early:
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...150, using: &random)))
            case .random:
                try await Task.sleep(for: .milliseconds(Int.random(in: 150...1200, using: &random)))
            case .afterCheckpoint:
                let deadline = started + .seconds(5)
                while process.isRunning, ContinuousClock.now < deadline, checkpointData() == before {
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
            let running = process.isRunning
            if running { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let elapsed = ContinuousClock.now - started
            #expect(running, "\(store) run \(index + 1) finished before its kill: use more data or a lower --rate")
            guard running else { break }
            let point = Point(run: index + 1, moment: moment, milliseconds: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000),
                              progress: progress())
            print("kill-matrix \(store) kill=\(point.run) moment=\(point.moment.rawValue) after-ms=\(point.milliseconds) checkpoint-progress=\(point.progress)")
            points.append(point)
        }
        return points
    }

    /// Resumes the chain to its end and returns the final report.
    func finish() async throws -> MigrationReport? {
        let reportPath = directory + "/final-report.json"
        let result = try await CLI.run(arguments + ["--resume", "--report", reportPath], environment: environment)
        #expect(result.status == 0, "\(store): the final --resume failed: \(result.output)")
        guard let data = FileManager.default.contents(atPath: reportPath) else { return nil }
        return try JSONDecoder.reports.decode(MigrationReport.self, from: data)
    }

    /// Prints the summary line the script reads.
    func summarize(_ points: [Point], source: Int, target: Int, missing: Int, extra: Int, changed: Int, verifyStatus: Int32, seconds: Double) {
        let moments = Dictionary(grouping: points, by: \.moment).mapValues(\.count)
        print("kill-matrix \(store) summary kills=\(points.count) early=\(moments[.early] ?? 0) after-checkpoint=\(moments[.afterCheckpoint] ?? 0) "
              + "random=\(moments[.random] ?? 0) source=\(source) target=\(target) missing=\(missing) extra=\(extra) changed=\(changed) "
              + "verify-exit=\(verifyStatus) seconds=\(String(format: "%.1f", seconds))")
    }

    private var checkpointPath: String? {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.first { $0.hasSuffix(".json") && !$0.hasPrefix("final-") }.map { directory + "/" + $0 }
    }

    private func checkpointData() -> Data? {
        checkpointPath.flatMap { FileManager.default.contents(atPath: $0) }
    }

    private func progress() -> Int {
        guard let data = checkpointData() else { return 0 }
        // The checkpoint must always be whole: a kill between two writes leaves the old or the new file.
        let checkpoint = try? JSONDecoder.reports.decode(Checkpoint.self, from: data)
        #expect(checkpoint != nil, "\(store): the checkpoint file does not decode after a kill")
        return progressCounters.reduce(0) { $0 + (checkpoint?.tally[$1] ?? 0) }
    }

    /// A seed from `MIGRATE_KILL_SEED`, or a random one.
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["MIGRATE_KILL_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
    }
}

/// Differences found by comparing two stores directly (not through `migrate verify`).
struct DirectDiff {
    var missing = 0
    var extra = 0
    var changed = 0

    /// Compares `expected` with `actual` (id and value, as the target lists them): an id listed twice, or not
    /// expected, is extra; an expected id absent is missing; a value that is not `same` is changed.
    init<Value>(expected: [String: Value], actual: [(String, Value)], same: (Value, Value) -> Bool) {
        var seen = Set<String>()
        for (id, value) in actual {
            guard seen.insert(id).inserted, let wanted = expected[id] else {
                extra += 1
                continue
            }
            if !same(wanted, value) { changed += 1 }
        }
        missing = expected.keys.filter { !seen.contains($0) }.count
    }

    init(expected: [String: String], actual: [(String, String)]) {
        self.init(expected: expected, actual: actual, same: ==)
    }
}

extension Integration {
    /// "kill -9 at random moments (at least 20 points per store), then resume: 0 missing, 0 extra, 0 changed."
    @Suite struct KillMatrixTests {
        @Test func keys() async throws {
            let clock = ContinuousClock.now
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let keyCount = 3000
            _ = try await source.pipeline((0..<keyCount).map { index -> KeyedCommand in
                index % 10 == 0
                    ? KeyedCommand(key: nil, RESPCommand("HSET", "km:h:\(index)", "a", "\(index)", "b", "✓ \(index)"))
                    : index % 3 == 0
                        ? KeyedCommand(key: nil, RESPCommand("SET", "km:s:\(index)", "value \(index)", "PX", 3_600_000))
                        : KeyedCommand(key: nil, RESPCommand("SET", "km:s:\(index)", "value \(index)"))
            })
            let directory = checkpointDirectory()
            let matrix = KillMatrix(
                store: "keys",
                arguments: ["redis", "--source", Servers.source, "--target", Servers.target, "--batch", "50", "--concurrency", "2",
                            "--rate", "300", "--checkpoint-dir", directory],
                environment: [:], directory: directory, progressCounters: ["copied"])
            let points = try await matrix.run(seed: KillMatrix.seed)
            #expect(points.count == matrix.kills)
            let report = try await matrix.finish()
            #expect(report?.resumed == true)

            let verification = try await CLI.run(["verify", "redis", "--source", Servers.source, "--target", Servers.target])
            #expect(verification.status == 0, "\(verification.output)")
            let expected = try await Self.contents(source)
            let actual = try await Self.contents(target)
            let diff = DirectDiff(expected: Dictionary(uniqueKeysWithValues: expected), actual: actual)
            #expect(expected.count == keyCount)
            #expect(actual.count == keyCount)
            #expect(try await target.keyCount() == keyCount)
            #expect((diff.missing, diff.extra, diff.changed) == (0, 0, 0))
            matrix.summarize(points, source: expected.count, target: actual.count, missing: diff.missing, extra: diff.extra,
                             changed: diff.changed, verifyStatus: verification.status, seconds: Self.seconds(since: clock))
            await source.close()
            await target.close()
        }

        @Test func vectorsFromPgvectorToQdrant() async throws {
            let clock = ContinuousClock.now
            let table = "kill_matrix_vectors"
            let rows = 2000
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await connection.execute("""
                DROP TABLE IF EXISTS \(table);
                CREATE TABLE \(table) (id bigint PRIMARY KEY, body text, embedding vector(8));
                INSERT INTO \(table) SELECT i, 'row ' || i || ' ✓ знание',
                    ARRAY(SELECT sin(i * 0.37 + k)::real FROM generate_series(1, 8) AS k)::vector(8)
                    FROM generate_series(1, \(rows)) AS i;
                """)
            let targetStore = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(targetStore)
            let directory = checkpointDirectory()
            let environment = ["MIGRATE_SOURCE_PASSWORD": VectorServers.pgPassword, "MIGRATE_TARGET_API_KEY": VectorServers.apiKey]
            let matrix = KillMatrix(
                store: "vectors",
                arguments: ["vectors", "--source", VectorServers.pgSource, "--target", VectorServers.qdrantTarget, "--table", table,
                            "--batch", "25", "--concurrency", "2", "--rate", "200", "--checkpoint-dir", directory],
                environment: environment, directory: directory, progressCounters: ["written"])
            let points = try await matrix.run(seed: KillMatrix.seed)
            #expect(points.count == matrix.kills)
            let report = try await matrix.finish()
            #expect(report?.resumed == true)

            let verification = try await CLI.run(["verify", "vectors", "--source", VectorServers.pgSource, "--target", VectorServers.qdrantTarget,
                                                  "--table", table], environment: environment)
            #expect(verification.status == 0, "\(verification.output)")

            // Directly: every row as a point with the same id, body and (normalized, as Qdrant stores Cosine) vector.
            var expected: [String: (body: String?, vector: [Double])] = [:]
            let sourceRows = try await connection.query("SELECT id::text, body, embedding::text FROM \(table)")
            for row in sourceRows.rows.indices {
                let values = (sourceRows.text(row, 2) ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                    .split(separator: ",").compactMap { Double($0) }
                expected[sourceRows.text(row, 0) ?? ""] = (sourceRows.text(row, 1), Self.unit(values))
            }
            await connection.close()
            let client = VectorServers.client(targetStore)
            var actual: [(String, (body: String?, vector: [Double]))] = []
            var offset: JSONValue?
            repeat {
                let page = try await client.scroll(table, limit: 500, offset: offset)
                for point in page.points {
                    let vector = point["vector"]?.array?.compactMap(\.double) ?? []
                    actual.append((point["id"].map { UUIDText.canonical($0) } ?? "", (point["payload"]?["body"]?.string, Self.unit(vector))))
                }
                offset = page.next
            } while offset != nil
            let count = try await client.count(table)
            await client.close()
            // float32 storage and Qdrant's normalization move components by ~1e-7: anything beyond 1e-5 is a change.
            let diff = DirectDiff(expected: expected, actual: actual) { ours, theirs in
                ours.body == theirs.body && ours.vector.count == theirs.vector.count
                    && zip(ours.vector, theirs.vector).allSatisfy { abs($0 - $1) < 1e-5 }
            }
            #expect(expected.count == rows)
            #expect(count == rows)
            #expect((diff.missing, diff.extra, diff.changed) == (0, 0, 0))
            matrix.summarize(points, source: expected.count, target: count, missing: diff.missing, extra: diff.extra, changed: diff.changed,
                             verifyStatus: verification.status, seconds: Self.seconds(since: clock))
        }

        @Test func graphFromBoltToNeptune() async throws {
            let clock = ContinuousClock.now
            let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 1000)
            try await GraphServers.admin("/reset")
            let directory = checkpointDirectory()
            let endpoints = GraphServers.commandLineEndpoints
            let environment = GraphServers.commandLineEnvironment
            let matrix = KillMatrix(
                store: "graph",
                arguments: ["graph"] + endpoints + ["--batch", "50", "--concurrency", "2", "--rate", "300", "--checkpoint-dir", directory],
                environment: environment, directory: directory, progressCounters: ["nodes", "relationships"])
            let points = try await matrix.run(seed: KillMatrix.seed)
            #expect(points.count == matrix.kills)
            let report = try await matrix.finish()
            #expect(report?.resumed == true)
            #expect(report?.totals["dead-lettered"] == 0)

            let verification = try await CLI.run(["verify", "graph"] + endpoints + ["--batch", "500"], environment: environment)
            #expect(verification.status == 0, "\(verification.output)")

            // Directly: the fixture's nodes (id, labels, description) and edges (endpoints, type, weight).
            let types = ["person", "organization", "concept"]
            var expected: [String: String] = [:]
            for index in 0..<nodes {
                let type = types[index % types.count]
                let labels = ["base", type] + (index % 10 == 0 ? ["vip"] : [])
                expected[GraphServers.targetID(index)] = "\(labels.sorted())|Entity \(index) – a \(type) in the graph. «Ünïcödé» 🚀"
                for step in [1, 7] where index + step < nodes {
                    expected["\(GraphServers.targetID(index))→\(GraphServers.targetID(index + step))"] = "DIRECTED|\(Double(step) + 0.5)"
                }
            }
            var actual: [(String, String)] = []
            for row in try await GraphServers.query("MATCH (n) RETURN n AS x") {
                guard let node = row["x"] else { continue }
                let labels = (node["~labels"]?.array?.compactMap(\.string) ?? []).sorted()
                actual.append((node["~id"]?.string ?? "", "\(labels)|\(node["~properties"]?["description"]?.string ?? "")"))
            }
            for row in try await GraphServers.query("MATCH ()-[r]->() RETURN r AS x") {
                guard let edge = row["x"] else { continue }
                let key = "\(edge["~start"]?.string ?? "")→\(edge["~end"]?.string ?? "")"
                actual.append((key, "\(edge["~type"]?.string ?? "")|\(edge["~properties"]?["weight"]?.double ?? .nan)"))
            }
            let diff = DirectDiff(expected: expected, actual: actual)
            let targetNodes = try await GraphServers.count("MATCH (n) RETURN count(n) AS c")
            let targetRelationships = try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c")
            #expect(targetNodes == nodes)
            #expect(targetRelationships == relationships)
            #expect((diff.missing, diff.extra, diff.changed) == (0, 0, 0))
            matrix.summarize(points, source: nodes + relationships, target: targetNodes + targetRelationships, missing: diff.missing,
                             extra: diff.extra, changed: diff.changed, verifyStatus: verification.status, seconds: Self.seconds(since: clock))
        }

        /// Every key of a standalone server with its value: strings as they are, hashes as sorted field=value lists,
        /// and whether it expires.
        static func contents(_ client: RedisClient) async throws -> [(String, String)] {
            var keys: [[UInt8]] = []
            var cursor = "0"
            repeat {
                let reply = try await client.send(RESPCommand("SCAN", cursor, "COUNT", 1000))
                cursor = reply.array?.first?.string ?? "0"
                keys += reply.array?.last?.array?.compactMap(\.bytes) ?? []
            } while cursor != "0"
            let replies = try await client.pipeline(keys.flatMap { key in
                [KeyedCommand(key: key, RESPCommand("TYPE", key)), KeyedCommand(key: key, RESPCommand("PTTL", key))]
            })
            var values = try await client.pipeline(zip(keys, stride(from: 0, to: replies.count, by: 2)).map { key, index in
                KeyedCommand(key: key, replies[index].string == "hash" ? RESPCommand("HGETALL", key) : RESPCommand("GET", key))
            })
            values = values.map { value in
                guard let items = value.array else { return value }
                let pairs = stride(from: 0, to: items.count, by: 2).map { "\(items[$0].string ?? "")=\(items[$0 + 1].string ?? "")" }
                return .status(pairs.sorted().joined(separator: ","))
            }
            return keys.indices.map { index in
                let expires = (replies[2 * index + 1].integer ?? -1) > 0
                return (String(decoding: keys[index], as: UTF8.self), "\(values[index].string ?? "?")|expires=\(expires)")
            }
        }

        /// `vector` scaled to length 1, as Qdrant stores Cosine vectors.
        static func unit(_ vector: [Double]) -> [Double] {
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? vector.map { $0 / norm } : vector
        }

        static func seconds(since start: ContinuousClock.Instant) -> Double {
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
    }
}
