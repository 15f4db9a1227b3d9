import Foundation
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

/// The structure of a page as `scripts/check-report-page.py` (Python's html.parser) reads it.
struct ParsedPage: Decodable {
    struct Verdict: Decodable {
        var outcome: String?
        var text: String
    }

    struct Chart: Decodable {
        var title: String?
        var points: Int
        var markers: Int
        var vertices: Int
        var series: [String: Int]
    }

    var errors: [String]
    var verdict: Verdict?
    var verdictFirst: Bool
    var units: [String]
    var charts: [Chart]
    var external: [String]
    var text: String

    /// Parses the page at `path`; when `MIGRATE_REPORT_PAGES` names a directory, the page is also copied there as
    /// `name`.html, for `scripts/report-screenshots.sh`.
    static func parse(_ path: String, name: String) throws -> ParsedPage {
        if let directory = Servers.environment["MIGRATE_REPORT_PAGES"] {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name).html")
            try FileManager.default.copyItem(atPath: path, toPath: "\(directory)/\(name).html")
        }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repository.appendingPathComponent("scripts/check-report-page.py").path, path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "check-report-page.py failed on \(path)")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ParsedPage.self, from: data)
    }

    /// Checks what every page must show: well-formed, the verdict first with `outcome`, a ledger row for each of
    /// `units`, one marker and one vertex per sample in each phase's chart, nothing fetched, none of `secrets`.
    func check(outcome: String, verdict expected: String, units expectedUnits: [String], timeline: ProgressSeries?,
               hasTimeline: Bool = true, html: String, secrets: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(errors.isEmpty, "\(errors)", sourceLocation: sourceLocation)
        #expect(verdictFirst, "the verdict is the first thing on the page", sourceLocation: sourceLocation)
        #expect(verdict?.outcome == outcome, sourceLocation: sourceLocation)
        #expect(verdict?.text.contains(expected) == true, "\(String(describing: verdict))", sourceLocation: sourceLocation)
        #expect(units == expectedUnits, sourceLocation: sourceLocation)
        #expect(external.isEmpty, "\(external)", sourceLocation: sourceLocation)
        for secret in secrets {
            #expect(!html.contains(secret), "a secret is on the page", sourceLocation: sourceLocation)
        }
        #expect((timeline != nil) == hasTimeline, sourceLocation: sourceLocation)
        guard let timeline else { return }
        #expect(!timeline.samples.isEmpty, sourceLocation: sourceLocation)
        for phase in timeline.phases {
            let samples = timeline.samples.filter { $0.phase == phase }
            let unit = samples[0].unit
            let chart = charts.first { $0.title == "\(phase): \(unit) per second" }
            #expect(chart?.series[phase] == samples.count, "\(phase): \(charts)", sourceLocation: sourceLocation)
            #expect(chart?.markers == samples.count && chart?.vertices == samples.count, "one point per sample: \(String(describing: chart))",
                    sourceLocation: sourceLocation)
        }
    }
}

extension Integration {
    /// `--report-html` pages of real runs, read back with an HTML parser.
    @Suite struct ReportPages {
        static func read(_ path: String) throws -> String {
            try String(contentsOfFile: path, encoding: .utf8)
        }

        static func report(_ path: String) throws -> MigrationReport {
            try JSONDecoder.reports.decode(MigrationReport.self, from: try Data(contentsOf: URL(fileURLWithPath: path)))
        }

