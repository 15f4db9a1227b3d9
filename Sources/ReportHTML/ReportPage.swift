import Foundation
import MigrationCore
import MigrationPlanning

/// Reports as one self-contained HTML page for the people who sign off a cutover: the verdict in one sentence
/// first, then the ledger, the verification, the refused records, charts over time, and where and how the run
/// ran. Inline CSS and SVG only: nothing is fetched (no script, font, image or style sheet), so the page opens
/// inside closed networks and can be attached to a change ticket. A pure rendering of the JSON report: the
/// same report always gives the same page.
public enum ReportPage {
    /// The page of one command's report (`migrate redis`, `migrate verify vectors`, ...).
    public static func render(_ report: MigrationReport) -> String {
        var body = HTMLText()
        verdict(outcome: report.outcome, sentence: verdict(report), into: &body)
        section(report, level: 2, into: &body)
        return page(title: "\(report.command): \(report.outcome.rawValue)", body: body)
    }

    /// The page of `migrate run`: the whole run's verdict, a summary per phase, then each phase's copy and
    /// verification.
    public static func render(_ report: RunReport) -> String {
        var body = HTMLText()
        verdict(outcome: report.outcome, sentence: verdict(report), into: &body)
        body.wrap("section", attributes: "id=\"run\"") { html in
            html.element("h2", "Run")
            html.definitions([
                ("command", "migrate run --config \(report.configuration)"),
                ("started", timestamp(report.startedAt)), ("finished", timestamp(report.finishedAt)),
                ("duration", duration(report.startedAt, report.finishedAt)),
            ] + (report.phases.compactMap { $0.copy?.context ?? $0.verification?.context }.first.map { [("tool version", $0.toolVersion)] } ?? []))
            let rows = report.phases.map { result in
                [result.phase.rawValue, result.copy?.outcome.rawValue ?? "-", result.copy.map { duration($0.startedAt, $0.finishedAt) } ?? "-",
                 result.verification?.outcome.rawValue ?? "-", result.outcome.rawValue]
            } + report.skipped.map { [$0.rawValue, "not started", "-", "-", "-"] }
            html.table(columns: ["phase", "copy", "time", "verify", "outcome"], rows: rows, attributes: "class=\"phases\"")
        }
        for result in report.phases {
            body.wrap("section", attributes: "class=\"phase\" id=\"phase-\(HTMLText.escape(result.phase.rawValue))\"") { html in
                html.element("h2", "Phase \(result.phase.rawValue): \(result.outcome.rawValue)")
                if let error = result.error { html.element("p", "The phase stopped: \(error)", attributes: "class=\"problem\"") }
                for (name, part) in [("copy", result.copy), ("verification", result.verification)] {
                    guard let part else { continue }
                    html.wrap("article", attributes: "class=\"part\"") { html in
                        html.element("h3", "\(name): \(part.command) — \(part.outcome.rawValue)")
                        html.element("p", verdict(part), attributes: "class=\"sentence\"")
                        section(part, level: 4, into: &html)
                    }
                }
            }
        }
        return page(title: "migrate run: \(report.outcome.rawValue)", body: body)
    }

    /// The page of `migrate status`: every checkpoint in `directory`, finished or not, with its ledger and
    /// partitions.
    public static func render(checkpoints: [(path: String, checkpoint: Checkpoint)], directory: String, toolVersion: String, at date: Date) -> String {
        var body = HTMLText()
        let unfinished = checkpoints.filter { !$0.checkpoint.finished }.count
        let sentence = checkpoints.isEmpty
            ? "No checkpoints in \(directory): no run has started there."
            : unfinished == 0
                ? "All \(checkpoints.count) run(s) in \(directory) finished."
                : "\(unfinished) of \(checkpoints.count) run(s) in \(directory) are unfinished: continue each with --resume."
        body.raw("<p id=\"verdict\" class=\"verdict outcome-\(unfinished == 0 ? "succeeded" : "incomplete")\" data-outcome=\"\(unfinished == 0 ? "finished" : "unfinished")\">")
        body.element("strong", unfinished == 0 ? "FINISHED" : "UNFINISHED")
        body.text(" " + sentence)
        body.raw("</p>")
        body.wrap("section", attributes: "id=\"run\"") { html in
            html.element("h2", "Status")
            html.definitions([("command", "migrate status --checkpoint-dir \(directory)"), ("taken", timestamp(date)), ("tool version", toolVersion)])
        }
        for (path, checkpoint) in checkpoints {
            body.wrap("section", attributes: "class=\"checkpoint\"") { html in
                html.element("h2", "\(checkpoint.migration): \(checkpoint.finished ? "finished" : "unfinished")")
                html.definitions([("checkpoint", path), ("started", timestamp(checkpoint.startedAt)), ("last written", timestamp(checkpoint.updatedAt))])
                ledger(LedgerAudit(ledger: checkpoint.ledger, before: checkpoint.targetBefore ?? [:], onTarget: nil), level: 3, into: &html)
                html.element("h3", "Partitions")
                html.table(columns: ["partition", "state", "position", "counts"], rows: checkpoint.partitions.sorted { $0.key < $1.key }.map { name, partition in
                    [name, partition.finished ? "done" : "in progress", partition.position,
                     partition.tally.counts.sorted { $0.key < $1.key }.map { "\($0.key) \(Format.count($0.value))" }.joined(separator: ", ")]
                })
            }
        }
        return page(title: "migrate status: \(unfinished) unfinished", body: body)
    }

