import Foundation
import Yams

/// `migration.yaml`: one migration of the whole stack. Each phase (`keys`, `vectors`, `graph`) holds the options of
/// its command (`migrate redis`, `migrate vectors`, `migrate graph`) without the leading `--`, so everything a
/// command can do, the plan can say. Phases run in that order.
///
/// ```yaml
/// env-files:                    # ${source:NAME} and ${target:NAME} come from these; ${NAME} from the environment
///   source: .env                # the application's environment today
///   target: aws.env             # … and after cutover
/// checkpoint-dir: .migrate
/// keys:
///   source: ${source:REDIS_URI}
///   target: ${target:REDIS_URI}
///   verify: {sample: 10000}     # options of `migrate verify redis`, or `verify: false`
/// vectors:
///   source: postgres://${source:POSTGRES_USER}@${source:POSTGRES_HOST}:5432/${source:POSTGRES_DATABASE}
///   source-password: ${source:POSTGRES_PASSWORD}   # secrets never become command-line arguments
///   target: ${target:QDRANT_URL}
///   mapping: mappings/lightrag.yaml
/// ```
public struct MigrationConfiguration: Sendable {
    /// A phase of the migration, in the order they run.
    public enum Phase: String, Sendable, CaseIterable, Codable {
        case keys, vectors, graph, objects

        /// The command that copies this phase's data.
        public var command: String {
            switch self {
            case .keys: return "redis"
            case .vectors: return "vectors"
            case .graph: return "graph"
            case .objects: return "objects"
            }
        }

        /// Options of the copy that its verification does not take.
        var copyOnlyOptions: Set<String> {
            let common: Set<String> = ["dry-run", "resume", "fresh", "checkpoint-dir", "rate", "report"]
            switch self {
            case .keys: return common.union(["mode", "skip-refused"])
            case .vectors: return common.union(["create-tables", "max-request-bytes", "shards", "replication-factor", "write-consistency-factor", "write-ordering"])
            case .graph: return common.union(["export-csv", "s3", "s3-endpoint", "loader-role-arn"])
            case .objects: return common.union(["sse-kms-key-id"])
            }
        }
    }

    /// One phase's options, ready for its commands.
    public struct PhaseSettings: Sendable {
        /// Which phase.
        public var phase: Phase
        /// The copy command's arguments (`--source`, `redis://…`, …), without secrets.
        public var arguments: [String]
        /// The verification's arguments, or `nil` when the phase says `verify: false`.
        public var verifyArguments: [String]?
        /// Secrets by the environment variable the commands read them from (`MIGRATE_SOURCE_PASSWORD`).
        public var secrets: [String: String]
    }

    /// A configuration that cannot be used, naming the file, the place and the fix.
    public struct InvalidConfiguration: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The configuration file's path.
    public var path: String
    /// Where every phase keeps its checkpoint.
    public var checkpointDirectory: String
    /// The phases present, in the order they run.
    public var phases: [PhaseSettings]

    /// Secret options and the environment variables the commands read them from.
    static let secretOptions = [
        "source-password": "MIGRATE_SOURCE_PASSWORD", "target-password": "MIGRATE_TARGET_PASSWORD",
        "source-api-key": "MIGRATE_SOURCE_API_KEY", "target-api-key": "MIGRATE_TARGET_API_KEY",
    ]

