import Foundation
import MigrationCore
import Testing
import Transport
@testable import KeyMigration
@testable import RESP

/// A `migrate redis --live --json` process whose output lines are collected as they arrive.
final class LiveProcess: @unchecked Sendable {
    let process: Process
    private let lock = NSLock()
    private var stdoutText = ""
    private var stderrText = ""
    // Blocking reads on dispatch threads: blocked cooperative threads could starve the test itself.
    private let readers = DispatchGroup()

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        let (process, out, err) = try CLI.start(arguments, environment: environment)
        self.process = process
        for (pipe, isStdout) in [(out, true), (err, false)] {
            DispatchQueue.global().async(group: readers) { [self] in
                while case let data = pipe.fileHandleForReading.availableData, !data.isEmpty {
                    let text = String(decoding: data, as: UTF8.self)
                    lock.withLock {
                        if isStdout { stdoutText += text } else { stderrText += text }
                    }
                }
            }
        }
    }

    var stdout: String { lock.withLock { stdoutText } }
    var stderr: String { lock.withLock { stderrText } }

    /// Every `live` event so far.
    var statuses: [LiveStatus] {
        stdout.split(separator: "\n").filter { $0.hasPrefix("{\"event\":\"live\"") }.compactMap {
            try? JSONDecoder.reports.decode(LiveStatus.self, from: Data($0.utf8))
        }
    }

    /// Waits until a `live` event satisfies `condition`; fails the test after `timeout`.
    @discardableResult
    func waitForStatus(timeout: Duration = .seconds(60), _ what: String, _ condition: (LiveStatus) -> Bool) async throws -> LiveStatus? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && process.isRunning {
            if let status = statuses.last, condition(status) { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("no live event showed \(what); last: \(String(describing: statuses.last))\n\(stderr)")
        return nil
    }

    /// Sends SIGINT, waits for the exit, and returns the exit status and the final report.
    func interrupt() async -> (status: Int32, report: MigrationReport?) {
        kill(process.processIdentifier, SIGINT)
        await withCheckedContinuation { continuation in
            readers.notify(queue: .global()) { continuation.resume() }
        }
        process.waitUntilExit()
        let line = stdout.split(separator: "\n").last { $0.hasPrefix("{\"event\":\"report\"") }
        return (process.terminationStatus, line.flatMap { try? JSONDecoder.reports.decode(MigrationReport.self, from: Data($0.utf8)) })
    }
}

extension Integration {
    /// `migrate redis --live`: follows writes until SIGINT, repairs lost notifications, refuses a source that
    /// does not publish them.
    @Suite struct LiveSyncTests {
        /// Sets `notify-keyspace-events` on every primary and returns the earlier values, to put back.
        func setNotifications(_ value: String, on client: RedisClient) async throws -> [String] {
            var previous: [String] = []
            for endpoint in client.primaries {
                let connection = try await client.openConnection(to: endpoint, database: 0)
                let reply = try await connection.request(RESPCommand("CONFIG", "GET", "notify-keyspace-events"))
                previous.append(reply.array?[1].string ?? "")
                _ = try await connection.request(RESPCommand("CONFIG", "SET", "notify-keyspace-events", value))
                await connection.close()
            }
            return previous
        }

        func notifications(on client: RedisClient) async throws -> [String] {
            try await client.sendToPrimaries(RESPCommand("CONFIG", "GET", "notify-keyspace-events")).map { $0.1.array?[1].string ?? "" }
        }

        func seed(_ client: RedisClient, count: Int) async throws {
            for start in stride(from: 0, to: count, by: 1000) {
                _ = try await client.pipeline((start..<min(count, start + 1000)).map {
                    KeyedCommand(key: Array("s:\($0)".utf8), RESPCommand("SET", "s:\($0)", "\($0)"))
                })
            }
        }

        func verifyExitCode(_ source: String, _ arguments: [String] = [], environment: [String: String] = [:]) async throws -> Int32 {
            let result = try await CLI.run(["verify", "redis", "--source", source, "--target", Servers.target] + arguments, environment: environment)
            #expect(result.status == 0, "\(result.output)")
            return result.status
        }