    // MARK: Verdicts

    /// The report's outcome and why, in one sentence.
    public static func verdict(_ report: MigrationReport) -> String {
        let isVerification = report.command.hasPrefix("migrate verify")
        let total = report.ledger?.total
        let unit = report.timeline?.samples.first?.unit ?? "records"
        switch report.outcome {
        case .succeeded where isVerification:
            return "Succeeded: source and target are equal"
                + (report.checksum.map { " (checksums agree over \(Format.count($0.count)) records)" } ?? "") + "."
        case .succeeded:
            guard let total else { return "Succeeded: everything was copied." }
            let skipped = total.skippedTotal > 0 ? ", \(Format.count(total.skippedTotal)) skipped by a rule" : ""
            let counted = report.ledger?.rows.contains { $0.onTarget != nil } == true ? ", and the target's count agrees" : ""
            return "Succeeded: every one of the \(Format.count(total.selected)) selected \(unit) is accounted for — \(Format.count(total.written)) written\(skipped), none refused\(counted)."
        case .incomplete:
            let refused = report.refused?.count ?? total?.refused ?? 0
            let file = report.refused.map { ", listed with their reasons in \($0.file)" } ?? ""
            return "Refused records: the target refused \(Format.count(refused)) \(unit)\(file); the other \(Format.count(total?.written ?? 0)) were written."
        case .mismatched:
            let first = report.problems.first.map { "; the first: \($0)" } ?? ""
            return "Differences: source and target differ in \(Format.count(differenceCount(report))) place(s)\(first)."
        case .failed:
            return "Failed: " + (report.problems.first ?? "the run stopped before it finished; continue with --resume") + "."
        case .dryRun:
            return "Dry run: \(Format.count(total?.selected ?? 0)) \(unit) were read and nothing was written."
        }
    }

    /// The whole run's outcome and why, in one sentence.
    public static func verdict(_ report: RunReport) -> String {
        let names = report.phases.map(\.phase.rawValue).joined(separator: ", ")
        let notStarted = report.skipped.isEmpty ? "" : "; not started: \(report.skipped.map(\.rawValue).joined(separator: ", "))"
        guard let worst = report.phases.first(where: { $0.outcome == report.outcome && $0.outcome != .succeeded }) else {
            return report.outcome == .succeeded
                ? "Succeeded: every phase (\(names)) was copied and verified."
                : "\(label(report.outcome)): phases \(names)\(notStarted)."
        }
        // The phase's own verdict without its first words, which the run's verdict already says.
        let detail = worst.error.map { "it stopped: \($0)" }
            ?? [worst.verification, worst.copy].compactMap { $0 }.first { $0.outcome == worst.outcome }.map { part in
                let sentence = verdict(part)
                return String(sentence.firstRange(of: ": ").map { sentence[$0.upperBound...] } ?? sentence[...]).trimmingCharacters(in: ["."])
            } ?? worst.outcome.rawValue
        return "\(label(report.outcome)): in phase \(worst.phase.rawValue), \(detail)\(notStarted)."
    }

    private static func differenceCount(_ report: MigrationReport) -> Int {
        let counted = report.totals.counts.filter { $0.key.contains("missing") || $0.key.contains("extra") || $0.key.contains("differ") }
            .values.reduce(0, +)
        return max(counted, report.problems.count)
    }

    private static func label(_ outcome: MigrationReport.Outcome) -> String {
        switch outcome {
        case .succeeded: return "Succeeded"
        case .incomplete: return "Refused records"
        case .mismatched: return "Differences"
        case .failed: return "Failed"
        case .dryRun: return "Dry run"
        }
    }

