import AWS
import BlockingIO
import Foundation
import MigrationCore

/// `migrate verify objects`: lists both sides and compares names, sizes and checksums (the object's
/// `x-amz-checksum-sha256`, or the `x-amz-meta-sha256` `migrate objects` stores, against the file's, computed
/// as S3 computes it). Any difference makes the outcome `mismatched` (exit 3) and is named in the problems.
public struct ObjectVerification: Sendable {
    public var settings: ObjectRunSettings

    public init(settings: ObjectRunSettings) {
        self.settings = settings
    }

    /// One path's comparison.
    enum Finding: Sendable {
        case equal
        case different(String)
    }

    public func run() async throws -> MigrationReport {
        let startedAt = Date()
        let entries = try await DirectoryWalk.entries(settings.sourceDirectory, filter: settings.filter)
        let lister = S3ObjectStore(settings.location)
        let remote: [S3ObjectSummary]
        do {
            remote = try await lister.list(bucket: settings.bucket, prefix: settings.prefix)
            await lister.close()
        } catch {
            await lister.close()
            throw error
        }
        let sizes = Dictionary(remote.map { ($0.key, $0.size) }) { first, _ in first }
        var tally = Tally()
        var problems: [String] = []
        var notes: [String] = []
        var toCompare: [ObjectEntry] = []
        for entry in entries {
            if let refusal = entry.refusal {
                tally.add("not compared")
                notes.append("\(entry.path): not compared, not a file that can be copied (\(refusal))")
            } else if let size = sizes[settings.key(entry)] {
                if size == entry.size {
                    toCompare.append(entry)
                } else {
                    tally.add("different")
                    problems.append("\(entry.path): size differs (source \(entry.size), target \(size))")
                }
            } else {
                tally.add("missing")
                problems.append("\(entry.path): missing on the target")
            }
        }
        let sourceKeys = Set(entries.map(settings.key))
        for object in remote where !sourceKeys.contains(object.key) && settings.filter.takes(String(object.key.dropFirst(settings.prefix.count))) {
            tally.add("only on target")
            problems.append("\(object.key): only on the target")
        }
        for (entry, finding) in try await compare(toCompare) {
            switch finding {
            case .equal: tally.add("equal")
            case .different(let reason):
                tally.add("different")
                problems.append("\(entry.path): \(reason)")
            }
        }
        tally.add("compared", entries.count)
        let differs = problems.count > 0
        return MigrationReport(command: "migrate verify objects", source: settings.sourceDirectory, target: settings.targetDisplay,
                               outcome: differs ? .mismatched : .succeeded, startedAt: startedAt, totals: tally,
                               problems: Array(problems.sorted().prefix(100)) + (problems.count > 100 ? ["… and \(problems.count - 100) more"] : []),
                               notes: notes)
    }

    /// Checksums of same-sized pairs, `settings.concurrency` at a time.
    private func compare(_ entries: [ObjectEntry]) async throws -> [(ObjectEntry, Finding)] {
        let workers = max(1, min(settings.concurrency, entries.count))
        return try await withThrowingTaskGroup(of: [(ObjectEntry, Finding)].self) { group in
            for worker in 0..<workers {
                let slice = stride(from: worker, to: entries.count, by: workers).map { entries[$0] }
                let settings = self.settings
                group.addTask {
                    let store = S3ObjectStore(settings.location)
                    let queue = BlockingQueue(label: "migrate.objects.verify")
                    var findings: [(ObjectEntry, Finding)] = []
                    do {
                        for entry in slice {
                            findings.append((entry, try await Self.finding(entry, settings: settings, store: store, queue: queue)))
                        }
                    } catch {
                        await store.close()
                        throw error
                    }
                    await store.close()
                    return findings
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    private static func finding(_ entry: ObjectEntry, settings: ObjectRunSettings, store: S3ObjectStore, queue: BlockingQueue) async throws -> Finding {
        guard let head = try await store.head(bucket: settings.bucket, key: settings.key(entry)) else { return .different("vanished from the target") }
        guard let remote = head.sha256 else { return .different("the target object has no SHA-256 checksum to compare") }
        let local: String
        do {
            local = try await settings.layout.checksum(of: try await LocalFile.open(settings.sourceDirectory + "/" + entry.path, queue: queue), size: entry.size)
        } catch {
            return .different("the source cannot be read (\(error))")
        }
        return local == remote ? .equal : .different("checksum differs (source \(local), target \(remote))")
    }
}
