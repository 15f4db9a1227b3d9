import ArgumentParser
import Foundation
import MigrationCore
import ReportHTML

/// `migrate status`: what the checkpoints of runs in progress (or finished) say, without touching any store.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the checkpoints in --checkpoint-dir: which runs are unfinished, how far each partition got, what was counted."
    )

    @Option(name: .customLong("checkpoint-dir"), help: ArgumentHelp("Where the runs keep their checkpoints.", valueName: "path"))
    var checkpointDirectory = ".migrate"
    @Flag(name: .customLong("json"), help: "One JSON line per checkpoint on standard output.")
    var json = false
    @Option(name: .customLong("report-html"), help: ArgumentHelp("Also write the checkpoints as one self-contained HTML page to this file.", valueName: "path"))
    var reportHTML: String?

    func validate() throws {
        try OptionCheck.writableFile("--report-html", reportHTML)
    }

    func run() async throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: checkpointDirectory)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
        var checkpoints: [(String, Checkpoint)] = []
        for file in files {
            let path = (checkpointDirectory as NSString).appendingPathComponent(file)
            do {
                if let checkpoint = try await CheckpointStore(path: path).load() { checkpoints.append((path, checkpoint)) }
            } catch {
                FileHandle.standardError.write(Data("warning: \(error)\n".utf8))
            }
        }
        if let reportHTML {
            let page = ReportPage.render(checkpoints: checkpoints.map { (path: $0.0, checkpoint: $0.1) }, directory: checkpointDirectory,
                                         toolVersion: ReportOutput.toolVersion, at: Date())
            try await ReportFile.write(text: page, toPath: reportHTML)
        }
        guard !checkpoints.isEmpty else {
            if !json { print("no checkpoints in \(checkpointDirectory)") }
            return
        }
        for (path, checkpoint) in checkpoints {
            if json {
                print(JSONLines.encode(event: "checkpoint", CheckpointSummary(path: path, checkpoint: checkpoint)))
                continue
            }
            let state = checkpoint.finished ? "finished" : "UNFINISHED (continue with --resume)"
            print("\(checkpoint.migration): \(state), started \(checkpoint.startedAt), last written \(checkpoint.updatedAt)")
            print("  \(path)")
            for (name, partition) in checkpoint.partitions.sorted(by: { $0.key < $1.key }) {
                let main = partition.tally.counts.filter { !$0.key.contains(" ") }.sorted { $0.key < $1.key }
                    .map { "\($0.key) \(Format.count($0.value))" }.joined(separator: ", ")
                print("  \(name): \(partition.finished ? "done" : "at \(partition.position)")\(main.isEmpty ? "" : " — \(main)")")
            }
        }
    }
}

/// The JSON form of one checkpoint for `migrate status --json`.
struct CheckpointSummary: Encodable {
    var path: String
    var migration: String
    var finished: Bool
    var startedAt: Date
    var updatedAt: Date
    var partitions: [String: Checkpoint.PartitionState]
    var totals: Tally

    init(path: String, checkpoint: Checkpoint) {
        self.path = path
        migration = checkpoint.migration
        finished = checkpoint.finished
        startedAt = checkpoint.startedAt
        updatedAt = checkpoint.updatedAt
        partitions = checkpoint.partitions
        totals = checkpoint.tally
    }
}