    private static func verdict(outcome: MigrationReport.Outcome, sentence: String, into html: inout HTMLText) {
        let mark: String
        switch outcome {
        case .succeeded, .dryRun: mark = "✔"
        case .incomplete, .mismatched: mark = "▲"
        case .failed: mark = "✖"
        }
        // The sentence's first words (`Refused records:`) in bold after a mark, so the state reads without colour.
        let head = sentence.firstRange(of: ": ").map { sentence[..<$0.upperBound] } ?? ""
        html.raw("<p id=\"verdict\" class=\"verdict outcome-\(outcome.rawValue)\" data-outcome=\"\(outcome.rawValue)\">")
        html.element("strong", "\(mark) \(head.dropLast())")
        html.text(" " + sentence.dropFirst(head.count))
        html.raw("</p>")
    }

    // MARK: Sections

    /// Everything one report holds, with headings at `level`.
    private static func section(_ report: MigrationReport, level: Int, into html: inout HTMLText) {
        let heading = "h\(min(level, 6))"
        html.wrap("section", attributes: "class=\"facts\"") { html in
            html.element(heading, "Run")
            var pairs = [("command", report.command), ("outcome", report.outcome.rawValue), ("started", timestamp(report.startedAt)),
                         ("finished", timestamp(report.finishedAt)), ("duration", duration(report.startedAt, report.finishedAt)),
                         ("resumed", report.resumed ? "yes, from a checkpoint" : "no")]
            if let checkpoint = report.checkpoint { pairs.append(("checkpoint", checkpoint)) }
            if let context = report.context { pairs.append(("tool version", context.toolVersion)) }
            html.definitions(pairs)
        }
        if let audit = report.ledger { ledger(audit, level: level, into: &html) }
        html.wrap("section", attributes: "class=\"verification\"") { html in
            html.element(heading, report.command.hasPrefix("migrate verify") ? "Verification" : "Counts and checksum")
            if !report.totals.counts.isEmpty {
                html.table(columns: ["total", "count"], rows: report.totals.counts.sorted { $0.key < $1.key }.map { [$0.key, Format.count($0.value)] },
                           attributes: "class=\"totals\"")
            }
            if let checksum = report.checksum {
                html.element("p", "Checksum \(checksum.hex) over \(Format.count(checksum.count)) records (order-independent; copy and verify print the same one).",
                             attributes: "class=\"checksum\"")
            }
            for table in report.sections where !table.rows.isEmpty {
                html.element("h\(min(level + 1, 6))", table.title)
                html.table(columns: table.columns, rows: table.rows)
            }
            if !report.problems.isEmpty {
                html.element("h\(min(level + 1, 6))", report.outcome == .mismatched ? "First differences (\(report.problems.count))" : "Problems (\(report.problems.count))")
                html.wrap("ol", attributes: "class=\"problems\"") { html in
                    for problem in report.problems { html.element("li", problem) }
                }
            }
        }
        if let refused = report.refused { self.refused(refused, heading: heading, into: &html) }
        if let timeline = report.timeline { charts(timeline, heading: heading, into: &html) }
        context(report, heading: heading, into: &html)
    }

    /// The ledger, one row per unit (`data-unit`), with the rule of every skip and the reason a unit does not balance.
    private static func ledger(_ audit: LedgerAudit, level: Int, into html: inout HTMLText) {
        html.wrap("section", attributes: "class=\"ledger\"") { html in
            html.element("h\(min(level, 6))", "Ledger: selected = written + refused + skipped")
            let hasTarget = audit.rows.contains { $0.onTarget != nil }
            var columns = ["unit", "selected", "written", "refused", "skipped"]
            if hasTarget { columns += ["on target before", "on target"] }
            columns.append("balance")
            func cells(_ unit: String, _ entry: Ledger.Entry, before: Int?, onTarget: Int?, problem: String?) -> [String] {
                let rules = entry.skipped.sorted { $0.key < $1.key }.map { "\($0.key): \(Format.count($0.value))" }.joined(separator: "; ")
                var row = [unit, Format.count(entry.selected), Format.count(entry.written), Format.count(entry.refused),
                           Format.count(entry.skippedTotal) + (rules.isEmpty ? "" : " (\(rules))")]
                if hasTarget { row += [before.map(Format.count) ?? "-", onTarget.map(Format.count) ?? "-"] }
                row.append(problem.map { "NO: \($0)" } ?? "ok")
                return row
            }
            var rows = audit.rows.map { cells($0.unit, $0.entry, before: $0.before, onTarget: $0.onTarget, problem: $0.problem) }
            if audit.rows.count > 1 {
                rows.append(cells("(all)", audit.total, before: nil, onTarget: hasTarget ? audit.rows.compactMap(\.onTarget).reduce(0, +) : nil,
                                  problem: audit.problems.first?.problem))
            }
            html.table(columns: columns, rows: rows, attributes: "class=\"ledger\"") { index in
                index < audit.rows.count
                    ? "data-unit=\"\(HTMLText.escape(audit.rows[index].unit))\" class=\"\(audit.rows[index].problem == nil ? "ok" : "bad")\""
                    : "class=\"total\""
            }
        }
    }

