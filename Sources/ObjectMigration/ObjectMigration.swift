import AWS
import BlockingIO
import Failures
import Foundation
import Hashing
import JSON
import Logging
import MigrationCore

/// What `migrate objects` copies where, and how.
public struct ObjectRunSettings: Sendable {
    /// The source directory (local disk, EFS).
    public var sourceDirectory: String
    /// The target bucket.
    public var bucket: String
    /// The key prefix below which the tree lands (empty, or ending in `/`).
    public var prefix: String
    /// The bucket's endpoint, region, credentials and SSE-KMS.
    public var location: S3Location
    public var filter: ObjectFilter
    public var layout: ObjectLayout
    /// Objects per batch (a batch is also closed at `batchBytes`).
    public var batchSize: Int
    public var batchBytes: Int
    public var concurrency: Int
    public var progressStyle: ProgressStyle
    public var logger: Logger

    public init(sourceDirectory: String, bucket: String, prefix: String, location: S3Location, filter: ObjectFilter = ObjectFilter(),
                layout: ObjectLayout = ObjectLayout(multipartThreshold: 8 << 20, partSize: 8 << 20), batchSize: Int = 100,
                batchBytes: Int = 64 << 20, concurrency: Int = 8, progressStyle: ProgressStyle, logger: Logger) {
        self.sourceDirectory = sourceDirectory
        self.bucket = bucket
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.location = location
        self.filter = filter
        self.layout = layout
        self.batchSize = batchSize
        self.batchBytes = batchBytes
        self.concurrency = concurrency
        self.progressStyle = progressStyle
        self.logger = logger
    }

    /// `s3://bucket/prefix`.
    public var targetDisplay: String { "s3://\(bucket)/\(prefix)" }

    func key(_ entry: ObjectEntry) -> String { prefix + entry.path }
}

/// `migrate objects`: every regular file of a directory tree → one S3 object, through ``MigrationRunner`` (its
/// checkpoint, ledger, retries, rate limit, progress and report).
///
/// Files under the multipart threshold go up with one `PUT`, bigger ones in parts (memory: one part per
/// writer); each body and part carries `x-amz-checksum-sha256`, so S3 refuses one that arrived corrupted.
/// Before the first write, unfinished multipart uploads under the prefix (from a run killed mid-upload) are
/// aborted, and the target is listed: an object already there with the same size and checksum is not sent
/// again. A file that cannot be read (permissions, vanished, changed while read, special files, symlink loops)
/// is refused and listed in the dead-letter file, never counted as copied.
public struct ObjectMigration: Migration {
    public typealias Item = ObjectEntry

    public let settings: ObjectRunSettings
    public let plan: MigrationPlan
    let entries: [ObjectEntry]
    /// Object sizes under the prefix when the run started.
    let existing: [String: Int]

    static let unit = "objects"

    /// Walks the source, lists the target and aborts leftover multipart uploads.
    public static func prepare(_ settings: ObjectRunSettings) async throws -> ObjectMigration {
        let entries = try await DirectoryWalk.entries(settings.sourceDirectory, filter: settings.filter)
        let store = S3ObjectStore(settings.location)
        let (aborted, existing): (Int, [String: Int])
        do {
            (aborted, existing) = try await tidyAndList(settings, store: store)
            await store.close()
        } catch {
            await store.close()
            throw error
        }
        var notes: [String] = []
        if aborted > 0 {
            notes.append("aborted \(aborted) unfinished multipart upload(s) under \(settings.targetDisplay) left by an earlier run; their objects are sent again")
        }
        var hasher = SHA256Hasher()
        for part in [settings.sourceDirectory, settings.bucket, settings.prefix, settings.location.endpoint.url] + settings.filter.include + ["|"] + settings.filter.exclude {
            hasher.update(length: part.utf8.count)
            hasher.update(part)
        }
        hasher.update(length: settings.layout.multipartThreshold)
        hasher.update(length: settings.layout.partSize)
        let plan = MigrationPlan(store: "objects", command: "migrate objects", source: settings.sourceDirectory, target: settings.targetDisplay,
                                 fingerprint: hasher.finalize().hexString, stages: [[PartitionPlan(name: "files", initialPosition: "")]],
                                 units: [unit], recordName: "objects", estimatedRecords: entries.count, notes: notes)
        return ObjectMigration(settings: settings, plan: plan, entries: entries, existing: existing)
    }

