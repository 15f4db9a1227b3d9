/// Writes a `migration.yaml` from the application's own environment: the `.env` it runs with today (the sources)
/// and, if given, the one it will run with after cutover (the targets). Values stay in those files: the
/// configuration refers to them as `${source:NAME}` and `${target:NAME}`, so no secret is copied.
public struct ConfigurationTemplate: Sendable {
    /// The application's environment today.
    public var source: DotEnv
    /// The path written into `env-files: source:`.
    public var sourcePath: String
    /// The application's environment after cutover, if known.
    public var target: DotEnv?
    /// The path written into `env-files: target:`.
    public var targetPath: String?

    /// Creates a template.
    public init(source: DotEnv, sourcePath: String, target: DotEnv?, targetPath: String?) {
        self.source = source
        self.sourcePath = sourcePath
        self.target = target
        self.targetPath = targetPath
    }

    /// The environment variables a run still needs because no target file names the target (`KEYS_TARGET_URI`).
    public private(set) var placeholders: [String] = []

    /// The configuration's text.
    public mutating func render() -> String {
        placeholders = []
        var lines = [
            "# migrate plan --config THIS_FILE   checks every source and target and writes nothing;",
            "# migrate run --config THIS_FILE    copies keys, then vectors, then the graph, resumably, and verifies each.",
            "# Each phase takes the options of its command without the leading -- (migrate redis|vectors|graph --help).",
            "env-files:",
            "  source: \(sourcePath)",
        ]
        if let targetPath { lines.append("  target: \(targetPath)") }
        lines.append("checkpoint-dir: .migrate")
        if source["REDIS_URI"] != nil {
            lines += ["keys:", "  source: ${source:REDIS_URI}", "  target: \(reference("REDIS_URI", placeholder: "KEYS_TARGET_URI"))"]
        }
        lines += vectors()
        lines += graph()
        return lines.joined(separator: "\n") + "\n"
    }

    private mutating func vectors() -> [String] {
        let storage = source["VECTOR_STORAGE"]?.lowercased() ?? ""
        let fromPostgres = storage.contains("pg") || (!storage.contains("qdrant") && source["POSTGRES_HOST"] != nil)
        var lines = ["vectors:"]
        if fromPostgres {
            guard source["POSTGRES_HOST"] != nil else { return [] }
            lines += ["  source: \(Self.postgres(side: "source"))"]
            if source["POSTGRES_PASSWORD"] != nil { lines.append("  source-password: ${source:POSTGRES_PASSWORD}") }
        } else {
            guard source["QDRANT_URL"] != nil else { return [] }
            lines.append("  source: ${source:QDRANT_URL}")
            if source["QDRANT_API_KEY"] != nil { lines.append("  source-api-key: ${source:QDRANT_API_KEY}") }
        }
        let targetStorage = target?["VECTOR_STORAGE"]?.lowercased() ?? ""
        if let target, target["POSTGRES_HOST"] != nil, targetStorage.contains("pg") || target["QDRANT_URL"] == nil {
            lines.append("  target: \(Self.postgres(side: "target"))")
            if target["POSTGRES_PASSWORD"] != nil { lines.append("  target-password: ${target:POSTGRES_PASSWORD}") }
            lines.append("  create-tables: true")
        } else {
            lines.append("  target: \(reference("QDRANT_URL", placeholder: "VECTORS_TARGET_URI"))")
            if target?["QDRANT_API_KEY"] != nil { lines.append("  target-api-key: ${target:QDRANT_API_KEY}") }
            if fromPostgres {
                lines.append("  mapping: mappings/lightrag.yaml       # LightRAG's pgvector tables into its Qdrant layout")
                lines.append(workspace())
            }
        }
        return lines
    }

    /// LightRAG's workspace as its PostgreSQL storage wrote it (POSTGRES_WORKSPACE, else WORKSPACE, else `default`)
    /// and as its Qdrant storage will read it (QDRANT_WORKSPACE, else WORKSPACE, else `_`; from the target file
    /// when it names either), as `workspace: FROM=TO` for mappings/lightrag.yaml's rule.
    private func workspace() -> String {
        func named(_ env: DotEnv?, _ names: [String]) -> (name: String, value: String)? {
            for name in names {
                if let value = env?[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty { return (name, value) }
            }
            return nil
        }
        let pg = named(source, ["POSTGRES_WORKSPACE", "WORKSPACE"])
        let qdrantNames = ["QDRANT_WORKSPACE", "WORKSPACE"]
        let qdrant = named(target, qdrantNames).map { ($0.name, $0.value, targetPath ?? "") } ?? named(source, qdrantNames).map { ($0.name, $0.value, sourcePath) }
        let from = pg?.value ?? "default", to = qdrant?.1 ?? "_"
        let fromOrigin = pg.map { "\($0.name) in \(sourcePath)" } ?? "no POSTGRES_WORKSPACE or WORKSPACE: LightRAG's default"
        let toOrigin = qdrant.map { "\($0.0) in \($0.2)" } ?? "no QDRANT_WORKSPACE or WORKSPACE: LightRAG's default"
        return "  workspace: \"\(from)=\(to)\"   # PostgreSQL workspace '\(from)' (\(fromOrigin)) is Qdrant's '\(to)' (\(toOrigin))"
    }

    private mutating func graph() -> [String] {
        let storage = source["GRAPH_STORAGE"]?.lowercased() ?? ""
        let name = storage.contains("memgraph") || source["NEO4J_URI"] == nil ? "MEMGRAPH_URI" : "NEO4J_URI"
        guard source[name] != nil else { return [] }
        var lines = ["graph:", "  source: ${source:\(name)}"]
        if source["NEO4J_USERNAME"] != nil { lines.append("  source-user: ${source:NEO4J_USERNAME}") }
        if source["NEO4J_PASSWORD"] != nil { lines.append("  source-password: ${source:NEO4J_PASSWORD}") }
        if let target, let targetName = ["NEPTUNE_ENDPOINT", "MEMGRAPH_URI", "NEO4J_URI"].first(where: { target[$0] != nil }) {
            lines.append("  target: ${target:\(targetName)}")
        } else {
            placeholders.append("GRAPH_TARGET_URI")
            lines.append("  target: ${GRAPH_TARGET_URI}                # https://<cluster>.<region>.neptune.amazonaws.com:8182")
            lines.append("  # iam: true                               # sign with SigV4 from AWS_* credentials")
        }
        lines.append("  mapping: mappings/lightrag-graph.yaml")
        return lines
    }

    /// `${target:NAME}` when the target file has it, else an environment placeholder to set.
    private mutating func reference(_ name: String, placeholder: String) -> String {
        if target?[name] != nil { return "${target:\(name)}" }
        placeholders.append(placeholder)
        return "${\(placeholder)}"
    }

    private static func postgres(side: String) -> String {
        "postgres://${\(side):POSTGRES_USER:-postgres}@${\(side):POSTGRES_HOST}:${\(side):POSTGRES_PORT:-5432}/${\(side):POSTGRES_DATABASE}"
    }
}
