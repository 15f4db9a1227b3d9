import Foundation
import MigrationCore
import Testing
@testable import MigrationPlanning

@Suite struct DotEnvTests {
    @Test func readsComposeStyleFiles() throws {
        let env = try DotEnv(parsing: """
            # the app
            export REDIS_URI=redis://old:6379
            POSTGRES_PASSWORD='p@ss #not a comment'
            NEO4J_PASSWORD="line\\nnext \\"quoted\\""
            QDRANT_URL=http://q:6333 # a comment
            EMPTY=
              SPACED = value with spaces
            """)
        #expect(env["REDIS_URI"] == "redis://old:6379")
        #expect(env["POSTGRES_PASSWORD"] == "p@ss #not a comment")
        #expect(env["NEO4J_PASSWORD"] == "line\nnext \"quoted\"")
        #expect(env["QDRANT_URL"] == "http://q:6333")
        #expect(env["EMPTY"] == "")
        #expect(env["SPACED"] == "value with spaces")
    }

    @Test func namesTheLineOfAnError() {
        #expect(throws: DotEnv.SyntaxError.self) { try DotEnv(parsing: "A=1\nnot a variable\n", path: "app.env") }
        do {
            _ = try DotEnv(parsing: "A=1\nB=\"open\n", path: "app.env")
            Issue.record("an unclosed quote parsed")
        } catch {
            #expect(error.description == "app.env:2: the value's quote \" is never closed")
        }
    }
}

@Suite struct MigrationConfigurationTests {
    func parse(_ text: String, environment: [String: String] = [:]) throws(MigrationConfiguration.InvalidConfiguration) -> MigrationConfiguration {
        try MigrationConfiguration.parse(text, path: "m.yaml", environment: environment)
    }

    @Test func phasesBecomeArgumentsInRunOrder() throws {
        let configuration = try parse("""
            checkpoint-dir: /tmp/cp
            graph:
              source: bolt://g:7687
              iam: true
              fresh: false
            keys:
              source: redis://old:6379
              target: ${TARGET}
              match: ["user:*", "session:*"]
              rate: 500
              verify: {sample: 100}
              target-password: ${SECRET}
            """, environment: ["TARGET": "rediss://new:6379", "SECRET": "hunter2"])
        #expect(configuration.checkpointDirectory == "/tmp/cp")
        #expect(configuration.phases.map(\.phase) == [.keys, .graph])
        let keys = configuration.phases[0]
        #expect(keys.arguments == ["--source", "redis://old:6379", "--target", "rediss://new:6379", "--match", "user:*", "--match", "session:*", "--rate", "500"])
        // --rate is the copy's; the verification gets the connection and selection, plus its own options.
        #expect(keys.verifyArguments == ["--source", "redis://old:6379", "--target", "rediss://new:6379", "--match", "user:*", "--match", "session:*", "--sample", "100"])
        // Secrets go to the environment of the phase, never into arguments.
        #expect(keys.secrets == ["MIGRATE_TARGET_PASSWORD": "hunter2"])
        #expect(!keys.arguments.contains("hunter2"))
        #expect(configuration.phases[1].arguments == ["--source", "bolt://g:7687", "--iam"])
    }