        /// A clean copy from a source with a password in its URI, slowed so it lasts a few samples; the page
        /// `migrate report` renders from the JSON report is the same page; `migrate status` has its own.
        @Test func aCleanRun() async throws {
            let source = try await Servers.client(Servers.auth, password: Servers.authPassword)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            for database in [0, 2] {
                let client = try await Servers.client(Servers.auth, database: database, password: Servers.authPassword)
                _ = try await client.pipeline((0..<1500).map { KeyedCommand(key: nil, RESPCommand("SET", "k:\($0)", String(repeating: "v", count: 100))) })
                await client.close()
            }
            let directory = checkpointDirectory()
            let authURL = Servers.auth.replacingOccurrences(of: "redis://", with: "redis://:\(Servers.authPassword)@")
            let result = try await CLI.run(["redis", "--source", authURL, "--target", Servers.target, "--fresh", "--checkpoint-dir", directory,
                                            "--rate", "600", "--batch", "100", "--report", "\(directory)/report.json", "--report-html", "\(directory)/report.html"])
            #expect(result.status == 0, "\(result.output)")
            let report = try Self.report("\(directory)/report.json")
            let html = try Self.read("\(directory)/report.html")
            let page = try ParsedPage.parse("\(directory)/report.html", name: "clean-run")
            page.check(outcome: "succeeded", verdict: "every one of the 3,000 selected keys is accounted for", units: ["db0", "db2"],
                       timeline: report.timeline, html: html + (try Self.read("\(directory)/report.json")), secrets: [Servers.authPassword])
            #expect(try #require(report.timeline).samples.count >= 3, "5 s at 600 keys/s, a sample every 2 s")
            #expect(page.charts.contains { $0.title == "redis: bytes per second" })
            #expect(page.text.contains("redis 7") || page.text.contains("valkey"), "the source's version is named")
            #expect(page.text.contains("redis://:***@"), "the options are shown with the password redacted")

            let again = try await CLI.run(["report", "\(directory)/report.json", "--html", "\(directory)/again.html"])
            #expect(again.status == 0, "\(again.output)")
            #expect(try Self.read("\(directory)/again.html") == html, "the page is a pure rendering of the JSON report")

            let status = try await CLI.run(["status", "--checkpoint-dir", directory, "--report-html", "\(directory)/status.html"])
            #expect(status.status == 0, "\(status.output)")
            let statusPage = try ParsedPage.parse("\(directory)/status.html", name: "status")
            statusPage.check(outcome: "finished", verdict: "All 1 run(s)", units: ["db0", "db2"], timeline: nil, hasTimeline: false, html: try Self.read("\(directory)/status.html"))
            await source.close()
            await target.close()
        }

        @Test func aRunWithRefusedRecords() async throws {
            let source = try await Servers.client(Servers.source)
            try await source.flushAll()
            for index in 0..<3 { try await source.must("SET", "denied:\(index)", "v") }
            for index in 0..<30 { try await source.must("SET", "allowed:\(index)", "v") }
            let (admin, targetURL) = try await limitedTLSTarget(allowing: "allowed:*")
            let directory = checkpointDirectory()
            let result = try await CLI.run(["redis", "--source", Servers.source, "--target", targetURL,
                                            "--target-ca-file", Servers.tlsCA, "--fresh", "--checkpoint-dir", directory, "--skip-refused",
                                            "--report", "\(directory)/report.json", "--report-html", "\(directory)/report.html"],
                                           environment: ["MIGRATE_TARGET_PASSWORD": "limited-pass"])
            #expect(result.status == 4, "\(result.output)")
            let report = try Self.report("\(directory)/report.json")
            let html = try Self.read("\(directory)/report.html")
            let page = try ParsedPage.parse("\(directory)/report.html", name: "refused-records")
            let refused = try #require(report.refused)
            page.check(outcome: "incomplete", verdict: "the target refused 3 keys, listed with their reasons in \(refused.file)", units: ["db0"],
                       timeline: report.timeline, html: html + (try Self.read("\(directory)/report.json")), secrets: ["limited-pass"])
            #expect(refused.first.count == 3 && refused.first.allSatisfy { $0.contains("NOPERM") }, "\(refused.first)")
            #expect(page.text.contains("denied:1") && page.text.contains("NOPERM"))
            #expect(page.text.contains("target TLS yes (rediss)"), "\(page.text)")
            try await admin.must("ACL", "DELUSER", "limited")
            await admin.close()
            await source.close()
        }

        @Test func aVerificationWithDifferences() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            try await fillEveryType(source)
            let copy = try await CLI.run(["redis", "--source", Servers.source, "--target", Servers.target, "--fresh", "--checkpoint-dir", checkpointDirectory()])
            #expect(copy.status == 0, "\(copy.output)")
            try await target.must("HSET", "hash", "f1", "changed")
            try await target.must("SET", "extra:key", "not in source")
            let directory = checkpointDirectory()
            let result = try await CLI.run(["verify", "redis", "--source", Servers.source, "--target", Servers.target,
                                            "--report", "\(directory)/report.json", "--report-html", "\(directory)/report.html"])
            #expect(result.status == 3, "\(result.output)")
            let report = try Self.report("\(directory)/report.json")
            let page = try ParsedPage.parse("\(directory)/report.html", name: "verify-differences")
            page.check(outcome: "mismatched", verdict: "source and target differ in 2 place(s)", units: [], timeline: report.timeline,
                       html: try Self.read("\(directory)/report.html"))
            #expect(page.text.contains("value differs: \"hash\" (db 0, hash): field \"f1\": source \"v1\", target \"changed\""), "\(page.text)")
            #expect(page.text.contains("extra in target: \"extra:key\""))
            #expect(page.text.contains("source TLS no") && page.text.contains("target TLS no"), "\(page.text)")
            await source.close()
            await target.close()
        }