        @Test func followsWritesDuringAndAfterTheCopyUntilInterrupted() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let original = try await setNotifications("", on: source)
            try await seed(source, count: 30_000)
            try await fillEveryType(source)

            let live = try LiveProcess(["redis", "--source", Servers.source, "--target", Servers.target, "--live", "--enable-notifications",
                                        "--json", "--fresh", "--checkpoint-dir", checkpointDirectory(), "--batch", "500", "--rate", "15000"])
            // During the copy (about two seconds at --rate): change, delete, expire and add keys.
            try await Task.sleep(for: .milliseconds(500))
            try await source.must("SET", "s:29999", "changed during the copy")
            try await source.must("DEL", "s:29998")
            try await source.must("SET", "during:ttl", "short", "PX", 300)
            try await source.must("HSET", "during:hash", "f", "v")
            #expect(live.statuses.isEmpty, "the copy ended before the writes meant for it; raise the key count")

            try await live.waitForStatus("the copy's end") { _ in true }
            try await source.must("SET", "after:new", "1")
            try await source.must("INCR", "after:new")
            try await source.must("DEL", "s:1")
            try await source.must("RPUSH", "after:list", "a", "b")
            try await source.must("EXPIRE", "s:2", 1)
            try await source.must("RENAME", "s:3", "after:renamed")
            try await source.must("ZADD", "after:zset", 1, "m")
            try await source.must("XADD", "after:stream", "*", "f", "v")
            try await source.must("SET", "s:4", "changed after the copy")
            try await Task.sleep(for: .milliseconds(1500)) // s:2 and during:ttl expire
            try await live.waitForStatus("every change applied") { $0.pending == 0 && $0.applied >= 13 }
            #expect(try await target.send(RESPCommand("GET", "s:4")).string == "changed after the copy")
            #expect(try await target.send(RESPCommand("GET", "s:29999")).string == "changed during the copy")
            #expect(try await target.send(RESPCommand("EXISTS", "s:1", "s:2", "s:3", "s:29998", "during:ttl")).integer == 0)

            let (status, report) = await live.interrupt()
            #expect(status == 0, "\(live.stderr)")
            let totals = try #require(report).totals
            #expect(totals["live applied"] >= 13)
            #expect(totals["reconciled"] == 0, "live changes should leave nothing for the final reconcile: \(totals)")
            #expect(totals["reconcile passes"] >= 1)
            #expect(try await verifyExitCode(Servers.source) == 0)
            #expect(try await notifications(on: source) == [""], "notify-keyspace-events is restored")
            _ = try await setNotifications(original[0], on: source)
            await source.close()
            await target.close()
        }

        @Test func reconcileRepairsChangesWhoseNotificationsWereLost() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let original = try await setNotifications("KEA", on: source)
            try await seed(source, count: 1000)

            let live = try LiveProcess(["redis", "--source", Servers.source, "--target", Servers.target, "--live", "--json",
                                        "--fresh", "--checkpoint-dir", checkpointDirectory(), "--reconcile-interval", "2"])
            try await live.waitForStatus("the copy's end") { _ in true }
            _ = try await setNotifications("", on: source)
            _ = try await source.pipeline((0..<100).map { KeyedCommand(key: nil, RESPCommand("SET", "lost:\($0)", "\($0)")) })
            try await source.must("DEL", "s:1")
            try await source.must("SET", "s:2", "changed unheard")
            try await target.must("SET", "extra", "only on the target")
            _ = try await setNotifications("KEA", on: source)
            // 100 new keys, a deleted one, a changed one and an extra one on the target.
            try await live.waitForStatus("the lost changes reconciled") { $0.reconciled >= 103 }
            #expect(try await target.keyCount() == 1099)
            #expect(try await target.send(RESPCommand("GET", "s:2")).string == "changed unheard")