    @Test func awsSecretsStayReferencesInSecretOptionsAndAreRefusedElsewhere() throws {
        let configuration = try parse("""
            keys:
              source: redis://old:6379
              source-password: ${secretsmanager:prod/redis:password}
              target-password: pre-${ssm:/prod/redis-target}-${SUFFIX}
            """, environment: ["SUFFIX": "x"])
        #expect(configuration.phases[0].secrets == ["MIGRATE_SOURCE_PASSWORD": "${secretsmanager:prod/redis:password}",
                                                    "MIGRATE_TARGET_PASSWORD": "pre-${ssm:/prod/redis-target}-x"])
        do {
            _ = try parse("keys:\n  source: redis://u:${ssm:/p}@old:6379\n")
            Issue.record("an AWS secret in an argument was accepted")
        } catch {
            #expect(error.description.contains("is an AWS secret: name it only in source-password"), "\(error.description)")
        }
    }

    @Test func verifyFalseSkipsVerification() throws {
        let configuration = try parse("vectors:\n  source: postgres://a@h/db\n  verify: false\n")
        #expect(configuration.phases[0].verifyArguments == nil)
    }

    @Test func variablesComeFromEnvFilesWithDefaults() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "REDIS_URI=redis://old:6379\n".write(to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
        try "REDIS_URI=rediss://new:6379\n".write(to: directory.appendingPathComponent("aws.env"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("m.yaml").path
        try """
            env-files: {source: app.env, target: aws.env}
            keys:
              source: ${source:REDIS_URI}
              target: ${target:REDIS_URI}
              batch: ${BATCH:-250}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try MigrationConfiguration.load(path: path, environment: [:])
        #expect(configuration.phases[0].arguments == ["--source", "redis://old:6379", "--target", "rediss://new:6379", "--batch", "250"])
    }

    @Test(arguments: [
        ("keys:\n  target: ${NOPE}\n", "m.yaml: keys.target: ${NOPE} is not set in the environment: set it, or give a default with ${NOPE:-value}"),
        ("keys:\n  target: ${source:REDIS_URI}\n", "m.yaml: keys.target: ${source:REDIS_URI} needs `env-files: {source: FILE}`"),
        ("kyes:\n  source: redis://a\n", "m.yaml: unknown entry 'kyes': the top level takes env-files, checkpoint-dir, keys, vectors, graph"),
        ("keys:\n  --source: redis://a\n", "m.yaml: keys.--source: write option names without the leading --"),
        ("keys:\n  source: {host: a}\n", "m.yaml: keys.source: expected a value or a list, not a mapping"),
        ("checkpoint-dir: x\n", "m.yaml: no phase: give at least one of keys, vectors, graph"),
        ("keys: [a\n", "m.yaml: not valid YAML"),
    ])
    func badConfigurationsNameThePlaceAndTheFix(text: String, message: String) {
        do {
            _ = try parse(text)
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }
}

@Suite struct ConfigurationTemplateTests {
    @Test func lightRAGEnvironmentBecomesThreePhases() throws {
        let source = try DotEnv(parsing: """
            REDIS_URI=redis://:pw@old:6379
            VECTOR_STORAGE=PGVectorStorage
            POSTGRES_HOST=db
            POSTGRES_USER=rag
            POSTGRES_PASSWORD=secret-pg
            POSTGRES_DATABASE=rag
            GRAPH_STORAGE=Neo4JStorage
            NEO4J_URI=bolt://neo4j:7687
            NEO4J_USERNAME=neo4j
            NEO4J_PASSWORD=secret-neo
            """)
        let target = try DotEnv(parsing: "REDIS_URI=rediss://cfg:6379\nQDRANT_URL=https://qdrant:6333\nQDRANT_API_KEY=secret-key\n")
        var template = ConfigurationTemplate(source: source, sourcePath: "app.env", target: target, targetPath: "aws.env")
        let text = template.render()
        for secret in ["pw", "secret-pg", "secret-neo", "secret-key"] {
            #expect(!text.contains(secret), "the configuration copies \(secret)")
        }
        #expect(template.placeholders == ["GRAPH_TARGET_URI"])
        for line in ["  source-password: ${source:POSTGRES_PASSWORD}", "  target-api-key: ${target:QDRANT_API_KEY}",
                     "  mapping: mappings/lightrag.yaml", "  source-user: ${source:NEO4J_USERNAME}", "  target: ${GRAPH_TARGET_URI}"] {
            #expect(text.contains(line), "missing: \(line)")
        }
    }

    @Test func templateResolvesAgainstTheFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("template-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sourceText = "REDIS_URI=redis://old:6379\nQDRANT_URL=http://old-q:6333\nMEMGRAPH_URI=bolt://mg:7687\n"
        let targetText = "REDIS_URI=rediss://new:6379\nQDRANT_URL=https://new-q:6333\nMEMGRAPH_URI=bolt://ec2:7687\n"
        try sourceText.write(to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
        try targetText.write(to: directory.appendingPathComponent("aws.env"), atomically: true, encoding: .utf8)
        var template = ConfigurationTemplate(source: try DotEnv(parsing: sourceText), sourcePath: "app.env",
                                             target: try DotEnv(parsing: targetText), targetPath: "aws.env")
        let path = directory.appendingPathComponent("m.yaml").path
        try template.render().write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try MigrationConfiguration.load(path: path, environment: [:])
        #expect(template.placeholders.isEmpty)
        #expect(configuration.phases.map(\.arguments) == [
            ["--source", "redis://old:6379", "--target", "rediss://new:6379"],
            ["--source", "http://old-q:6333", "--target", "https://new-q:6333"],
            ["--source", "bolt://mg:7687", "--target", "bolt://ec2:7687", "--mapping", "mappings/lightrag-graph.yaml"],
        ])
    }

    /// LightRAG without a workspace writes `default` to PostgreSQL and reads `_` from Qdrant; QDRANT_WORKSPACE,
    /// then WORKSPACE, decide the Qdrant side, POSTGRES_WORKSPACE, then WORKSPACE, the PostgreSQL side.
    @Test func lightRAGWorkspaceComesFromTheEnvironment() throws {
        func arguments(_ sourceText: String, _ targetText: String? = nil) throws -> [String] {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("template-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let base = "POSTGRES_HOST=db\nPOSTGRES_DATABASE=rag\nQDRANT_URL=http://q:6333\n"
            try (base + sourceText).write(to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
            if let targetText { try targetText.write(to: directory.appendingPathComponent("aws.env"), atomically: true, encoding: .utf8) }
            var template = ConfigurationTemplate(source: try DotEnv(parsing: base + sourceText), sourcePath: "app.env",
                                                 target: try targetText.map { try DotEnv(parsing: $0) }, targetPath: targetText == nil ? nil : "aws.env")
            let path = directory.appendingPathComponent("m.yaml").path
            try template.render().write(toFile: path, atomically: true, encoding: .utf8)
            let vectors = try #require(try MigrationConfiguration.load(path: path, environment: ["VECTORS_TARGET_URI": "http://new:6333"]).phases.first)
            return Array(vectors.arguments.drop { $0 != "--workspace" }.prefix(2))
        }
        #expect(try arguments("") == ["--workspace", "default=_"])
        #expect(try arguments("WORKSPACE=prod\n") == ["--workspace", "prod=prod"])
        #expect(try arguments("WORKSPACE=prod\nQDRANT_WORKSPACE=q\nPOSTGRES_WORKSPACE=p\n") == ["--workspace", "p=q"])
        #expect(try arguments("POSTGRES_WORKSPACE=p\n", "QDRANT_URL=https://new:6333\nQDRANT_WORKSPACE=after\n") == ["--workspace", "p=after"])
    }
}

@Suite struct RunReportTests {
    @Test func theWorstPhaseDecides() {
        let now = Date()
        func report(_ outcome: MigrationReport.Outcome) -> MigrationReport {
            MigrationReport(command: "migrate x", source: "s", target: "t", outcome: outcome, startedAt: now)
        }
        let fine = RunReport.PhaseResult(phase: .keys, copy: report(.succeeded), verification: report(.succeeded))
        let differs = RunReport.PhaseResult(phase: .vectors, copy: report(.succeeded), verification: report(.mismatched))
        #expect(RunReport(configuration: "m.yaml", startedAt: now, phases: [fine], skipped: []).outcome == .succeeded)
        #expect(RunReport(configuration: "m.yaml", startedAt: now, phases: [fine, differs], skipped: []).outcome == .mismatched)
        #expect(RunReport(configuration: "m.yaml", startedAt: now, phases: [fine], skipped: [.graph]).outcome == .failed)
        let broken = RunReport.PhaseResult(phase: .graph, error: "unreachable")
        let text = RunReport(configuration: "m.yaml", startedAt: now, phases: [fine, broken], skipped: []).rendered()
        #expect(text.contains("graph: FAILED: unreachable"))
        #expect(text.contains("migrate run --config m.yaml: FAILED"))
    }
}
