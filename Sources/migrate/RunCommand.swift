import ArgumentParser
import Foundation
import MigrationCore
import MigrationPlanning
import ReportHTML

/// `migrate run --config migration.yaml`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run every phase of a migration plan in order (keys, vectors, graph), each resumable and verified, with one report.",
        discussion: """
            Each phase runs its command (migrate redis, vectors, graph) with the options the configuration gives it, \
            then its verification (unless the phase says `verify: false`). Run it again after a crash or a kill: an \
            unfinished phase continues from its checkpoint, a finished one is not copied again (only verified), \
            unless --fresh. The run stops at the first phase that fails; `migrate status` shows the checkpoints.

            Exit status: 0 when every phase copied and verified, 2 when one failed or left records behind, 3 when \
            a verification found differences.
            """
    )

    @Option(name: .customLong("config"), help: ArgumentHelp("The migration plan (see `migrate plan --from-env`).", valueName: "path"))
    var configurationPath = "migration.yaml"
    @Option(name: .customLong("phase"), help: ArgumentHelp("Run only this phase: keys, vectors or graph (repeatable).", valueName: "name"))
    var only: [MigrationConfiguration.Phase] = []
    @Option(name: .customLong("shard"), help: ArgumentHelp("""
        Run shard i of N of every phase (--shard of migrate redis, vectors and graph and their verify), e.g. from a \
        Kubernetes Indexed Job; N processes with 0/N … N-1/N cover every store exactly once.
        """, valueName: "i/N"))
    var shard: Shard?
    @Flag(name: .customLong("fresh"), help: "Copy every phase again from the start, discarding checkpoints.")
    var fresh = false
    @Flag(name: .customLong("skip-verify"), help: "Copy without verifying afterwards.")
    var skipVerify = false
    @Flag(name: .customLong("json"), help: "Progress and the final report as JSON lines on standard output.")
    var json = false
    @Option(name: .customLong("report"), help: ArgumentHelp("Also write the final report as JSON to this file.", valueName: "path"))
    var reportFile: String?
    @Option(name: .customLong("report-html"), help: ArgumentHelp("Also write the report as one self-contained HTML page to this file.", valueName: "path"))
    var reportHTML: String?

    func validate() throws {
        try OptionCheck.readableFile("--config", configurationPath)
        try OptionCheck.writableFile("--report", reportFile)
        try OptionCheck.writableFile("--report-html", reportHTML)
    }

    func run() async throws {
        let configuration = try MigrationConfiguration.loadForCommand(configurationPath)
        let phases = configuration.phases.filter { only.isEmpty || only.contains($0.phase) }
        let extra = (json ? ["--json"] : []) + (shard.map { ["--shard", $0.description] } ?? [])
        // Every phase's options are parsed before the first phase runs, so a mistake in the last one costs nothing.
        let steps = try phases.map { settings in
            let commands = PhaseCommands(configuration: configuration, settings: settings)
            return (settings, commands, try commands.copy(extra: extra + [fresh ? "--fresh" : "--resume"]),
                    skipVerify ? nil : try commands.verify(extra: extra))
        }
        let startedAt = Date()
        var results: [RunReport.PhaseResult] = []
        var skipped: [MigrationConfiguration.Phase] = []
        for (index, (settings, commands, copy, verify)) in steps.enumerated() {
            if let last = results.last, [.failed, .incomplete].contains(last.outcome) {
                skipped.append(settings.phase)
                continue
            }
            var result = RunReport.PhaseResult(phase: settings.phase)
            announce(settings.phase, step: "copy", index: index, of: phases.count)
            do {
                let wanted = reportFile != nil || reportHTML != nil
                result.copy = try await commands.withSecrets {
                    try await ReportOutput.recording(arguments: settings.arguments, facts: await ReportOutput.facts(of: copy, wanted: wanted)) {
                        try await copy.execute()
                    }
                }
                if let verify, result.copy?.outcome == .succeeded {
                    announce(settings.phase, step: "verify", index: index, of: phases.count)
                    result.verification = try await commands.withSecrets {
                        try await ReportOutput.recording(arguments: settings.verifyArguments ?? [], facts: []) { try await verify.execute() }
                    }
                }
            } catch {
                result.error = "\(error)"
            }
            results.append(result)
        }
        let report = RunReport(configuration: configurationPath, startedAt: startedAt, phases: results, skipped: skipped)
        if json {
            print(JSONLines.encode(event: "run-report", report))
        } else {
            print(report.rendered(), terminator: "")
        }
        if let reportFile {
            try await ReportFile.write(report, toPath: reportFile)
        }
        if let reportHTML {
            try await ReportFile.write(text: ReportPage.render(report), toPath: reportHTML)
        }
        try ExitCodes.check(report.outcome)
    }

    /// Marks the start of a step: a JSON line with `--json`, else a line on standard error.
    private func announce(_ phase: MigrationConfiguration.Phase, step: String, index: Int, of count: Int) {
        if json {
            print(JSONLines.encode(event: "phase", PhaseEvent(phase: phase, step: step, index: index + 1, count: count)))
        } else {
            FileHandle.standardError.write(Data("== [\(index + 1)/\(count)] \(phase.rawValue): \(step)\n".utf8))
        }
    }
}

/// `{"event":"phase","phase":"vectors","step":"copy","index":2,"count":3}`.
struct PhaseEvent: Encodable {
    var phase: MigrationConfiguration.Phase
    var step: String
    var index: Int
    var count: Int
}

extension MigrationConfiguration.Phase: ExpressibleByArgument {}
