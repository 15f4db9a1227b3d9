import Foundation
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

/// A Redis server of the test's own (`redis-server` from `$REDIS_SERVER`), for targets that must misbehave in a
/// way the shared servers must not: too little memory, evicting keys.
struct ScratchRedis {
    let process: Process
    let url: String

    /// Starts `redis-server` on `port` with `arguments` (`--maxmemory 2mb` …) and waits until it answers.
    static func start(port: Int, _ arguments: [String]) async throws -> ScratchRedis {
        // A directory of its own, so that no dump.rdb left there by another server is loaded.
        let directory = NSTemporaryDirectory() + "scratch-redis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Servers.value("REDIS_SERVER"))
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory] + arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let url = "redis://127.0.0.1:\(port)"
        for _ in 0..<100 {
            // Only this process may answer: a server left on the port by another run would hold its data.
            guard process.isRunning else { break }
            if let client = try? await Servers.client(url) {
                await client.close()
                return ScratchRedis(process: process, url: url)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw RedisError.unexpectedReply(Servers.endpoint(url), command: "PING", reply: "redis-server did not start on port \(port) (is another server there?)")
    }

    /// Runs `body` with a server started as ``start(port:_:)``, and stops it however `body` ends.
    static func with(port: Int, _ arguments: [String], body: (ScratchRedis) async throws -> Void) async throws {
        let server = try await start(port: port, arguments)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Stops the server. It inherits the test process's blocked signals, so SIGTERM would not reach it: it is
    /// told to shut down, and killed if it has not.
    func stop() async {
        if let client = try? await Servers.client(url) {
            _ = try? await client.send(RESPCommand("SHUTDOWN", "NOSAVE"))
            await client.close()
        }
        for _ in 0..<40 where process.isRunning {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

extension Integration {
    /// "Lying success": targets that drop, refuse or merge keys. No such run may exit 0, and its output must name
    /// what went wrong.
    @Suite struct LyingSuccess {
        /// 4 MB of values into a 2 MB target that refuses writes (`noeviction`: OOM).
        @Test func aTargetOutOfMemoryRefusesKeysAndTheRunSaysWhich() async throws {
            try await ScratchRedis.with(port: 16471, ["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]) { server in
                let source = try await Servers.client(Servers.source)
                try await source.flushAll()
                let value = String(repeating: "v", count: 2048)
                _ = try await source.pipeline((0..<2000).map { KeyedCommand(key: nil, RESPCommand("SET", "big:\($0)", value)) })
                let base = ["redis", "--source", Servers.source, "--target", server.url, "--fresh"]

                let stopped = try await CLI.run(base + ["--checkpoint-dir", checkpointDirectory()])
                #expect(stopped.status == 2, "\(stopped.output)")
                #expect(stopped.output.contains("OOM") && stopped.output.contains("the target ran out of memory writing key \"big:")
                        && stopped.output.contains("of maxmemory"), "\(stopped.output)")

                let target = try await Servers.client(server.url)
                try await target.flushAll()
                let directory = checkpointDirectory()
                let listed = try await CLI.run(base + ["--checkpoint-dir", directory, "--skip-refused", "--report", directory + "/report.json"])
                #expect(listed.status == 4, "\(listed.output)")
                let report = try JSONDecoder.reports.decode(MigrationReport.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
                #expect(report.outcome == .incomplete)
                let row = try #require(report.ledger?.rows.first { $0.unit == "db0" })
                #expect(row.entry.selected == 2000 && row.entry.refused > 0 && row.entry.written + row.entry.refused == 2000, "\(row)")
                #expect(row.onTarget == (try await target.keyCount()))
                await target.close()
                let deadLetters = try deadLetterLines(in: directory)
                #expect(deadLetters.count == row.entry.refused)
                #expect(deadLetters.allSatisfy { $0.contains("\"key\":\"big:") && $0.contains("OOM") }, "\(deadLetters.prefix(2))")
                #expect(report.problems.contains { $0.contains("cannot copy key \"big:") && $0.contains("OOM") }, "\(report.problems.prefix(3))")
                await source.close()
            }
        }

        /// A target that makes room by evicting keys acknowledges every write and still loses keys: the count of
        /// the target after the copy gives it away, and verify names the keys.
        @Test func aTargetThatEvictsKeysAfterAcknowledgingThemFailsTheRun() async throws {
            try await ScratchRedis.with(port: 16472, ["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random"]) { server in
                let source = try await Servers.client(Servers.source)
                try await source.flushAll()
                let value = String(repeating: "v", count: 2048)
                _ = try await source.pipeline((0..<2000).map { KeyedCommand(key: nil, RESPCommand("SET", "evicted:\($0)", value)) })
                let directory = checkpointDirectory()
                let run = try await CLI.run(["redis", "--source", Servers.source, "--target", server.url, "--fresh", "--checkpoint-dir", directory,
                                             "--report", directory + "/report.json"])
                #expect(run.status == 2, "\(run.output)")
                #expect(!run.stdout.contains("SUCCEEDED"))
                let report = try JSONDecoder.reports.decode(MigrationReport.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
                #expect(report.outcome == .failed)
                #expect(report.problems.contains { $0.contains("db0") && $0.contains("dropped or merged") }, "\(report.problems)")
                let verification = try await CLI.run(["verify", "redis", "--source", Servers.source, "--target", server.url])
                #expect(verification.status == 3)
                #expect(verification.stdout.contains("missing in target: \"evicted:"), "\(verification.stdout)")
                await source.close()
            }
        }

        /// Two source databases into one target database under one prefix: refused before anything is written.
        @Test func databasesMergedIntoOneAreRefusedBeforeAnyWrite() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            try await source.must("SET", "same", "db0")
            let database1 = try await Servers.client(Servers.source, database: 1)
            try await database1.must("SET", "same", "db1")
            await database1.close()
            let run = try await CLI.run(["redis", "--source", Servers.source, "--target", Servers.target, "--db-map", "1=0",
                                         "--fresh", "--checkpoint-dir", checkpointDirectory()])
            #expect(run.status == 2, "\(run.output)")
            #expect(run.stderr.contains("source databases 0 and 1 would both go to target database 0"), "\(run.output)")
            #expect(try await target.keyCount() == 0)
            await source.close()
            await target.close()
        }
    }
}
