import ArgumentParser
import Foundation
import MigrationCore
import MigrationPlanning

/// A store's copy command as a phase of `migrate plan` and `migrate run`.
protocol PhaseCopyCommand: AsyncParsableCommand {
    /// Runs the copy and returns its report; errors before the first write are thrown.
    func execute() async throws -> MigrationReport
    /// Inventories source and target without writing.
    func inventory(sampleSize: Int) async throws -> PhasePlan
}

/// A store's verification command as a phase of `migrate run`.
protocol PhaseVerifyCommand: AsyncParsableCommand {
    /// Runs the comparison and returns its report.
    func execute() async throws -> MigrationReport
}

extension RedisCommand: PhaseCopyCommand {}
extension VectorsCommand: PhaseCopyCommand {}
extension GraphCommand: PhaseCopyCommand {}
extension ObjectsCommand: PhaseCopyCommand {}
extension VerifyRedisCommand: PhaseVerifyCommand {}
extension VerifyVectorsCommand: PhaseVerifyCommand {}
extension VerifyGraphCommand: PhaseVerifyCommand {}
extension VerifyObjectsCommand: PhaseVerifyCommand {}

/// Turns a configuration's phase into parsed commands, and runs them with the phase's secrets.
struct PhaseCommands {
    let configuration: MigrationConfiguration
    let settings: MigrationConfiguration.PhaseSettings

    /// The copy command, parsed from the phase's options plus `extra`.
    func copy(extra: [String] = []) throws -> any PhaseCopyCommand {
        let arguments = withCheckpointDirectory(settings.arguments) + extra
        switch settings.phase {
        case .keys:
            let command = try parse(RedisCommand.self, arguments, command: "migrate redis")
            guard !command.live.enabled else { throw liveIsNotAPhase(command: "migrate redis --live") }
            return command
        case .vectors:
            let command = try parse(VectorsCommand.self, arguments, command: "migrate vectors")
            guard !command.live.enabled else { throw liveIsNotAPhase(command: "migrate vectors --live") }
            return command
        case .graph: return try parse(GraphCommand.self, arguments, command: "migrate graph")
        case .objects: return try parse(ObjectsCommand.self, arguments, command: "migrate objects")
        }
    }

    private func liveIsNotAPhase(command: String) -> ValidationError {
        ValidationError("\(configuration.path): \(settings.phase.rawValue): live sync runs until cutover, so it is not a phase: after `migrate run`, start `\(command)` with the same options")
    }

    /// The verification command, or `nil` when the phase says `verify: false`.
    func verify(extra: [String] = []) throws -> (any PhaseVerifyCommand)? {
        guard let arguments = settings.verifyArguments.map({ $0 + extra }) else { return nil }
        switch settings.phase {
        case .keys: return try parse(VerifyRedisCommand.self, arguments, command: "migrate verify redis")
        case .vectors: return try parse(VerifyVectorsCommand.self, arguments, command: "migrate verify vectors")
        case .graph: return try parse(VerifyGraphCommand.self, arguments, command: "migrate verify graph")
        case .objects: return try parse(VerifyObjectsCommand.self, arguments, command: "migrate verify objects")
        }
    }

    /// Runs `body` with the phase's secrets in the environment variables the commands read (for its task alone),
    /// `${secretsmanager:…}` and `${ssm:…}` in them resolved first with the AWS credential chain.
    func withSecrets<T>(_ body: () async throws -> T) async throws -> T {
        try await CommandEnvironment.with(try await AWSSecrets.resolve(settings.secrets), body)
    }

    private func withCheckpointDirectory(_ arguments: [String]) -> [String] {
        arguments.contains("--checkpoint-dir") ? arguments : arguments + ["--checkpoint-dir", configuration.checkpointDirectory]
    }

    private func parse<C: ParsableCommand>(_ type: C.Type, _ arguments: [String], command: String) throws -> C {
        do {
            return try C.parse(arguments)
        } catch {
            throw ValidationError("\(configuration.path): \(settings.phase.rawValue): \(C.message(for: error)) (a phase takes the options of `\(command)`)")
        }
    }
}

extension MigrationConfiguration {
    /// Loads `--config`, turning its errors into usage errors.
    static func loadForCommand(_ path: String) throws -> MigrationConfiguration {
        do {
            return try load(path: path)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