    private static func refused(_ refused: RefusedRecords, heading: String, into html: inout HTMLText) {
        html.wrap("section", attributes: "class=\"refused\"") { html in
            html.element(heading, "Refused records (\(Format.count(refused.count)))")
            html.wrap("p") { html in
                html.text("Every refused record is listed with the target's reason in the dead-letter file ")
                html.element("code", refused.file, attributes: "class=\"dead-letter\"")
                html.text(refused.count > refused.first.count ? "; the first \(refused.first.count) follow." : ".")
            }
            html.wrap("ol", attributes: "class=\"refused-records\"") { html in
                for line in refused.first { html.wrap("li") { $0.element("code", line) } }
            }
        }
    }

    /// Records/s and bytes/s per phase, live lag and pending changes, retries by cause.
    private static func charts(_ timeline: ProgressSeries, heading: String, into html: inout HTMLText) {
        html.wrap("section", attributes: "class=\"charts\"") { html in
            html.element(heading, "Over time")
            let span = timeline.samples.last?.at ?? 0
            html.element("p", "\(timeline.samples.count) samples, one every \(Format.duration(timeline.interval)) (m:ss); each marker is one sample.",
                         attributes: "class=\"note\"")
            for phase in timeline.phases {
                let samples = timeline.samples.filter { $0.phase == phase }
                let unit = samples.first?.unit ?? "records"
                Chart(title: "\(phase): \(unit) per second", unit: "\(unit)/s",
                      series: [.init(label: phase, points: samples.map { ($0.at, $0.recordsPerSecond) })], span: span, format: compact).render(into: &html)
                if samples.contains(where: { $0.bytes > 0 }) {
                    Chart(title: "\(phase): bytes per second", unit: "bytes/s",
                          series: [.init(label: phase, points: samples.map { ($0.at, $0.bytesPerSecond) })], span: span, format: { Format.bytes(Int($0)) }).render(into: &html)
                }
                let live = samples.filter { $0.lagMs != nil || $0.pending != nil }
                if !live.isEmpty {
                    Chart(title: "\(phase): lag behind the source", unit: "ms",
                          series: [.init(label: "lag", points: live.map { ($0.at, Double($0.lagMs ?? 0)) })], span: span, format: compact).render(into: &html)
                    Chart(title: "\(phase): pending changes", unit: "changes",
                          series: [.init(label: "pending", points: live.map { ($0.at, Double($0.pending ?? 0)) })], span: span, format: compact).render(into: &html)
                }
            }
            let causes = timeline.retries.keys.sorted()
            if causes.isEmpty {
                html.element("p", "No retries: no read or write failed.", attributes: "class=\"retries none\"")
            } else {
                // Running totals per cause, one point per sample.
                var running: [String: Int] = [:]
                var points: [String: [(Double, Double)]] = [:]
                for sample in timeline.samples {
                    running.merge(sample.retries, uniquingKeysWith: +)
                    for cause in causes { points[cause, default: []].append((sample.at, Double(running[cause] ?? 0))) }
                }
                Chart(title: "retries by cause (running total)", unit: "retries",
                      series: causes.map { .init(label: "\($0) (\(timeline.retries[$0]!))", points: points[$0] ?? []) }, span: span, format: compact).render(into: &html)
            }
        }
    }

    private static func context(_ report: MigrationReport, heading: String, into html: inout HTMLText) {
        html.wrap("section", attributes: "class=\"context\"") { html in
            html.element(heading, "Source, target and options")
            html.table(columns: ["", "value"], rows: [["source", report.source], ["target", report.target]] + (report.context?.facts ?? []),
                       attributes: "class=\"endpoints\"")
            if let context = report.context, !context.arguments.isEmpty {
                html.element("p", "Options (secrets redacted):")
                html.element("pre", context.arguments.map(shellQuoted).joined(separator: " "), attributes: "class=\"arguments\"")
            }
            if !report.notes.isEmpty {
                html.element("p", "Notes:")
                html.wrap("ul", attributes: "class=\"notes\"") { html in
                    for note in report.notes { html.element("li", note) }
                }
            }
        }
    }

