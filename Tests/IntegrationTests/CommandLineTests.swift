import Foundation
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

extension Integration {
    /// The `migrate` executable end to end: exit codes, messages, secrets, kill -9 and resume.
    @Suite struct CommandLine {
        @Test func killedRunsResumeWithNothingMissing() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            for start in stride(from: 0, to: 60_000, by: 2000) {
                _ = try await source.pipeline((start..<(start + 2000)).flatMap { index -> [KeyedCommand] in
                    index % 10 == 0
                        ? [KeyedCommand(key: nil, RESPCommand("HSET", "h:\(index)", "a", "\(index)", "b", "x"))]
                        : [KeyedCommand(key: nil, RESPCommand("SET", "s:\(index)", "\(index)", "PX", 3_600_000))]
                })
            }
            let directory = checkpointDirectory()
            let arguments = ["redis", "--source", Servers.source, "--target", Servers.target, "--batch", "250",
                             "--rate", "12000", "--checkpoint-dir", directory, "--json"]
            // Kill it three times at different moments, resuming each time.
            var kills = 0
            for (index, delay) in [700, 900, 1100].enumerated() {
                let (process, _, _) = try CLI.start(index == 0 ? arguments : arguments + ["--resume"])
                try await Task.sleep(for: .milliseconds(delay))
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    kills += 1
                }
                process.waitUntilExit()
            }
            #expect(kills >= 2, "the run finished before it could be killed; raise the key count")
            let partial = try await target.keyCount()
            #expect(partial < 60_000)

            // `migrate status` reads the checkpoint of the interrupted run.
            let status = try await CLI.run(["status", "--checkpoint-dir", directory])
            #expect(status.status == 0)
            #expect(status.stdout.contains("redis: UNFINISHED (continue with --resume)"), "\(status.stdout)")
            #expect(status.stdout.contains("127.0.0.1:16379/db0: at "))

