import AWS
import Foundation
import Hashing
import Logging
import MigrationCore
import ObjectMigration
import Testing

/// moto with a bucket, and the environment that points the CLI's credential chain and S3 endpoint at it.
struct ObjectTarget {
    let moto: AWSStandIn
    let bucket = "uploads"

    static func start() async throws -> ObjectTarget {
        ObjectTarget(moto: try await AWSStandIn.moto(["--bucket", "uploads"]))
    }

    var environment: [String: String] {
        isolatedAWSEnvironment(["AWS_ACCESS_KEY_ID": moto.info["access_key"]!.string!, "AWS_SECRET_ACCESS_KEY": moto.info["secret_key"]!.string!,
                                "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_ENDPOINT_URL": moto.url, "AWS_REGION": "us-east-1"])
    }

    var location: S3Location {
        S3Location(endpoint: try! AWSServiceEndpoint(url: moto.url), region: "us-east-1", credentials: AWSCredentialProvider(environment: environment))
    }

    func store() -> S3ObjectStore { S3ObjectStore(location) }
}

/// Writes `bytes` random bytes to `path`, creating directories.
func writeRandomFile(_ path: String, bytes: Int) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    var generator = SystemRandomNumberGenerator()
    var data = Data(count: bytes)
    data.withUnsafeMutableBytes { buffer in
        var index = 0
        while index + 8 <= bytes {
            buffer.storeBytes(of: generator.next() as UInt64, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes { buffer[index] = UInt8.random(in: 0...255); index += 1 }
    }
    try data.write(to: URL(fileURLWithPath: path))
}

extension Integration {
    @Suite struct Objects {
        static let layout = ["--multipart-threshold", "5", "--part-size", "5"]

        @Test func copiesEveryKindOfFileRefusesWhatCannotBeReadAndVerifies() async throws {
            let target = try await ObjectTarget.start()
            defer { target.moto.stop() }
            let directory = checkpointDirectory()
            let source = directory + "/uploads"
            // 1,000 small files (the 10,000 take 83 s against moto in a debug build; see the README),
            // the sizes around S3's 5 MiB part minimum, 100 MiB in 20 parts, names with spaces and Unicode.
            for index in 0..<1000 {
                try writeRandomFile(source + "/small/d\(index % 20)/f\(index).txt", bytes: 100 + index % 900)
            }
            try writeRandomFile(source + "/sizes/zero", bytes: 0)
            try writeRandomFile(source + "/sizes/five-minus-one.bin", bytes: (5 << 20) - 1)
            try writeRandomFile(source + "/sizes/five.bin", bytes: 5 << 20)
            try writeRandomFile(source + "/sizes/hundred.bin", bytes: 100 << 20)
            try writeRandomFile(source + "/names/ä ö ü/Ünïcödé file 名前.pdf", bytes: 1234)
            #expect(mkfifo(source + "/names/a fifo", 0o644) == 0)
            try FileManager.default.createSymbolicLink(atPath: source + "/names/loop", withDestinationPath: source + "/names")
            let copied = 1000 + 5
            let run = try await CLI.run(["objects", "--source", source, "--target", "s3://uploads/app/", "--checkpoint-dir", directory + "/cp",
                                         "--concurrency", "8", "--report", directory + "/report.json"] + Self.layout, environment: target.environment)
            // Refused files make the run incomplete (exit 4), never copied.
            #expect(run.status == 4, "\(run.output)")
            let report = try JSONDecoder.reports.decode(MigrationReport.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
            #expect(report.totals["copied"] == copied && report.totals["refused"] == 2, "\(report.totals)")
            #expect(report.ledger?.total.written == copied && report.ledger?.problems.isEmpty == true)
            let deadLetters = try deadLetterLines(in: directory + "/cp").joined(separator: "\n")
            #expect(deadLetters.contains("names/a fifo") && deadLetters.contains("FIFO") && deadLetters.contains("names/loop") && deadLetters.contains("symlink loop"), "\(deadLetters)")

            let store = target.store()
            let objects = try await store.list(bucket: "uploads", prefix: "app/")
            #expect(objects.count == copied)
            #expect(objects.first { $0.key == "app/names/ä ö ü/Ünïcödé file 名前.pdf" }?.size == 1234)
            // Multipart objects carry S3's composite checksum of the parts; the local computation agrees.
            let hundred = try await store.head(bucket: "uploads", key: "app/sizes/hundred.bin")
            #expect(hundred?.size == 100 << 20)
            let file = try await LocalFile.open(source + "/sizes/hundred.bin", queue: .init(label: "t"))
            #expect(hundred?.sha256 == (try await ObjectLayout(multipartThreshold: 5 << 20, partSize: 5 << 20).checksum(of: file, size: 100 << 20)))
            #expect(try await store.multipartUploads(bucket: "uploads", prefix: "app/").isEmpty)
            await store.close()

            let verify = try await CLI.run(["verify", "objects", "--source", source, "--target", "s3://uploads/app/"] + Self.layout, environment: target.environment)
            #expect(verify.status == 0, "\(verify.output)")
            #expect(verify.stdout.contains("not compared") && verify.stdout.contains("a fifo"), "\(verify.stdout)")

            // A rerun sends nothing again: every object is there with the same size and checksum.
            let again = try await CLI.run(["objects", "--source", source, "--target", "s3://uploads/app/", "--checkpoint-dir", directory + "/cp2",
                                           "--exclude", "names/a fifo", "--exclude", "names/loop", "--json"] + Self.layout, environment: target.environment)
            #expect(again.status == 0, "\(again.output)")
            #expect(again.stdout.contains("\"already present\":\(copied)") && !again.stdout.contains("\"copied\""), "\(again.stdout.suffix(1500))")

            // One changed file (same size) and one changed size: verify exits 3 naming both.
            try writeRandomFile(source + "/small/d3/f3.txt", bytes: 103)
            try writeRandomFile(source + "/sizes/five.bin", bytes: (5 << 20) + 1)
            let changed = try await CLI.run(["verify", "objects", "--source", source, "--target", "s3://uploads/app/"] + Self.layout, environment: target.environment)
            #expect(changed.status == 3, "\(changed.output)")
            #expect(changed.stdout.contains("small/d3/f3.txt: checksum differs") && changed.stdout.contains("sizes/five.bin: size differs"), "\(changed.stdout)")
        }

        @Test func killNineMidMultipartThenResumeExact() async throws {
            let target = try await ObjectTarget.start()
            defer { target.moto.stop() }
            let directory = checkpointDirectory()
            let source = directory + "/uploads"
            for index in 0..<40 {
                try writeRandomFile(source + "/a/small\(index).txt", bytes: 2000)
            }
            try writeRandomFile(source + "/b/large.bin", bytes: 200 << 20)
            let arguments = ["objects", "--source", source, "--target", "s3://uploads/k/", "--checkpoint-dir", directory + "/cp", "--batch", "10", "--concurrency", "2"] + Self.layout
            let process = try CLI.start(arguments, environment: target.environment, log: directory + "/first")
            let store = target.store()
            var inFlight = false
            for _ in 0..<600 where !inFlight {
                inFlight = !(try await store.multipartUploads(bucket: "uploads", prefix: "k/").isEmpty)
                if !inFlight { try await Task.sleep(for: .milliseconds(50)) }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(inFlight, "no multipart upload was seen in flight")
            #expect(process.terminationStatus != 0)
            #expect(try await store.multipartUploads(bucket: "uploads", prefix: "k/").count == 1, "the kill left the upload unfinished")
            #expect(try await store.head(bucket: "uploads", key: "k/b/large.bin") == nil)

            let resumed = try await CLI.run(arguments + ["--resume", "--report", directory + "/report.json"], environment: target.environment)
            #expect(resumed.status == 0, "\(resumed.output)")
            #expect(resumed.stdout.contains("aborted 1 unfinished multipart upload"), "\(resumed.stdout)")
            #expect(try await store.multipartUploads(bucket: "uploads", prefix: "k/").isEmpty)
            let report = try JSONDecoder.reports.decode(MigrationReport.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
            #expect(report.resumed && report.ledger?.total.written == 41 && report.ledger?.total.selected == 41 && report.ledger?.problems.isEmpty == true,
                    "\(String(describing: report.ledger))")
            #expect(try await store.list(bucket: "uploads", prefix: "k/").count == 41)
            await store.close()
            let verify = try await CLI.run(["verify", "objects", "--source", source, "--target", "s3://uploads/k/"] + Self.layout, environment: target.environment)
            #expect(verify.status == 0, "\(verify.output)")
        }

        @Test func objectsIsAPhaseOfPlanAndRun() async throws {
            let target = try await ObjectTarget.start()
            defer { target.moto.stop() }
            let directory = checkpointDirectory()
            for index in 0..<30 { try writeRandomFile(directory + "/uploads/f\(index).json", bytes: 500) }
            try writeRandomFile(directory + "/uploads/big.bin", bytes: 6 << 20)
            let configuration = directory + "/migration.yaml"
            try """
                checkpoint-dir: \(directory)/cp
                objects:
                  source: \(directory)/uploads
                  target: s3://uploads/phase/
                  multipart-threshold: 5
                  part-size: 5
                  exclude: "*.tmp"
                """.write(toFile: configuration, atomically: true, encoding: .utf8)
            let plan = try await CLI.run(["plan", "--config", configuration], environment: target.environment)
            #expect(plan.status == 0, "\(plan.output)")
            #expect(plan.stdout.contains("31, 6,306,") && plan.stdout.contains("1 in multipart uploads") && plan.stdout.contains("0 objects under s3://uploads/phase/"), "\(plan.stdout)")
            #expect(plan.stdout.contains("AWS credentials") && plan.stdout.contains("environment (AWS_ACCESS_KEY_ID), long-lived keys"), "\(plan.stdout)")
            let run = try await CLI.run(["run", "--config", configuration], environment: target.environment)
            #expect(run.status == 0, "\(run.output)")
            #expect(run.stdout.contains("objects:"), "\(run.stdout)")
            let store = target.store()
            #expect(try await store.list(bucket: "uploads", prefix: "phase/").count == 31)
            await store.close()
        }

        @Test func filesThatVanishOrCannotBeOpenedAreRefusedNotCopied() async throws {
            let target = try await ObjectTarget.start()
            defer { target.moto.stop() }
            let directory = checkpointDirectory()
            let source = directory + "/uploads"
            for name in ["keep.txt", "vanish.txt", "locked.txt"] { try writeRandomFile(source + "/" + name, bytes: 10) }
            // Permissions: the copy runs as `nobody`, who cannot open a mode-000 file (root could).
            chmod(source + "/locked.txt", 0)
            for path in [directory, source] { chmod(path, 0o777) }
            let settings = ObjectRunSettings(sourceDirectory: source, bucket: "uploads", prefix: "v", location: target.location,
                                             progressStyle: .silent, logger: Logger(label: "test"))
            let migration = try await ObjectMigration.prepare(settings)
            // Vanished between the walk and the copy.
            try FileManager.default.removeItem(atPath: source + "/vanish.txt")
            let report = try await migration.run(checkpointDirectory: directory + "/cp", resumePolicy: .fresh, rateLimit: nil)
            #expect(report.outcome == .incomplete && report.totals["copied"] == 2 && report.totals["refused"] == 1, "\(report.rendered())")
            #expect(report.problems.contains { $0.contains("vanish.txt") && $0.contains("No such file") }, "\(report.problems)")

            let asNobody = try await CLI.runAs(nobody: ["objects", "--source", source, "--target", "s3://uploads/n/", "--checkpoint-dir", directory + "/cp-nobody"],
                                               environment: target.environment)
            #expect(asNobody.status == 4, "\(asNobody.output)")
            #expect(asNobody.stdout.contains("refused locked.txt: cannot be read: Permission denied"), "\(asNobody.stdout)")
            let store = target.store()
            #expect(try await store.list(bucket: "uploads", prefix: "n/").map(\.key) == ["n/keep.txt"])
            await store.close()
        }
    }
}

extension CLI {
    /// Runs the CLI as the unprivileged user `nobody` (with `setpriv`), for permission tests under root.
    static func runAs(nobody arguments: [String], environment: [String: String]) async throws -> Result {
        try await run(arguments, environment: environment, launcher: ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"])
    }
}