    /// Aborts the unfinished multipart uploads under the prefix; returns how many, and the objects there by size.
    private static func tidyAndList(_ settings: ObjectRunSettings, store: S3ObjectStore) async throws -> (Int, [String: Int]) {
        let leftovers = try await store.multipartUploads(bucket: settings.bucket, prefix: settings.prefix)
        for upload in leftovers {
            try await store.abortMultipartUpload(bucket: settings.bucket, key: upload.key, uploadID: upload.uploadID)
        }
        let objects = try await store.list(bucket: settings.bucket, prefix: settings.prefix)
        return (leftovers.count, Dictionary(objects.map { ($0.key, $0.size) }) { first, _ in first })
    }

    /// Runs the copy.
    public func run(checkpointDirectory: String, resumePolicy: ResumePolicy, rateLimit: Int?) async throws -> MigrationReport {
        let runner = MigrationRunner(settings: .init(checkpointDirectory: checkpointDirectory, resumePolicy: resumePolicy, concurrency: settings.concurrency,
                                                     rateLimit: rateLimit, progressStyle: settings.progressStyle, logger: settings.logger))
        return try await runner.run(self)
    }

    public func reader(partition: String, position: String) async throws -> sending Reader {
        // Paths are sorted: a resumed run continues after the last path of the last acknowledged batch.
        let start = position.isEmpty ? 0 : entries.partitioningIndex { !$0.path.utf8.lexicographicallyPrecedes(position.utf8) && $0.path != position }
        return Reader(entries: entries, next: start, batchSize: settings.batchSize, batchBytes: settings.batchBytes)
    }

    public func writer(deadLetters: DeadLetterFile) async throws -> sending Writer {
        Writer(settings: settings, existing: existing, deadLetters: deadLetters)
    }

    public func countTarget(units: [String]) async throws -> [String: Int]? {
        let store = S3ObjectStore(settings.location)
        let objects = try await store.list(bucket: settings.bucket, prefix: settings.prefix)
        await store.close()
        return [Self.unit: objects.count]
    }

    public func sections(_ checkpoint: Checkpoint) -> [MigrationReport.Section] {
        []
    }

    /// Batches of entries in path order.
    public struct Reader: BatchReader {
        let entries: [ObjectEntry]
        var next: Int
        let batchSize: Int
        let batchBytes: Int

        public mutating func next() async throws -> ReadBatch<ObjectEntry> {
            var items: [ObjectEntry] = []
            var bytes = 0
            while next < entries.count && items.count < batchSize && (items.isEmpty || bytes + entries[next].size <= batchBytes) {
                items.append(entries[next])
                bytes += entries[next].size
                next += 1
            }
            return ReadBatch(items: items, position: items.last?.path ?? "", isLast: next >= entries.count)
        }
    }

    /// Uploads a batch's files one after the other over its own connection.
    public struct Writer: BatchWriter {
        let settings: ObjectRunSettings
        let existing: [String: Int]
        let deadLetters: DeadLetterFile
        let queue = BlockingQueue(label: "migrate.objects.read")
        var store: S3ObjectStore?

        init(settings: ObjectRunSettings, existing: [String: Int], deadLetters: DeadLetterFile) {
            self.settings = settings
            self.existing = existing
            self.deadLetters = deadLetters
        }