            // Without --resume an unfinished run is not silently redone or skipped.
            let refused = try await CLI.run(arguments)
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("--resume"), "\(refused.stderr)")

            let resumed = try await CLI.run(arguments + ["--resume", "--report", directory + "/report.json"])
            #expect(resumed.status == 0, "\(resumed.output)")
            #expect(resumed.stdout.contains("\"event\":\"report\""))
            let report = try JSONDecoder.reports.decode(MigrationReport.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
            #expect(report.resumed)
            #expect(report.totals["scanned"] >= 60_000)
            #expect(try await target.keyCount() == 60_000)
            let finished = try await CLI.run(["status", "--checkpoint-dir", directory, "--json"])
            #expect(finished.stdout.contains("\"event\":\"checkpoint\"") && finished.stdout.contains("\"finished\":true"), "\(finished.stdout)")

            let verification = try await CLI.run(["verify", "redis", "--source", Servers.source, "--target", Servers.target])
            #expect(verification.status == 0, "\(verification.output)")
            #expect(verification.stdout.contains("SUCCEEDED"))
            await source.close()
            await target.close()
        }

        /// SIGINT (and SIGTERM) in the middle of a copy stops it within two seconds, exit 2, with a checkpoint
        /// that `--resume` finishes from: nothing missing.
        @Test(arguments: [SIGINT, SIGTERM]) func aSignalStopsTheCopyWithinTwoSecondsAndResumeFinishesIt(signal: Int32) async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            for start in stride(from: 0, to: 20_000, by: 2000) {
                _ = try await source.pipeline((start..<(start + 2000)).map { KeyedCommand(key: nil, RESPCommand("SET", "k:\($0)", "\($0)")) })
            }
            let directory = checkpointDirectory()
            let arguments = ["redis", "--source", Servers.source, "--target", Servers.target, "--batch", "100", "--rate", "4000",
                             "--checkpoint-dir", directory]
            let process = try CLI.start(arguments, log: directory + "/interrupted")
            _ = try await waitForProgress(checkpointDirectory: directory)
            let signalled = ContinuousClock.now
            kill(process.processIdentifier, signal)
            while process.isRunning && ContinuousClock.now - signalled < .seconds(5) {
                try await Task.sleep(for: .milliseconds(10))
            }
            let stoppedAfter = ContinuousClock.now - signalled
            #expect(!process.isRunning)
            process.waitUntilExit()
            #expect(stoppedAfter < .seconds(2), "stopped after \(stoppedAfter)")
            #expect(process.terminationStatus == 2)
            let output = String(decoding: FileManager.default.contents(atPath: directory + "/interrupted.out") ?? Data(), as: UTF8.self)
            #expect(output.contains("FAILED") && output.contains("continue with --resume"), "\(output)")
            #expect(try await target.keyCount() < 20_000)

            let resumed = try await CLI.run(arguments + ["--resume"])
            #expect(resumed.status == 0, "\(resumed.output)")
            #expect(try await target.keyCount() == 20_000)
            await source.close()
            await target.close()
        }

        @Test func verifyReportsInjectedDifferencesWithExitCode3() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            try await fillEveryType(source)
            let copy = try await CLI.run(["redis", "--source", Servers.source, "--target", Servers.target, "--fresh", "--checkpoint-dir", checkpointDirectory()])
            #expect(copy.status == 0, "\(copy.output)")

            try await target.must("DEL", "set")
            try await target.must("SET", "extra:key", "not in source")
            try await target.must("HSET", "hash", "f1", "changed")
            try await target.must("PEXPIRE", "string:ttl", 100_000)
            try await target.must("ZADD", "zset", "0.30000000000000004", "a")
            try await target.must("LSET", "list", 2, "changed")
            try await target.must("SETRANGE", "string", 3, "X")
            try await target.must("XADD", "stream", "3-0", "late", "entry")
            let result = try await CLI.run(["verify", "redis", "--source", Servers.source, "--target", Servers.target])
            #expect(result.status == 3, "\(result.output)")
            #expect(result.stdout.contains("missing in target: \"set\""))
            #expect(result.stdout.contains("extra in target: \"extra:key\""))
            // Each difference names where the values part: field, member and both scores, index, byte, entry.
            #expect(result.stdout.contains("value differs: \"hash\" (db 0, hash): field \"f1\": source \"v1\", target \"changed\""), "\(result.stdout)")
            #expect(result.stdout.contains("value differs: \"zset\" (db 0, zset): member \"a\": source score 0.1"), "\(result.stdout)")
            #expect(result.stdout.contains(", target score 0.30000000000000004"), "\(result.stdout)")
            #expect(result.stdout.contains("value differs: \"list\" (db 0, list): index 2 (lengths 4 and 4): source \"c\", target \"changed\""), "\(result.stdout)")
            #expect(result.stdout.contains("value differs: \"string\" (db 0, string): byte 3 (lengths 11 and 11): source \"in value\", target \"Xn value\""), "\(result.stdout)")
            #expect(result.stdout.contains("value differs: \"stream\" (db 0, stream): entry 2 (lengths 2 and 3): source none, target 3-0 \"late entry\""), "\(result.stdout)")
            #expect(result.stdout.contains("ttl differs: \"string:ttl\""))

            let sampled = try await CLI.run(["verify", "redis", "--source", Servers.source, "--target", Servers.target, "--sample", "200"])
            #expect(sampled.status == 3, "sampling 200 of 13 keys covers them all: \(sampled.output)")
            await source.close()
            await target.close()
        }

        /// One checksum definition: the line `migrate redis` prints is the line `migrate verify redis` prints, over
        /// every type (DUMP/RESTORE, struct mode and big keys in chunks), and verify's target side agrees.
        @Test(arguments: [[], ["--mode", "struct"], ["--big-key-bytes", "1024"]])
        func copyAndVerifyPrintTheSameChecksum(copyOptions: [String]) async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            var keys = try await fillEveryType(source)
            // Values over 1024 bytes, so that `--big-key-bytes 1024` copies them in chunks.
            let many = (0..<300).map { "element-\($0)" }
            for reply in try await source.pipeline([
                KeyedCommand(key: nil, RESPCommand("HSET", arguments: ["wide:hash"] + many.flatMap { [$0, $0 + "-value"] })),
                KeyedCommand(key: nil, RESPCommand("RPUSH", arguments: ["wide:list"] + many)),
                KeyedCommand(key: nil, RESPCommand("ZADD", arguments: ["wide:zset"] + many.enumerated().flatMap { ["\(Double($0.offset) / 3)", $0.element] })),
            ]) {
                #expect(reply.errorMessage == nil)
            }
            try await source.must("SET", "wide:string", String(repeating: "x", count: 5000), "PX", 3_600_000)
            let other = try await Servers.client(Servers.source, database: 2)
            try await other.must("HSET", "other:db", "f", "v")
            await other.close()
            keys += 5
            let copy = try await CLI.run(["redis", "--source", Servers.source, "--target", Servers.target, "--db-map", "2:db2:",
                                          "--fresh", "--checkpoint-dir", checkpointDirectory()] + copyOptions)
            #expect(copy.status == 0, "\(copy.output)")
            let verification = try await CLI.run(["verify", "redis", "--source", Servers.source, "--target", Servers.target, "--db-map", "2:db2:"])
            #expect(verification.status == 0, "\(verification.output)")
            func checksumLine(_ output: String) -> String? {
                output.split(separator: "\n").first { $0.hasPrefix("  checksum ") }.map(String.init)
            }
            let copied = try #require(checksumLine(copy.stdout), "\(copy.stdout)")
            #expect(copied.hasSuffix("over \(keys) records"), "\(copied)")
            #expect(checksumLine(verification.stdout) == copied, "\(copy.stdout)\n\(verification.stdout)")
            // The "checksums" section: `source  N  HEX` and `target  N  HEX`.
            let rows: [[Substring]] = verification.stdout.split(separator: "\n").map { $0.split(separator: " ") }
            let sides: [String] = rows.filter { row in row.count == 3 && (row[0] == "source" || row[0] == "target") && row[2].count == 32 }
                .map { row in "\(row[1]) \(row[2])" }
            let expected = "\(keys) \(copied.split(separator: " ")[1])"
            #expect(sides == [expected, expected], "\(verification.stdout)")
            await source.close()
            await target.close()
        }

        /// A misspelt field or an entry for a database the source lacks stops the run before any write, instead of
        /// copying with the wrong layout.
        @Test func mappingFilesAreCheckedLikeCode() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let database1 = try await Servers.client(Servers.source, database: 1)
            try await database1.must("SET", "k", "v")
            await database1.close()
            let directory = checkpointDirectory()
            func run(_ yaml: String) async throws -> CLI.Result {
                let path = directory + "/mapping-\(UUID().uuidString).yaml"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
                return try await CLI.run(["redis", "--source", Servers.source, "--target", Servers.target, "--mapping", path,
                                          "--fresh", "--checkpoint-dir", directory])
            }
            let misspelt = try await run("databases:\n  1: {db: 0, prefx: \"db1:\"}\n")
            #expect(misspelt.status == 64, "\(misspelt.output)")
            #expect(misspelt.stderr.contains("unknown field `prefx`") && misspelt.stderr.contains("did you mean `prefix`?"), "\(misspelt.output)")
            let wrongNumber = try await run("databases:\n  2: {prefix: \"db1:\"}\n")
            #expect(wrongNumber.status == 2, "\(wrongNumber.output)")
            #expect(wrongNumber.stderr.contains("source database 2, which holds no keys (databases with keys: 1)"), "\(wrongNumber.output)")
            #expect(try await target.keyCount() == 0)
            let target1 = try await Servers.client(Servers.target, database: 1)
            #expect(try await target1.keyCount() == 0)
            await target1.close()
            let optional = try await run("databases:\n  1: {db: 0, prefix: \"db1:\"}\n  2: {prefix: \"db2:\", optional: true}\n")
            #expect(optional.status == 0, "\(optional.output)")
            #expect(try await target.must("GET", "db1:k").string == "v")
            await source.close()
            await target.close()
        }

        @Test func badConnectionsFailClearlyAndWriteNothing() async throws {
            let target = try await Servers.client(Servers.target)
            try await target.flushAll()
            let wrongPassword = "Wr0ng-Pa55word-123"
            let authURL = Servers.auth.replacingOccurrences(of: "redis://", with: "redis://:\(wrongPassword)@")
            let tlsHostPort = Servers.tls.replacingOccurrences(of: "rediss://", with: "")
            let cases: [(name: String, arguments: [String], expected: String)] = [
                ("wrong password", ["--source", authURL], "refused the credentials"),
                ("missing password", ["--source", Servers.auth], "requires authentication"),
                ("unreachable port", ["--source", "redis://127.0.0.1:1"], "connection refused"),
                ("unknown host", ["--source", "redis://no-such-host.invalid:6379"], "cannot resolve host"),
                ("wrong CA", ["--source", Servers.tls, "--source-ca-file", Servers.otherCA], "did not verify"),
                ("system CA does not know a private CA", ["--source", Servers.tls], "did not verify"),
                ("plain client on a TLS port", ["--source", "redis://\(tlsHostPort)"], "rediss://"),
                ("TLS client on a plain port", ["--source", Servers.source.replacingOccurrences(of: "redis://", with: "rediss://"),
                                                "--source-ca-file", Servers.tlsCA], "TLS handshake"),
                ("malformed URI", ["--source", "localhost:6379"], "is not a URI"),
            ]
            for testCase in cases {
                let result = try await CLI.run(["redis", "--target", Servers.target, "--fresh", "--connect-timeout", "3",
                                                "--checkpoint-dir", checkpointDirectory()] + testCase.arguments)
                #expect(result.status != 0, "\(testCase.name): exit \(result.status)")
                #expect(result.stderr.contains(testCase.expected), "\(testCase.name): \(result.stderr)")
                #expect(!result.output.contains(wrongPassword), "\(testCase.name) leaked the password")
            }
            #expect(try await target.keyCount() == 0)
            await target.close()
        }

        @Test func tlsWithACLUserWorksAndKeepsSecretsOut() async throws {
            let source = try await Servers.client(Servers.source)
            try await source.flushAll()
            let keys = try await fillEveryType(source)
            let tls = try await Servers.client(Servers.tls, user: Servers.tlsUser, password: Servers.tlsPassword, ca: Servers.tlsCA)
            try await tls.flushAll()
            let targetURL = Servers.tls.replacingOccurrences(of: "rediss://", with: "rediss://\(Servers.tlsUser)@")
            let directory = checkpointDirectory()
            let (process, out, err) = try CLI.start(
                ["redis", "--source", Servers.source, "--target", targetURL, "--target-ca-file", Servers.tlsCA,
                 "--fresh", "--checkpoint-dir", directory, "--report", directory + "/report.json", "--log-level", "debug"],
                environment: ["MIGRATE_TARGET_PASSWORD": Servers.tlsPassword])
            // While it runs, the process list shows no password (it came from the environment).
            let commandLine = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/cmdline", encoding: .utf8)) ?? ""
            #expect(!commandLine.contains(Servers.tlsPassword))
            process.waitUntilExit()
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile() + err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 0, "\(output)")
            #expect(!output.contains(Servers.tlsPassword))
            #expect(output.contains("rediss://\(Servers.tlsUser):***@"))
            let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            for file in files {
                let contents = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
                #expect(!contents.contains(Servers.tlsPassword), "\(file) holds the password")
            }
            #expect(try await tls.keyCount() == keys)
            await tls.close()
            await source.close()
        }

        @Test func passwordsInURIsAreScrubbedFromTheProcessList() async throws {
            let source = try await Servers.client(Servers.source)
            try await source.flushAll()
            for index in 0..<20_000 { if index % 5000 == 0 { try await source.must("SET", "k\(index)", "v") } }
            let authURL = Servers.auth.replacingOccurrences(of: "redis://", with: "redis://:\(Servers.authPassword)@")
            let auth = try await Servers.client(Servers.auth, password: Servers.authPassword)
            try await auth.flushAll()
            let (process, _, _) = try CLI.start(["redis", "--source", Servers.source, "--target", authURL, "--rate", "1",
                                                 "--fresh", "--checkpoint-dir", checkpointDirectory()])
            try await Task.sleep(for: .milliseconds(500))
            let commandLine = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/cmdline", encoding: .utf8)) ?? ""
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(commandLine.contains("redis://:"), "cmdline: \(commandLine)")
            #expect(!commandLine.contains(Servers.authPassword))
            await auth.close()
            await source.close()
        }

        @Test func keysTheTargetRefusesStopTheRunOrAreListed() async throws {
            let source = try await Servers.client(Servers.source)
            try await source.flushAll()
            for index in 0..<30 { try await source.must("SET", "allowed:\(index)", "v") }
            try await source.must("SET", "denied:1", "v")
            let (admin, targetURL) = try await limitedTLSTarget(allowing: "allowed:*")
            let base = ["redis", "--source", Servers.source, "--target", targetURL, "--target-ca-file", Servers.tlsCA, "--fresh"]
            let environment = ["MIGRATE_TARGET_PASSWORD": "limited-pass"]

            let stopped = try await CLI.run(base + ["--checkpoint-dir", checkpointDirectory()], environment: environment)
            #expect(stopped.status == 2, "\(stopped.output)")
            #expect(stopped.output.contains("cannot copy key \"denied:1\""), "\(stopped.output)")
            #expect(stopped.output.contains("NOPERM"))

            let directory = checkpointDirectory()
            let skipped = try await CLI.run(base + ["--checkpoint-dir", directory, "--skip-refused"], environment: environment)
            #expect(skipped.status == 4, "finished with a refused key: \(skipped.output)")
            #expect(skipped.stdout.contains("INCOMPLETE"), "\(skipped.stdout)")
            #expect(skipped.stdout.contains("denied:1"))
            let deadLetters = try deadLetterLines(in: directory)
            #expect(deadLetters.count == 1 && deadLetters[0].contains("\"key\":\"denied:1\"") && deadLetters[0].contains("NOPERM"), "\(deadLetters)")
            #expect(try await admin.keyCount() == 30)
            try await admin.must("ACL", "DELUSER", "limited")
            await admin.close()
            await source.close()
        }
    }
}

/// The lines of the dead-letter file(s) a run left in `directory`.
func deadLetterLines(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix("-dead-letter.jsonl") }.flatMap { file in
        try String(contentsOfFile: directory + "/" + file, encoding: .utf8).split(separator: "\n").map(String.init)
    }
}

extension JSONDecoder {
    /// Decodes reports as `--report` writes them.
    static var reports: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
