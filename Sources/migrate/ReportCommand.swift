import ArgumentParser
import Foundation
import MigrationCore
import MigrationPlanning
import ReportHTML
import Transport

/// `migrate report REPORT.json --html FILE`: the HTML page of a report written earlier with `--report`.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a JSON report (--report of any command, or of migrate run) as one self-contained HTML page.",
        discussion: """
            The page needs nothing from the network (inline CSS and SVG): the verdict in one sentence, the ledger \
            per unit, the verification, the refused records, charts of records/s, bytes/s, live lag and retries over \
            time, source, target and options with secrets redacted. `--report-html FILE` on a command writes the \
            same page directly.
            """
    )

    @Argument(help: ArgumentHelp("A report written with --report.", valueName: "report.json"))
    var reportFile: String
    @Option(name: .customLong("html"), help: ArgumentHelp("Write the page to this file.", valueName: "path"))
    var htmlFile: String

    func validate() throws {
        try OptionCheck.writableFile("--html", htmlFile)
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: reportFile) else {
            throw ValidationError("cannot read '\(reportFile)': check the path and its permissions")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        let page: String
        if let report = try? decoder.decode(MigrationReport.self, from: data) {
            page = ReportPage.render(report)
        } else {
            do {
                page = ReportPage.render(try decoder.decode(RunReport.self, from: data))
            } catch {
                throw ValidationError("'\(reportFile)' is not a report of migrate (written with --report): \(error)")
            }
        }
        try await ReportFile.write(text: page, toPath: htmlFile)
    }
}

/// What `--report` and `--report-html` share: the checks of the path before any work, the context recorded
/// with each report, and the writing of the page.
enum ReportOutput {
    /// The tool's version, as reports and `migrate --version` show it.
    static let toolVersion = "0.9.0"

    /// `arguments` with the password of every URI in them replaced by `***`.
    static func redacted(_ arguments: [String]) -> [String] {
        arguments.map(ServiceURI.redact)
    }

    /// Runs `body` keeping a timeline, and adds it and the run's context (with whether each side uses TLS) to
    /// the report it returns.
    static func recording(arguments: [String], facts: [[String]],
                          _ body: () async throws -> MigrationReport) async throws -> MigrationReport {
        var (report, timeline) = try await ProgressTimeline.recording { try await body() }
        report.timeline = timeline
        report.context = RunContext(toolVersion: toolVersion, arguments: redacted(arguments),
                                    facts: facts + [["source TLS", tls(report.source)], ["target TLS", tls(report.target)]])
        return report
    }

    /// Facts about source and target for the report (versions, topology, memory), from a copy command's
    /// inventory without a sample; none when no report file is asked for, so a run without one starts at once.
    static func facts(of command: any PhaseCopyCommand, wanted: Bool) async -> [[String]] {
        guard wanted, let plan = try? await command.inventory(sampleSize: 0) else { return [] }
        return plan.facts
    }

    /// Whether an address (`rediss://…`, `https://…`, `bolt+s://…`, `postgres://…?sslmode=require`) asks for TLS.
    static func tls(_ address: String) -> String {
        let scheme = address.prefix { $0 != ":" }.lowercased()
        let secure = ["rediss", "valkeys", "https", "bolt+s", "bolt+ssc", "neo4j+s", "neo4j+ssc"].contains(scheme)
            || ["sslmode=require", "sslmode=verify-ca", "sslmode=verify-full"].contains { address.contains($0) }
        return secure ? "yes (\(scheme))" : "no"
    }
}