        public mutating func write(_ items: [ObjectEntry], partition: String) async throws -> BatchOutcome {
            let store = self.store ?? S3ObjectStore(settings.location)
            self.store = store
            var outcome = BatchOutcome()
            var refusals: [String] = []
            for entry in items {
                outcome.ledger.selected(ObjectMigration.unit)
                outcome.units += 1
                let reason: String?
                if let refusal = entry.refusal {
                    reason = refusal
                } else {
                    reason = try await copy(entry, store: store, outcome: &outcome)
                }
                if let reason {
                    outcome.ledger.refused(ObjectMigration.unit)
                    outcome.tally.add("refused")
                    outcome.problems.append("refused \(entry.path): \(reason)")
                    refusals.append(JSONWriter.text(.object([("path", .string(entry.path)), ("reason", .string(reason))])))
                }
            }
            if !refusals.isEmpty { try await deadLetters.append(lines: refusals) }
            return outcome
        }

        /// Copies one file; returns why it was refused, or `nil` once S3 holds it.
        private func copy(_ entry: ObjectEntry, store: S3ObjectStore, outcome: inout BatchOutcome) async throws -> String? {
            let key = settings.key(entry)
            let file: LocalFile
            do {
                file = try await LocalFile.open(settings.sourceDirectory + "/" + entry.path, queue: queue)
            } catch {
                return "cannot be read: \(error)"
            }
            do {
                if existing[key] == entry.size, let head = try await store.head(bucket: settings.bucket, key: key), head.size == entry.size,
                   let remote = head.sha256, remote == (try await settings.layout.checksum(of: file, size: entry.size)) {
                    outcome.ledger.written(ObjectMigration.unit)
                    outcome.tally.add("already present")
                    outcome.checksum.add(record: Array("\(key)\u{0}\(remote)".utf8))
                    return nil
                }
                let contentType = ContentType.of(entry.path)
                let checksum: String
                if settings.layout.isMultipart(entry.size) {
                    checksum = try await multipart(file, entry: entry, key: key, contentType: contentType, store: store)
                } else {
                    let body = try await file.read(offset: 0, count: entry.size)
                    guard await file.endsAt(entry.size) else { return "changed while being read (it grew)" }
                    checksum = try await store.put(bucket: settings.bucket, key: key, body: body, contentType: contentType)
                }
                outcome.checksum.add(record: Array("\(key)\u{0}\(checksum)".utf8))
            } catch let error as ObjectMigrationError {
                return "\(error)"
            } catch let error as AWSError where !error.isTransient && error.status >= 400 && error.status < 500 && error.status != 403 {
                // S3 refused this object (a bad digest, a key too long): listed, the rest goes on.
                return error.description
            }
            outcome.ledger.written(ObjectMigration.unit)
            outcome.tally.add("copied")
            outcome.tally.add("bytes", entry.size)
            outcome.bytes += entry.size
            return nil
        }

        /// Uploads `file` in parts; returns the composite checksum.
        private func multipart(_ file: LocalFile, entry: ObjectEntry, key: String, contentType: String, store: S3ObjectStore) async throws -> String {
            let uploadID = try await store.createMultipartUpload(bucket: settings.bucket, key: key, contentType: contentType)
            do {
                var parts: [(etag: String, digest: [UInt8])] = []
                for (index, range) in settings.layout.parts(entry.size).enumerated() {
                    let body = try await file.read(offset: range.lowerBound, count: range.count)
                    let digest = SHA256Hasher.hash(body)
                    parts.append((try await store.uploadPart(bucket: settings.bucket, key: key, uploadID: uploadID, number: index + 1, body: body, digest: digest), digest))
                }
                guard await file.endsAt(entry.size) else { throw ObjectMigrationError.unreadable("changed while being read (it grew)") }
                try await store.completeMultipartUpload(bucket: settings.bucket, key: key, uploadID: uploadID, parts: parts)
                var composite = SHA256Hasher()
                for part in parts { composite.update(part.digest) }
                return S3ObjectStore.base64(composite.finalize())
            } catch {
                // Never leave an unfinished upload behind (it is billed): abort, then report why.
                try? await store.abortMultipartUpload(bucket: settings.bucket, key: key, uploadID: uploadID)
                throw error
            }
        }

        public mutating func reset() async {
            await store?.close()
            store = nil
        }
    }
}

extension Array {
    /// The first index whose element satisfies `belongs`, for a predicate false then true along the array.
    func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