            let (status, report) = await live.interrupt()
            #expect(status == 0, "\(live.stderr)")
            #expect(try #require(report).totals["reconciled"] == 103)
            #expect(try await verifyExitCode(Servers.source) == 0)
            _ = try await setNotifications(original[0], on: source)
            await source.close()
            await target.close()
        }

        @Test func anOverflowingPendingSetFallsBackToReconcile() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let original = try await setNotifications("KEA", on: source)
            try await seed(source, count: 100)

            let live = try LiveProcess(["redis", "--source", Servers.source, "--target", Servers.target, "--live", "--json",
                                        "--fresh", "--checkpoint-dir", checkpointDirectory(), "--max-pending", "5", "--concurrency", "1"])
            try await live.waitForStatus("the copy's end") { _ in true }
            _ = try await source.pipeline((0..<2000).map { KeyedCommand(key: nil, RESPCommand("SET", "burst:\($0)", "\($0)")) })
            try await live.waitForStatus("an overflow reconciled") { $0.overflows > 0 && $0.reconciles > 0 && $0.pending == 0 && $0.lagMs == 0 }
            let (status, report) = await live.interrupt()
            #expect(status == 0, "\(live.stderr)")
            #expect(live.stderr.contains("--max-pending"), "the overflow is reported: \(live.stderr)")
            #expect(try #require(report).totals["pending overflows"] > 0)
            #expect(try await target.keyCount() == 2100)
            #expect(try await verifyExitCode(Servers.source) == 0)
            _ = try await setNotifications(original[0], on: source)
            await source.close()
            await target.close()
        }

        @Test func refusesASourceWithoutNotificationsAndWritesNothing() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let original = try await setNotifications("Ex", on: source)
            try await seed(source, count: 10)
            let result = try await CLI.run(["redis", "--source", Servers.source, "--target", Servers.target, "--live",
                                            "--fresh", "--checkpoint-dir", checkpointDirectory()])
            #expect(result.status == 2)
            #expect(result.stderr.contains("notify-keyspace-events is 'xE'"), "\(result.stderr)")
            #expect(result.stderr.contains("--enable-notifications") && result.stderr.contains("parameter group"))
            #expect(try await target.keyCount() == 0)
            #expect(try await notifications(on: source) == ["xE"])
            _ = try await setNotifications(original[0], on: source)
            await source.close()
            await target.close()
        }

        @Test func followsATLSSourceWithAnACLUserAndKeepsTheSecretOut() async throws {
            let source = try await Servers.client(Servers.tls, user: Servers.tlsUser, password: Servers.tlsPassword, ca: Servers.tlsCA)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let original = try await notifications(on: source)
            try await seed(source, count: 500)
            let sourceURL = Servers.tls.replacingOccurrences(of: "rediss://", with: "rediss://\(Servers.tlsUser)@")
            let environment = ["MIGRATE_SOURCE_PASSWORD": Servers.tlsPassword]
            let live = try LiveProcess(["redis", "--source", sourceURL, "--source-ca-file", Servers.tlsCA, "--target", Servers.target,
                                        "--live", "--enable-notifications", "--json", "--fresh", "--checkpoint-dir", checkpointDirectory(),
                                        "--log-level", "debug"], environment: environment)
            try await live.waitForStatus("the copy's end") { _ in true }
            for index in 0..<50 {
                try await source.must("SET", "after:\(index)", "\(index)")
            }
            try await live.waitForStatus("changes applied") { $0.pending == 0 && $0.applied >= 50 }
            let (status, report) = await live.interrupt()
            #expect(status == 0, "\(live.stderr)")
            #expect(try #require(report).totals["reconciled"] == 0)
            #expect(!(live.stdout + live.stderr).contains(Servers.tlsPassword))
            #expect(try await verifyExitCode(sourceURL, ["--source-ca-file", Servers.tlsCA], environment: environment) == 0)
            #expect(try await notifications(on: source) == original)
            await source.close()
            await target.close()
        }

        @Test func followsEveryPrimaryOfAClusterSource() async throws {
            let source = try await Servers.client(Servers.cluster)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let original = try await notifications(on: source)
            try await seed(source, count: 3000)

            let live = try LiveProcess(["redis", "--source", Servers.cluster, "--target", Servers.target, "--live", "--enable-notifications",
                                        "--json", "--fresh", "--checkpoint-dir", checkpointDirectory()])
            try await live.waitForStatus("the copy's end") { _ in true }
            #expect(try await notifications(on: source).allSatisfy { KeyspaceEventFlags($0).missing.isEmpty })
            for index in 0..<300 {
                try await source.must("SET", "after:\(index)", "\(index)")
            }
            for index in 0..<100 {
                try await source.must("DEL", "s:\(index)")
            }
            try await live.waitForStatus("changes on every primary applied") { $0.pending == 0 && $0.applied >= 400 }
            #expect(try await target.keyCount() == 3200)

            let (status, report) = await live.interrupt()
            #expect(status == 0, "\(live.stderr)")
            #expect(try #require(report).totals["reconciled"] == 0)
            #expect(try await verifyExitCode(Servers.cluster) == 0)
            #expect(try await notifications(on: source) == original)
            await source.close()
            await target.close()
        }

        @Test func followsAReplicaPromotedDuringTheLivePhase() async throws {
            let url = Servers.value("REDIS_CLUSTER_REPLICAS_URL")
            let ports = Servers.value("REDIS_CLUSTER_REPLICAS_PORTS").split(separator: " ").compactMap { Int($0) }
            let source = try await Servers.client(url)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            func configs() async throws -> [String] {
                var values: [String] = []
                for port in ports {
                    let node = try await RedisConnection.connect(.init(endpoint: Endpoint(host: "127.0.0.1", port: port)))
                    values.append(try await node.request(RESPCommand("CONFIG", "GET", "notify-keyspace-events")).array?[1].string ?? "")
                    await node.close()
                }
                return values
            }
            let original = try await configs()
            try await seed(source, count: 2000)

            let live = try LiveProcess(["redis", "--source", url, "--target", Servers.target, "--live", "--enable-notifications",
                                        "--json", "--fresh", "--checkpoint-dir", checkpointDirectory()])
            try await live.waitForStatus("the copy's end") { _ in true }
            // Promote the replica of the primary that owns slot 0.
            let shards = try await source.send(RESPCommand("CLUSTER", "SHARDS"))
            let replica = try #require(shards.array?.lazy.compactMap { shard -> Endpoint? in
                let fields = Integration.Cluster.fields(shard)
                guard fields["slots"]?.array?.compactMap(\.integer).first == 0 else { return nil }
                return fields["nodes"]?.array?.lazy.map(Integration.Cluster.fields).first { $0["role"]?.string == "replica" }
                    .flatMap { node in node["port"]?.integer.map { Endpoint(host: "127.0.0.1", port: Int($0)) } }
            }.first)
            let promoted = try await RedisConnection.connect(.init(endpoint: replica))
            _ = try await promoted.request(RESPCommand("CLUSTER", "FAILOVER"))
            // The topology check follows the new primary and reconciles what it took meanwhile.
            try await live.waitForStatus("a reconcile after the failover") { $0.reconciles >= 1 }
            #expect(try await promoted.request(RESPCommand("ROLE")).array?.first?.string == "master")
            await promoted.close()
            for index in 0..<300 {
                try await source.must("SET", "after:\(index)", "\(index)")
            }
            try await live.waitForStatus("changes on the new primary applied") { $0.pending == 0 && $0.applied >= 300 }
            #expect(try await target.keyCount() == 2300)

            let (status, report) = await live.interrupt()
            #expect(status == 0, "\(live.stderr)")
            #expect(try #require(report).totals["reconciled"] == 0)
            #expect(try await verifyExitCode(url) == 0)
            #expect(try await configs() == original, "notify-keyspace-events is restored on every node")
            await source.close()
            await target.close()
        }
    }
}