    /// Loads `path`, expanding `${NAME}`, `${NAME:-default}`, `${source:NAME}` and `${target:NAME}`.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(InvalidConfiguration) -> MigrationConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InvalidConfiguration(description: "cannot read \(path): check the path (generate one with `migrate plan --from-env .env --write-config \(path)`)")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path, environment: environment)
    }

    /// Parses the text of a configuration; relative `env-files` are resolved against `path`'s directory.
    public static func parse(_ text: String, path: String, environment: [String: String]) throws(InvalidConfiguration) -> MigrationConfiguration {
        func fail(_ message: String) -> InvalidConfiguration { InvalidConfiguration(description: "\(path): \(message)") }
        let root: Node
        do {
            guard let parsed = try Yams.compose(yaml: text) else { throw fail("the file is empty: give at least one of keys, vectors, graph, objects") }
            root = parsed
        } catch let error as InvalidConfiguration {
            throw error
        } catch {
            throw fail("not valid YAML: \(error)")
        }
        guard let top = root.mapping else { throw fail("expected a mapping with keys, vectors and/or graph at the top") }
        let known = ["env-files", "checkpoint-dir"] + Phase.allCases.map(\.rawValue)
        for (key, _) in top {
            guard let name = key.string, known.contains(name) else {
                throw fail("unknown entry '\(key.string ?? "?")': the top level takes \(known.joined(separator: ", "))")
            }
        }
        var files: [String: DotEnv] = [:]
        if let entry = top["env-files"] {
            guard let mapping = entry.mapping else { throw fail("env-files: expected `source: FILE` and/or `target: FILE`") }
            for (key, value) in mapping {
                guard let side = key.string, ["source", "target"].contains(side), let file = value.string else {
                    throw fail("env-files: expected `source: FILE` and/or `target: FILE`")
                }
                let resolved = file.hasPrefix("/") ? file : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(file)
                guard let contents = FileManager.default.contents(atPath: resolved) else { throw fail("env-files: cannot read \(resolved)") }
                do {
                    files[side] = try DotEnv(parsing: String(decoding: contents, as: UTF8.self), path: resolved)
                } catch {
                    throw fail("env-files: \(error)")
                }
            }
        }
        let expander = VariableExpander(files: files, environment: environment)
        var checkpointDirectory = ".migrate"
        if let entry = top["checkpoint-dir"] {
            guard let text = entry.string else { throw fail("checkpoint-dir: expected a path") }
            checkpointDirectory = try expander.expand(text, at: "checkpoint-dir", path: path)
        }
        var phases: [PhaseSettings] = []
        for phase in Phase.allCases {
            guard let entry = top[phase.rawValue] else { continue }
            guard let options = entry.mapping else { throw fail("\(phase.rawValue): expected the options of `migrate \(phase.command)`") }
            phases.append(try settings(phase, options: options, expander: expander, path: path))
        }
        guard !phases.isEmpty else { throw fail("no phase: give at least one of keys, vectors, graph, objects") }
        return MigrationConfiguration(path: path, checkpointDirectory: checkpointDirectory, phases: phases)
    }

    private static func settings(_ phase: Phase, options: Node.Mapping, expander: VariableExpander, path: String) throws(InvalidConfiguration) -> PhaseSettings {
        var arguments: [String] = []
        var shared: [String] = []
        var verifyOnly: [String] = []
        var verify = true
        var secrets: [String: String] = [:]
        for (key, value) in options {
            guard let name = key.string else { throw InvalidConfiguration(description: "\(path): \(phase.rawValue): option names are text") }
            let place = "\(phase.rawValue).\(name)"
            if name == "verify" {
                if let flag = value.bool {
                    verify = flag
                } else if let mapping = value.mapping {
                    for (verifyKey, verifyValue) in mapping {
                        verifyOnly += try self.arguments(verifyKey.string ?? "", value: verifyValue, place: "\(place).\(verifyKey.string ?? "")",
                                                              expander: expander, path: path)
                    }
                } else {
                    throw InvalidConfiguration(description: "\(path): \(place): expected true, false or options of `migrate verify \(phase.command)`")
                }
                continue
            }
            if let variable = secretOptions[name] {
                guard let text = value.string else { throw InvalidConfiguration(description: "\(path): \(place): expected text, e.g. ${source:POSTGRES_PASSWORD}") }
                secrets[variable] = try expander.expand(text, at: place, path: path, keepingAWSSecrets: true)
                continue
            }
            let expanded = try self.arguments(name, value: value, place: place, expander: expander, path: path)
            arguments += expanded
            if !phase.copyOnlyOptions.contains(name) { shared += expanded }
        }
        return PhaseSettings(phase: phase, arguments: arguments, verifyArguments: verify ? shared + verifyOnly : nil, secrets: secrets)
    }

    /// `--name value` for a scalar, `--name` for `true`, nothing for `false`, `--name a --name b` for a list.
    private static func arguments(_ name: String, value: Node, place: String, expander: VariableExpander, path: String) throws(InvalidConfiguration) -> [String] {
        guard !name.isEmpty, !name.hasPrefix("-") else {
            throw InvalidConfiguration(description: "\(path): \(place): write option names without the leading --")
        }
        switch value {
        case .scalar(let scalar):
            if let flag = value.bool, scalar.style == .plain, ["true", "false", "yes", "no"].contains(scalar.string.lowercased()) {
                return flag ? ["--\(name)"] : []
            }
            return ["--\(name)", try expander.expand(scalar.string, at: place, path: path)]
        case .sequence(let items):
            var result: [String] = []
            for item in items {
                guard let text = item.string else { throw InvalidConfiguration(description: "\(path): \(place): a list of plain values is expected") }
                result += ["--\(name)", try expander.expand(text, at: place, path: path)]
            }
            return result
        default:
            throw InvalidConfiguration(description: "\(path): \(place): expected a value or a list, not a mapping")
        }
    }
}

/// Expands `${NAME}`, `${NAME:-default}`, `${source:NAME}` and `${target:NAME}`. `${secretsmanager:…}` and
/// `${ssm:…}` are AWS secrets, resolved at run time (see `AWSSecretResolver`): they stay as written in secret
/// options and are refused elsewhere, where they would become command-line arguments.
struct VariableExpander {
    var files: [String: DotEnv]
    var environment: [String: String]

    func expand(_ text: String, at place: String, path: String, keepingAWSSecrets: Bool = false) throws(MigrationConfiguration.InvalidConfiguration) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw .init(description: "\(path): \(place): '${' without a closing '}'")
            }
            var reference = rest[start.upperBound..<end]
            if reference.hasPrefix("secretsmanager:") || reference.hasPrefix("ssm:") {
                guard keepingAWSSecrets else {
                    throw .init(description: "\(path): \(place): ${\(reference)} is an AWS secret: name it only in source-password, target-password, source-api-key or target-api-key, which never become arguments")
                }
                result += rest[start.lowerBound...end]
                rest = rest[rest.index(after: end)...]
                continue
            }
            var fallback: Substring?
            if let range = reference.range(of: ":-") {
                fallback = reference[range.upperBound...]
                reference = reference[..<range.lowerBound]
            }
            var value: String?
            if let colon = reference.firstIndex(of: ":") {
                let side = String(reference[..<colon])
                let name = String(reference[reference.index(after: colon)...])
                guard let file = files[side] else {
                    throw .init(description: "\(path): \(place): ${\(reference)} needs `env-files: {\(side): FILE}`")
                }
                value = file[name]
            } else {
                value = environment[String(reference)]
            }
            guard let resolved = value ?? fallback.map(String.init) else {
                let origin = reference.contains(":") ? "the \(reference.prefix { $0 != ":" }) env file" : "the environment"
                throw .init(description: "\(path): \(place): ${\(reference)} is not set in \(origin): set it, or give a default with ${\(reference):-value}")
            }
            result += resolved
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
