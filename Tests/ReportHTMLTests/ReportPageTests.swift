import Foundation
import MigrationCore
import MigrationPlanning
import Testing
@testable import ReportHTML

@Suite struct ReportPageTests {
    /// A copy report with two units, a refused record, retries and a live phase with lag.
    static func report(outcome: MigrationReport.Outcome = .incomplete) -> MigrationReport {
        var ledger = Ledger()
        ledger.selected("db0", 10)
        ledger.written("db0", 9)
        ledger.refused("db0", 1)
        ledger.selected("db1 <b>", 3)
        ledger.written("db1 <b>", 2)
        ledger.skipped("db1 <b>", rule: "--exclude tmp:*", 1)
        var report = MigrationReport(command: "migrate redis", source: "redis://127.0.0.1:6379", target: "rediss://user:@cache:6379",
                                     outcome: outcome, startedAt: Date(timeIntervalSince1970: 1_800_000_000),
                                     finishedAt: Date(timeIntervalSince1970: 1_800_000_090),
                                     problems: ["1 record(s) the target refused are listed with their reasons in /tmp/d.jsonl"],
                                     ledger: LedgerAudit(ledger: ledger, before: ["db0": 0, "db1 <b>": 0], onTarget: ["db0": 9, "db1 <b>": 2]))
        report.refused = RefusedRecords(file: "/tmp/d.jsonl", count: 1, first: [#"{"key":"denied:<1>","reason":"NOPERM"}"#])
        var series = ProgressSeries(interval: 2)
        for index in 1...5 {
            series.append(ProgressSample(phase: "redis", unit: "keys", at: Double(index * 2), seconds: 2, done: index * 2, bytes: index * 100,
                                         recordsPerSecond: 1, bytesPerSecond: 50, retries: index == 3 ? ["TransportError.connectionLost": 2] : [:]))
        }
        for index in 6...8 {
            series.append(ProgressSample(phase: "redis live", unit: "keys", at: Double(index * 2), seconds: 2, done: index, bytes: 0,
                                         recordsPerSecond: 0.5, bytesPerSecond: 0, lagMs: index * 10, pending: index))
        }
        report.timeline = series
        report.context = RunContext(toolVersion: "9.9.9", arguments: ["redis", "--source", "redis://:***@127.0.0.1:6379"],
                                    facts: [["source version", "redis 7.2.4, standalone"]])
        return report
    }

    @Test func theVerdictComesFirstAndNamesTheOutcomeAndWhy() {
        let page = ReportPage.render(Self.report())
        let body = page.range(of: "<main>")!.upperBound
        #expect(page[body...].hasPrefix("<p id=\"verdict\" class=\"verdict outcome-incomplete\" data-outcome=\"incomplete\"><strong>▲ Refused records:</strong> the target refused 1 keys, listed with their reasons in /tmp/d.jsonl; the other 11 were written.</p>"), "\(page.prefix(3000))")
    }

    @Test func everyUnitHasALedgerRowAndDataIsEscaped() {
        let page = ReportPage.render(Self.report())
        #expect(page.contains("<tr data-unit=\"db0\" class=\"ok\">"))
        #expect(page.contains("<tr data-unit=\"db1 &lt;b&gt;\" class=\"ok\">"))
        #expect(page.contains("1 (--exclude tmp:*: 1)"))
        #expect(page.contains("denied:&lt;1&gt;"))
        #expect(!page.contains("<b>"))
    }

    @Test func chartsHaveOneMarkerPerSample() {
        let page = ReportPage.render(Self.report())
        #expect(page.contains("data-chart=\"redis: keys per second\" data-points=\"5\""))
        #expect(page.contains("data-chart=\"redis live: lag behind the source\" data-points=\"3\""))
        #expect(page.contains("data-chart=\"retries by cause (running total)\" data-points=\"8\""))
        let charts = page.components(separatedBy: "<figure").dropFirst()
        for chart in charts {
            let declared = Int(chart.split(separator: "data-points=\"")[1].prefix { $0.isNumber })!
            let markers = chart.components(separatedBy: "class=\"point\"").count - 1
            #expect(markers == declared, "\(chart.prefix(200))")
        }
    }

    @Test func nothingIsFetched() {
        let page = ReportPage.render(Self.report(outcome: .failed))
        for forbidden in ["<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import", "xmlns"] {
            #expect(!page.contains(forbidden), "\(forbidden)")
        }
    }

    @Test func verdictsForEveryOutcome() {
        var report = Self.report(outcome: .succeeded)
        report.refused = nil
        #expect(ReportPage.verdict(report).hasPrefix("Succeeded: every one of the 13 selected keys is accounted for — 11 written, 1 skipped by a rule, none refused, and the target's count agrees."))
        report.command = "migrate verify redis"
        report.checksum = OrderIndependentChecksum()
        #expect(ReportPage.verdict(report) == "Succeeded: source and target are equal (checksums agree over 0 records).")
        report.outcome = .mismatched
        report.problems = ["missing in target: \"set\" (db 0)"]
        #expect(ReportPage.verdict(report) == "Differences: source and target differ in 1 place(s); the first: missing in target: \"set\" (db 0).")
        report.outcome = .failed
        #expect(ReportPage.verdict(report).hasPrefix("Failed: missing in target"))
    }

    @Test func aRunReportShowsEveryPhase() throws {
        let run = RunReport(configuration: "migration.yaml", startedAt: Date(timeIntervalSince1970: 1_800_000_000),
                            phases: [.init(phase: .keys, copy: Self.report(outcome: .succeeded)), .init(phase: .vectors, error: "no source")],
                            skipped: [.graph])
        let page = ReportPage.render(run)
        #expect(page.contains("data-outcome=\"failed\""))
        #expect(page.contains("<strong>✖ Failed:</strong> in phase vectors, it stopped: no source; not started: graph."), "\(page.prefix(2000))")
        #expect(page.contains("id=\"phase-keys\""))
        #expect(page.contains("<tr data-unit=\"db0\" class=\"ok\">"))
        // The JSON form reads back into the same page.
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let again = try decoder.decode(RunReport.self, from: encoder.encode(run))
        let rendered = ReportPage.render(again)
        let same = zip(rendered, page).prefix { $0 == $1 }.count
        #expect(rendered == page, "from \(String(rendered.dropFirst(max(0, same - 200)).prefix(300))) ≠ \(String(page.dropFirst(max(0, same - 200)).prefix(300)))")
    }
}

@Suite struct ProgressSeriesTests {
    /// Two phases sampled a day long the way a sampler does (each when the current interval has passed): the
    /// series stays within its capacity, keeps every retry, and its samples cover the day without gaps.
    @Test func aFullSeriesMergesPairsPerPhaseAndStaysBounded() {
        var series = ProgressSeries(interval: 2, capacity: 100)
        var last: [String: Double] = ["a": 0, "b": 0]
        var retries = 0
        for second in 1...86_400 {
            for phase in ["a", "b"] where Double(second) - last[phase]! >= series.interval {
                let span = Double(second) - last[phase]!
                last[phase] = Double(second)
                retries += 1
                series.append(ProgressSample(phase: phase, unit: "keys", at: Double(second), seconds: span, done: second, bytes: 0,
                                             recordsPerSecond: phase == "a" ? 10 : 20, bytesPerSecond: 0, lagMs: second, retries: ["E": 1]))
            }
        }
        #expect(series.samples.count <= 100 && series.samples.count >= 50, "\(series.samples.count)")
        #expect(series.interval == 2048)
        #expect(series.retries == ["E": retries], "merging keeps every retry")
        #expect(series.samples.filter { $0.phase == "a" }.allSatisfy { $0.recordsPerSecond == 10 }, "a phase's rate is averaged with its own")
        #expect(series.samples.map(\.at) == series.samples.map(\.at).sorted())
        #expect(series.samples.last?.lagMs == 86_400 - 86_400 % 2048 || series.samples.last!.lagMs! > 80_000)
        let a = series.samples.filter { $0.phase == "a" }
        #expect(a.allSatisfy { $0.seconds <= series.interval }, "no sample covers more than the interval: \(a.map(\.seconds))")
        #expect(a.map(\.seconds).reduce(0, +) == a.last!.at, "the samples still cover the whole day without gaps")
    }
}
