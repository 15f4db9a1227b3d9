import ArgumentParser
import Foundation
import MigrationCore
import MigrationPlanning

/// `migrate plan`.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Inventory every source, check every target and estimate the time, before anything is written.",
        discussion: """
            For each phase of the configuration: keys (counts and memory per database and type, big keys, target \
            version, cluster mode, memory left, database mapping), vectors (tables or collections, rows, dimensions; \
            target dimensions, distances, columns, what would be created), graph (nodes per label set, relationships \
            per type, what Neptune's literal rule does to the properties). A short sample of each source is read and \
            timed for the estimate. Every problem is listed, each with its fix; the exit status is 2 if there is any.

            Start from the application's own environment:
              migrate plan --from-env .env --to-env aws.env --write-config migration.yaml
            writes a configuration that refers to the variables in those files (no secret is copied), then plans it.
            """
    )

    @Option(name: .customLong("config"), help: ArgumentHelp("The migration plan to check.", valueName: "path"))
    var configurationPath = "migration.yaml"
    @Option(name: .customLong("from-env"), help: ArgumentHelp("Write the configuration from the application's .env (REDIS_URI, POSTGRES_*, QDRANT_URL, NEO4J_*, MEMGRAPH_URI) first.", valueName: "path"))
    var sourceEnvironment: String?
    @Option(name: .customLong("to-env"), help: ArgumentHelp("With --from-env: the application's environment after cutover, naming the targets.", valueName: "path"))
    var targetEnvironment: String?
    @Option(name: .customLong("write-config"), help: ArgumentHelp("With --from-env: where to write the configuration (default: --config's path).", valueName: "path"))
    var writeConfiguration: String?
    @Flag(name: .customLong("force"), help: "With --from-env: replace an existing configuration file.")
    var force = false
    @Option(name: .customLong("sample"), help: ArgumentHelp("Records read from each source to measure the rate.", valueName: "n"))
    var sampleSize = 1000
    @Flag(name: .customLong("json"), help: "Write the plan as one JSON line on standard output.")
    var json = false

    func validate() throws {
        if sourceEnvironment == nil && (targetEnvironment != nil || writeConfiguration != nil || force) {
            throw ValidationError("--to-env, --write-config and --force go with --from-env")
        }
        try OptionCheck.number("--sample", sampleSize, in: 1...100_000, example: 1000)
        if let sourceEnvironment {
            try OptionCheck.readableFile("--from-env", sourceEnvironment)
            try OptionCheck.readableFile("--to-env", targetEnvironment)
            try OptionCheck.writableFile(writeConfiguration == nil ? "--config" : "--write-config", writeConfiguration ?? configurationPath)
        } else {
            try OptionCheck.readableFile("--config", configurationPath)
        }
    }

    func run() async throws {
        var path = configurationPath
        if let sourceEnvironment {
            path = writeConfiguration ?? configurationPath
            try generate(from: sourceEnvironment, to: path)
        }
        let configuration = try MigrationConfiguration.loadForCommand(path)
        var plans: [PhasePlan] = []
        for (index, settings) in configuration.phases.enumerated() {
            if !json { FileHandle.standardError.write(Data("== [\(index + 1)/\(configuration.phases.count)] \(settings.phase.rawValue): inventory\n".utf8)) }
            let commands = PhaseCommands(configuration: configuration, settings: settings)
            do {
                let command = try commands.copy()
                plans.append(try await commands.withSecrets { try await command.inventory(sampleSize: sampleSize) })
            } catch {
                plans.append(PhasePlan(phase: settings.phase.rawValue, source: "?", target: "?", unit: "records", problems: [Self.describe(error)]))
            }
        }
        let summary = PlanSummary(configuration: path, phases: plans)
        if json {
            print(JSONLines.encode(event: "plan", summary))
        } else {
            print(summary.rendered(), terminator: "")
        }
        if summary.problemCount > 0 { throw ExitCodes.failed }
    }

    /// Writes the configuration from the application's environment files.
    private func generate(from sourcePath: String, to path: String) throws {
        func read(_ file: String) throws -> DotEnv {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file): check the path") }
            do {
                return try DotEnv(parsing: String(decoding: data, as: UTF8.self), path: file)
            } catch {
                throw ValidationError(error.description)
            }
        }
        if FileManager.default.fileExists(atPath: path) && !force {
            throw ValidationError("\(path) exists: pass --force to replace it, or --write-config another path")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path
        func relative(_ file: String) -> String {
            let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
            return absolute.hasPrefix(directory + "/") ? String(absolute.dropFirst(directory.count + 1)) : absolute
        }
        var template = ConfigurationTemplate(source: try read(sourcePath), sourcePath: relative(sourcePath),
                                             target: try targetEnvironment.map(read), targetPath: targetEnvironment.map(relative))
        let text = template.render()
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot write \(path): \(error.localizedDescription)")
        }
        FileHandle.standardError.write(Data("wrote \(path) from \(sourcePath)\(targetEnvironment.map { " and \($0)" } ?? "")\n".utf8))
        let unset = template.placeholders.filter { ProcessInfo.processInfo.environment[$0] == nil }
        if !unset.isEmpty {
            FileHandle.standardError.write(Data("set \(unset.joined(separator: ", ")) (or edit \(path)) to name the targets\n".utf8))
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? ValidationError { return error.message }
        return "\(error)"
    }
}

/// Every phase's plan, the total estimate and the problem count.
struct PlanSummary: Encodable {
    var configuration: String
    var phases: [PhasePlan]

    var problemCount: Int { phases.reduce(0) { $0 + $1.problems.count } }
    /// The sum of the phases' estimates, when every phase has one.
    var estimatedSeconds: Double? {
        let estimates = phases.compactMap(\.estimatedSeconds)
        return estimates.count == phases.count ? estimates.reduce(0, +) : nil
    }

    func rendered() -> String {
        var text = phases.map { $0.rendered() }.joined(separator: "\n")
        text += "\nmigrate plan --config \(configuration): "
        text += problemCount == 0 ? "READY" : "\(problemCount) PROBLEM\(problemCount == 1 ? "" : "S") to fix before `migrate run`"
        if let estimatedSeconds { text += "; at least \(Format.duration(estimatedSeconds)) in all" }
        return text + "\n"
    }

    private enum CodingKeys: String, CodingKey { case configuration, phases, problemCount, estimatedSeconds }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(configuration, forKey: .configuration)
        try container.encode(phases, forKey: .phases)
        try container.encode(problemCount, forKey: .problemCount)
        try container.encodeIfPresent(estimatedSeconds, forKey: .estimatedSeconds)
    }
}
