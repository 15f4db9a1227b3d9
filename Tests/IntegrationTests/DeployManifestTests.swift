import Foundation
import Testing
import Yams

/// The example manifests under scripts/deploy/ must keep matching the command line.
@Suite struct DeployManifestTests {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs the CLI with `arguments`; a parse error exits 64, anything later (here: DNS) another code.
    private func parses(_ arguments: [String]) async throws -> (Bool, String) {
        let result = try await CLI.run(arguments + ["--connect-timeout", "2"], environment: ["MIGRATE_SOURCE_PASSWORD": "x", "MIGRATE_TARGET_PASSWORD": "x"])
        return (result.status != 64, result.stderr)
    }

    @Test func kubernetesIndexedJobRunsEveryPhaseSharded() async throws {
        let text = try String(contentsOf: repository.appendingPathComponent("scripts/deploy/k8s-indexed-job.yaml"), encoding: .utf8)
        let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
        let job = try #require(documents.first { $0["kind"] as? String == "Job" })
        let configMap = try #require(documents.first { $0["kind"] as? String == "ConfigMap" })
        let spec = try #require(job["spec"] as? [String: Any])
        #expect(spec["completionMode"] as? String == "Indexed")
        let completions = try #require(spec["completions"] as? Int)
        let template = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((template["containers"] as? [[String: Any]])?.first)
        let arguments = try #require(container["args"] as? [String])
        #expect(arguments.first == "run")
        #expect(arguments.contains("--shard=$(JOB_COMPLETION_INDEX)/\(completions)"))
        // Every secret the plan names comes from the environment the Job sets.
        // AWS credentials come from the service account (IRSA or Pod Identity), never from keys.
        let serviceAccount = try #require(documents.first { $0["kind"] as? String == "ServiceAccount" })
        #expect(template["serviceAccountName"] as? String == (serviceAccount["metadata"] as? [String: Any])?["name"] as? String)
        #expect(((serviceAccount["metadata"] as? [String: Any])?["annotations"] as? [String: String])?["eks.amazonaws.com/role-arn"]?.hasPrefix("arn:aws:iam::") == true)
        #expect(!text.contains("AWS_ACCESS_KEY_ID") && !text.contains("AWS_SECRET_ACCESS_KEY"))
        let plan = try #require((configMap["data"] as? [String: String])?["migration.yaml"])
        let environment = (container["env"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        for name in ["ELASTICACHE_PASSWORD", "POSTGRES_PASSWORD", "QDRANT_API_KEY", "NEO4J_PASSWORD"] {
            #expect(plan.contains("${\(name)}") && environment.contains(name), "\(name)")
        }
        // The plan's options are accepted by every phase's command: the run gets past parsing to the (unresolvable) hosts.
        let directory = NSTemporaryDirectory() + "deploy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try plan.replacingOccurrences(of: "/opt/migrate/", with: repository.path + "/")
            .replacingOccurrences(of: "/var/lib/migrate/", with: directory + "/")
            .write(toFile: directory + "/migration.yaml", atomically: true, encoding: .utf8)
        let concrete = arguments.map {
            $0.replacingOccurrences(of: "$(JOB_COMPLETION_INDEX)", with: "0").replacingOccurrences(of: "/etc/migrate/", with: directory + "/")
                .replacingOccurrences(of: "/var/lib/migrate/", with: directory + "/")
        }
        let secrets = Dictionary(uniqueKeysWithValues: environment.map { ($0, "x") })
        let result = try await CLI.run(concrete, environment: secrets)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.stdout.contains("\"event\":\"run-report\"") && result.stdout.contains("cannot resolve host 'old-redis.internal'"), "\(result.output)")
        #expect(result.stdout.contains("\"skipped\":[\"vectors\",\"graph\"]"), "\(result.output)")
    }

    @Test func ecsObjectsTaskUsesTheTaskRoleAndParses() async throws {
        let data = try Data(contentsOf: repository.appendingPathComponent("scripts/deploy/ecs-objects-task.json"))
        let task = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((task["taskRoleArn"] as? String)?.hasPrefix("arn:aws:iam::") == true)
        #expect(!String(decoding: data, as: UTF8.self).contains("AWS_ACCESS_KEY_ID"))
        let container = try #require((task["containerDefinitions"] as? [[String: Any]])?.first)
        let command = try #require(container["command"] as? [String])
        #expect(command.first == "objects")
        let result = try await CLI.run(command + ["--help"])
        #expect(result.status == 0)
        // Past parsing, the run stops at the missing source directory (exit 2), not at its options (64).
        let run = try await CLI.run(command.map { $0.replacingOccurrences(of: "/var/lib/migrate/", with: NSTemporaryDirectory() + "deploy-\(UUID().uuidString)/") },
                                    environment: ["AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"])
        #expect(run.status == 2 && run.output.contains("/mnt/uploads"), "\(run.output)")
    }

    @Test func ecsTaskCommandParses() async throws {
        let data = try Data(contentsOf: repository.appendingPathComponent("scripts/deploy/ecs-task.json"))
        let task = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let container = try #require((task["containerDefinitions"] as? [[String: Any]])?.first)
        let command = try #require(container["command"] as? [String])
        #expect((container["secrets"] as? [[String: Any]])?.first?["name"] as? String == "MIGRATE_TARGET_PASSWORD")
        let (ok, stderr) = try await parses(command)
        #expect(ok, "\(stderr)")
    }
}
