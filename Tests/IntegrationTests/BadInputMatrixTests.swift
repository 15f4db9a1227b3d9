import Foundation
import Testing

extension Integration {
    /// The user mistakes every command must refuse before it connects or writes: one row per mistake, each
    /// asserting the exit code, that the first line of standard error names the problem, and that the target is
    /// unchanged. Adding a case is one line.
    @Suite struct BadInputMatrix {
        /// One mistake: the arguments (`{S}` source, `{T}` target, `{EMPTY}` an empty file, `{NEWLINE}` a file holding
        /// only a newline, `{MISSING}` a path that does not exist, `{DIR}` a directory, `{FILE}` a readable file),
        /// the exit code, and a fragment the first line of standard error must contain.
        struct Case: Sendable, CustomStringConvertible {
            var arguments: String
            var status: Int32
            var firstLine: String
            init(_ arguments: String, _ status: Int32, _ firstLine: String) {
                self.arguments = arguments
                self.status = status
                self.firstLine = firstLine
            }
            var description: String { arguments }
        }

        static let cases: [Case] = [
            // migrate redis: numbers.
            Case("redis --source {S} --target {T} --batch -5", 64, "--batch '-5': must be between 1 and 100000"),
            Case("redis --source {S} --target {T} --batch 0", 64, "--batch '0'"),
            Case("redis --source {S} --target {T} --batch 100001", 64, "--batch '100001'"),
            Case("redis --source {S} --target {T} --batch abc", 64, "'abc' is invalid for '--batch"),
            Case("redis --source {S} --target {T} --concurrency 0", 64, "--concurrency '0': must be between 1 and 256"),
            Case("redis --source {S} --target {T} --concurrency 257", 64, "--concurrency '257'"),
            Case("redis --source {S} --target {T} --rate -1", 64, "--rate '-1': must be at least 1"),
            Case("redis --source {S} --target {T} --rate 0", 64, "--rate '0'"),
            Case("redis --source {S} --target {T} --connect-timeout 0", 64, "--connect-timeout '0'"),
            Case("redis --source {S} --target {T} --io-timeout -3", 64, "--io-timeout '-3'"),
            Case("redis --source {S} --target {T} --big-key-bytes 10", 64, "--big-key-bytes '10': must be at least 1024"),
            Case("redis --source {S} --target {T} --max-replica-lag -1", 64, "--max-replica-lag '-1'"),
            Case("redis --source {S} --target {T} --db -1", 64, "--db '-1'"),
            Case("redis --source {S} --target {T} --shard 5/4", 64, "'5/4' is invalid for '--shard"),
            Case("redis --source {S} --target {T} --type bogus", 64, "'bogus' is invalid for '--type"),
            Case("redis --source {S} --target {T} --log-level loud", 64, "'loud' is invalid for '--log-level"),
            Case("redis --source {S} --target {T} --reconcile-interval 0 --live", 64, "--reconcile-interval must be positive"),
            // migrate redis: paths written.
            Case("redis --source {S} --target {T} --report {MISSING}/report.json", 64, "--report '{MISSING}/report.json': its directory {MISSING} does not exist"),
            Case("redis --source {S} --target {T} --report {DIR}", 64, "--report '{DIR}': is a directory"),
            Case("redis --source {S} --target {T} --report {FILE}/report.json", 64, "is a file, not a directory"),
            Case("redis --source {S} --target {T} --report ''", 64, "--report '': is empty"),
            Case("redis --source {S} --target {T} --checkpoint-dir {FILE}/checkpoints", 64, "--checkpoint-dir '{FILE}/checkpoints'"),
            Case("redis --source {S} --target {T} --checkpoint-dir {FILE}", 64, "--checkpoint-dir '{FILE}'"),
            // migrate redis: files read.
            Case("redis --source {S} --target {T} --source-password-file {EMPTY}", 64, "--source-password-file '{EMPTY}': is empty"),
            Case("redis --source {S} --target {T} --source-password-file {NEWLINE}", 64, "--source-password-file '{NEWLINE}': holds only a newline"),
            Case("redis --source {S} --target {T} --target-password-file {MISSING}", 64, "--target-password-file '{MISSING}': no such file"),
            Case("redis --source {S} --target {T} --target-password-file {DIR}", 64, "--target-password-file '{DIR}': is a directory"),
            Case("redis --source {S} --target rediss://127.0.0.1:1 --target-ca-file {MISSING}", 64, "--target-ca-file '{MISSING}': no such file"),
            Case("redis --source {S} --target rediss://127.0.0.1:1 --target-ca-file {EMPTY}", 64, "--target-ca-file '{EMPTY}': is empty"),
            Case("redis --source rediss://127.0.0.1:1 --target {T} --source-cert-file {FILE}", 64, "--source-cert-file and --source-key-file go together"),
            Case("redis --source {S} --target {T} --mapping {MISSING}", 64, "--mapping '{MISSING}': no such file"),
            Case("redis --source {S} --target {T} --mapping {EMPTY}", 64, "--mapping '{EMPTY}': is empty"),
            // migrate redis: URIs and combinations.
            Case("redis --source ftp://127.0.0.1:1 --target {T}", 64, "--source 'ftp://127.0.0.1:1' has scheme 'ftp': use redis://"),
            Case("redis --source redis://127.0.0.1:port --target {T}", 64, "'port' is not a valid port"),
            Case("redis --source redis://127.0.0.1:1/abc --target {T}", 64, "the path must be a database number"),
            Case("redis --source {S}", 64, "no target given"),
            Case("redis --source {S} --target {T} --source-ca-file {FILE}", 64, "need a TLS URI"),
            Case("redis --source {S} --target {T} --resume --fresh", 64, "--resume and --fresh exclude each other"),
            Case("redis --source {S} --target {T} --live --dry-run", 64, "--live and --dry-run exclude each other"),
            Case("redis --source {S} --target {T} --live-for 5", 64, "need --live"),
            Case("redis --source {S} --target {T} --db-map 1=x", 64, "1=x"),
            // migrate verify.
            Case("verify redis --source {S} --target {T} --sample 0", 64, "--sample '0'"),
            Case("verify redis --source {S} --target {T} --ttl-tolerance-ms -1", 64, "--ttl-tolerance-ms '-1': cannot be negative"),
            Case("verify redis --source {S} --target {T} --report {MISSING}/r.json", 64, "--report '{MISSING}/r.json'"),
            Case("verify redis --source {S} --target {T} --batch -1", 64, "--batch '-1'"),
            Case("verify redis --source {S} --target {T} --source-password-file {EMPTY}", 64, "--source-password-file '{EMPTY}': is empty"),
            Case("verify redsi --source {S}", 64, "unknown command 'redsi'; did you mean 'migrate verify redis'?"),
            Case("verify vectors --min-recall 2", 64, "--min-recall"),
            Case("verify vectors --neighbours 0", 64, "--neighbours"),
            Case("verify graph --batch 0", 64, "--batch '0'"),
            // migrate vectors.
            Case("vectors --batch -5", 64, "--batch '-5'"),
            Case("vectors --rate 0", 64, "--rate '0'"),
            Case("vectors --max-request-bytes 10", 64, "--max-request-bytes must be between 1 KiB and 32 MiB"),
            Case("vectors --checkpoint-dir {FILE}/x", 64, "--checkpoint-dir '{FILE}/x'"),
            Case("vectors --mapping {MISSING}", 64, "--mapping '{MISSING}': no such file"),
            Case("vectors --source-password-file {EMPTY}", 64, "--source-password-file '{EMPTY}': is empty"),
            Case("vectors --target-api-key-file {MISSING}", 64, "--target-api-key-file '{MISSING}': no such file"),
            Case("vectors --report {DIR}", 64, "--report '{DIR}': is a directory"),
            Case("vectors --source mysql://127.0.0.1:1/db --target {T}", 64, "--source 'mysql://127.0.0.1:1/db': use postgres://"),
            Case("vectors --resume --fresh", 64, "--resume and --fresh exclude each other"),
            // migrate graph.
            Case("graph --batch 0", 64, "--batch '0'"),
            Case("graph --concurrency -2", 64, "--concurrency '-2'"),
            Case("graph --source-password-file {EMPTY}", 64, "--source-password-file '{EMPTY}': is empty"),
            Case("graph --target-ca-file {MISSING}", 64, "--target-ca-file '{MISSING}': no such file"),
            Case("graph --mapping {MISSING}", 64, "--mapping '{MISSING}': no such file"),
            Case("graph --checkpoint-dir {FILE}/x", 64, "--checkpoint-dir '{FILE}/x'"),
            Case("graph --report {MISSING}/r.json", 64, "--report '{MISSING}/r.json'"),
            Case("graph --s3 s3://bucket/prefix", 64, "--s3 uploads the files of --export-csv"),
            Case("graph --source bolt://127.0.0.1:1 --target ftp://127.0.0.1:21", 64, "--target 'ftp://127.0.0.1:21': use bolt://"),
            // migrate plan.
            Case("plan --config {MISSING}", 64, "--config '{MISSING}': no such file"),
            Case("plan --config {EMPTY}", 64, "--config '{EMPTY}': is empty"),
            Case("plan --config {DIR}", 64, "--config '{DIR}': is a directory"),
            Case("plan --config {FILE} --sample 0", 64, "--sample '0'"),
            Case("plan --config {FILE} --to-env {FILE}", 64, "go with --from-env"),
            Case("plan --from-env {MISSING}", 64, "--from-env '{MISSING}': no such file"),
            Case("plan --from-env {FILE} --write-config {MISSING}/m.yaml", 64, "--write-config '{MISSING}/m.yaml'"),
            // migrate run.
            Case("run --config {MISSING}", 64, "--config '{MISSING}': no such file"),
            Case("run --config {EMPTY}", 64, "--config '{EMPTY}': is empty"),
            Case("run --config {FILE} --report {MISSING}/r.json", 64, "--report '{MISSING}/r.json'"),
            Case("run --config {FILE} --phase bogus", 64, "'bogus' is invalid for '--phase"),
            Case("run --config {FILE} --shard 1/0", 64, "'1/0' is invalid for '--shard"),
            // Misspelt commands.
            Case("redsi --source {S}", 64, "unknown command 'redsi'; did you mean 'migrate redis'?"),
            Case("grahp", 64, "did you mean 'migrate graph'?"),
            Case("vectrs --batch 5", 64, "did you mean 'migrate vectors'?"),
            Case("verfy redis", 64, "did you mean 'migrate verify'?"),
            Case("--bogus", 64, "Unknown option '--bogus'"),
        ]