    // MARK: Page

    private static func page(title: String, body: HTMLText) -> String {
        var html = HTMLText()
        html.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        html.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        html.element("title", title)
        html.raw("<style>\(style)</style></head><body><main>")
        html.raw(body.text)
        html.raw("</main></body></html>\n")
        return html.text
    }

    /// `2026-12-03 15:52:40 UTC`.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: wholeSecond(date)) + " UTC"
    }

    /// From `start` to `end` as `1:02:03`, in whole seconds as the JSON report keeps the times, so that the page
    /// of a report read back from JSON is the page of the report itself.
    private static func duration(_ start: Date, _ end: Date) -> String {
        Format.duration(wholeSecond(end).timeIntervalSince(wholeSecond(start)))
    }

    private static func wholeSecond(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    /// `1.2k`, `3.4M`: axis values.
    private static func compact(_ value: Double) -> String {
        switch abs(value) {
        case 1_000_000...: return String(format: "%.1fM", value / 1_000_000)
        case 1_000...: return String(format: "%.1fk", value / 1_000)
        case 10...: return String(format: "%.0f", value)
        default: return String(format: "%.1f", value)
        }
    }

    private static func shellQuoted(_ argument: String) -> String {
        let plain = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@,*+%".contains($0) }
        return plain && !argument.isEmpty ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Readable in colour or not (every state is a word, every series a marker shape and dash pattern), at a
    /// phone's width, and in print.
    private static let style = """
        :root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0}
        *{box-sizing:border-box}
        body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#fff}
        main{max-width:980px;margin:0 auto;padding:16px}
        h2{font-size:1.25em;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:1.6em}
        h3,h4{font-size:1.05em;margin:1.2em 0 .4em}
        .verdict{font-size:1.15em;padding:12px 14px;border:3px solid var(--ok);border-left-width:12px;margin:0 0 12px}
        .verdict strong{margin-right:.3em}
        .outcome-succeeded,.outcome-dry-run{border-color:var(--ok)}
        .outcome-incomplete,.outcome-mismatched{border-color:var(--warn);border-style:dashed}
        .outcome-failed{border-color:var(--bad);border-style:double;border-width:6px 6px 6px 14px}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}
        dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
        .scroll{overflow-x:auto;margin:6px 0 10px}
        table{border-collapse:collapse;min-width:50%}
        th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
        th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
        tr.bad td{font-weight:600;background:#fff1f0}tr.bad td:last-child::before{content:"\\2716  "}
        tr.total td{font-weight:600;border-top:2px solid var(--ink)}
        ol.problems li,.refused li{overflow-wrap:anywhere}
        code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
        pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:8px;border:1px solid var(--line)}
        figure.chart{margin:10px 0 18px;break-inside:avoid}
        figcaption{font-weight:600;margin-bottom:2px}
        figure svg{width:100%;height:auto;max-width:720px;display:block}
        .grid{stroke:#d1d9e0;stroke-width:1}
        .axis{font-size:11px;fill:var(--muted)}
        .series polyline{fill:none;stroke-width:1.6}
        .s0 polyline{stroke:#0969da}.s0 .point,.s0 .mark{fill:#0969da}
        .s1 polyline{stroke:#bc4c00}.s1 .point,.s1 .mark{fill:#bc4c00}
        .s2 polyline{stroke:#8250df}.s2 .point,.s2 .mark{fill:#8250df}
        .s3 polyline{stroke:#1a7f37}.s3 .point,.s3 .mark{fill:#1a7f37}
        ul.legend{list-style:none;padding:0;margin:2px 0;font-size:.9em}
        svg.key{width:36px;height:12px;display:inline;vertical-align:middle}
        .note,.empty{color:var(--muted);font-size:.9em}
        @media (max-width:600px){body{font-size:14px}main{padding:10px}dl{grid-template-columns:1fr}dt{font-weight:600}}
        @media print{body{font-size:10pt}main{max-width:none;padding:0}.scroll{overflow:visible}
        section,figure,table{break-inside:avoid}h2{break-after:avoid}th{background:none}
        .verdict{border-color:#000}.series polyline{stroke:#000}.series .point{fill:#000}}
        """
}
