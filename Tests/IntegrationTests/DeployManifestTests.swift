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

    @Test func kubernetesIndexedJobArgumentsParse() async throws {
        let text = try String(contentsOf: repository.appendingPathComponent("scripts/deploy/k8s-indexed-job.yaml"), encoding: .utf8)
        let manifest = try #require(try Yams.load(yaml: text) as? [String: Any])
        let spec = try #require(manifest["spec"] as? [String: Any])
        #expect(spec["completionMode"] as? String == "Indexed")
        let completions = try #require(spec["completions"] as? Int)
        let template = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((template["containers"] as? [[String: Any]])?.first)
        let arguments = try #require(container["args"] as? [String])
        #expect(arguments.contains("--shard=$(JOB_COMPLETION_INDEX)/\(completions)"))
        let concrete = arguments.map {
            $0.replacingOccurrences(of: "$(JOB_COMPLETION_INDEX)", with: "0").replacingOccurrences(of: "/opt/migrate/", with: repository.path + "/")
        }
        let (ok, stderr) = try await parses(concrete)
        #expect(ok, "\(stderr)")
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