        /// A live sync that follows a stream of writes: the page charts its lag and pending changes, one point
        /// per sample.
        @Test func aLiveRunWithLag() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            _ = try await source.pipeline((0..<500).map { KeyedCommand(key: nil, RESPCommand("SET", "seed:\($0)", "\($0)")) })
            let directory = checkpointDirectory()
            let live = try LiveProcess(["redis", "--source", Servers.source, "--target", Servers.target, "--live", "--enable-notifications", "--json",
                                        "--live-for", "9", "--concurrency", "1", "--batch", "10", "--fresh", "--checkpoint-dir", directory,
                                        "--report", "\(directory)/report.json", "--report-html", "\(directory)/report.html"])
            try await live.waitForStatus("the copy's end") { _ in true }
            // Writes for about 6 of the 9 seconds, while the sync follows them.
            for round in 0..<60 {
                _ = try await source.pipeline((0..<500).map { KeyedCommand(key: nil, RESPCommand("SET", "w:\(round):\($0)", "\($0)")) })
                try await Task.sleep(for: .milliseconds(100))
            }
            while live.process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
            #expect(live.process.terminationStatus == 0 || live.process.terminationStatus == 3, "\(live.stderr)")
            let report = try Self.report("\(directory)/report.json")
            let page = try ParsedPage.parse("\(directory)/report.html", name: "live-run")
            page.check(outcome: report.outcome.rawValue, verdict: ":", units: ["db0"], timeline: report.timeline, html: try Self.read("\(directory)/report.html"))
            let samples = try #require(report.timeline).samples.filter { $0.phase == "redis live" }
            #expect(samples.count >= 3, "9 s of live sync, a sample every 2 s")
            #expect(samples.allSatisfy { $0.lagMs != nil && $0.pending != nil })
            #expect(samples.contains { $0.lagMs! > 0 || $0.pending! > 0 }, "the writes kept it behind at some sample: \(samples)")
            for title in ["redis live: lag behind the source", "redis live: pending changes"] {
                let chart = page.charts.first { $0.title == title }
                #expect(chart?.markers == samples.count && chart?.vertices == samples.count, "\(title): \(page.charts)")
            }
            await source.close()
            await target.close()
        }

        /// `migrate run`: one page for every phase's copy and verification.
        @Test func aPlanRun() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            let keys = try await fillEveryType(source)
            let directory = checkpointDirectory()
            try """
                checkpoint-dir: \(directory)/checkpoints
                keys:
                  batch: 5
                  source: \(Servers.source)
                  target: \(Servers.target)
                """.write(toFile: directory + "/migration.yaml", atomically: true, encoding: .utf8)
            let run = try await CLI.run(["run", "--config", directory + "/migration.yaml", "--report", directory + "/run.json",
                                         "--report-html", directory + "/run.html"])
            #expect(run.status == 0, "\(run.output)")
            let html = try Self.read(directory + "/run.html")
            let page = try ParsedPage.parse(directory + "/run.html", name: "plan-run")
            page.check(outcome: "succeeded", verdict: "every phase (keys) was copied and verified", units: ["db0"], timeline: nil,
                       hasTimeline: false, html: html)
            #expect(page.charts.contains { $0.title == "redis: keys per second" } && page.charts.contains { $0.title == "verify source→target: keys per second" },
                    "\(page.charts.map(\.title))")
            #expect(page.text.contains("Phase keys: succeeded"))
            #expect(page.text.contains("every one of the \(keys) selected keys is accounted for"), "\(page.text)")
            let again = try await CLI.run(["report", directory + "/run.json", "--html", directory + "/again.html"])
            #expect(again.status == 0, "\(again.output)")
            #expect(try Self.read(directory + "/again.html") == html, "the page is a pure rendering of the JSON report")
            await source.close()
            await target.close()
        }
    }
}

/// The TLS server with a user `limited` (password `limited-pass`) that may touch only the keys matching `pattern`:
/// a target that refuses the others with NOPERM. Returns an admin client, to delete the user afterwards, and the
/// target's URI for that user.
func limitedTLSTarget(allowing pattern: String) async throws -> (admin: RedisClient, uri: String) {
    let admin = try await Servers.client(Servers.tls, user: Servers.tlsUser, password: Servers.tlsPassword, ca: Servers.tlsCA)
    try await admin.flushAll()
    try await admin.must("ACL", "SETUSER", "limited", "reset", "on", ">limited-pass", "~\(pattern)", "~migrate:probe", "+@all")
    return (admin, Servers.tls.replacingOccurrences(of: "rediss://", with: "rediss://limited@"))
}