        @Test func everyMistakeIsRefusedBeforeAnyWrite() async throws {
            #expect(Self.cases.count >= 60)
            let directory = checkpointDirectory()
            let files = ["EMPTY": "\(directory)/empty", "NEWLINE": "\(directory)/newline", "FILE": "\(directory)/file",
                         "MISSING": "\(directory)/missing", "DIR": "\(directory)/dir", "S": Servers.source, "T": Servers.target]
            FileManager.default.createFile(atPath: files["EMPTY"]!, contents: Data())
            FileManager.default.createFile(atPath: files["NEWLINE"]!, contents: Data("\n".utf8))
            FileManager.default.createFile(atPath: files["FILE"]!, contents: Data("phases: []\n".utf8))
            try FileManager.default.createDirectory(atPath: files["DIR"]!, withIntermediateDirectories: true)
            func expand(_ text: String) -> String {
                files.reduce(text) { $0.replacingOccurrences(of: "{\($1.key)}", with: $1.value) }
            }

            let target = try await Servers.client(Servers.target)
            try await target.flushAll()
            _ = try await target.must("SET", "bad-input-sentinel", "untouched")
            for testCase in Self.cases {
                let arguments = expand(testCase.arguments).split(separator: " ").map { $0 == "''" ? "" : String($0) }
                let result = try await CLI.run(arguments)
                let firstLine = result.stderr.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
                #expect(result.status == testCase.status, "\(testCase): exit \(result.status): \(result.output)")
                #expect(firstLine.contains(expand(testCase.firstLine)), "\(testCase): first line: \(firstLine)")
                #expect(try await target.keyCount() == 1, "\(testCase) wrote to the target")
            }
            #expect(try await target.must("GET", "bad-input-sentinel").string == "untouched")
            // Nothing was created where a mistake pointed: no report, no checkpoint directory.
            #expect(!FileManager.default.fileExists(atPath: files["MISSING"]!))
            #expect(try FileManager.default.contentsOfDirectory(atPath: files["DIR"]!).isEmpty)
            await target.close()
        }
    }
}
