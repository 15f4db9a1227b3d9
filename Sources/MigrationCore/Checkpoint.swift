import BlockingIO
import Foundation

/// What a run has durably written, per partition: enough to resume after a crash without loss or duplicates.
public struct Checkpoint: Sendable, Codable, Equatable {
    /// The format version of this file.
    public var version = 1
    /// Which migration wrote it (`redis`, `vectors`, `graph`).
    public var migration: String
    /// A digest of the source, target and options: a resume with other settings is refused.
    public var fingerprint: String
    /// What the fingerprint digests, readable (``MigrationPlan/identity``); absent in older checkpoints.
    public var identity: [String: String]?
    /// When the run started.
    public var startedAt: Date
    /// When the file was last written.
    public var updatedAt: Date
    /// Whether every partition finished.
    public var finished: Bool
    /// Partitions by name (for Redis: `node/db`).
    public var partitions: [String: PartitionState]
    /// What the target held per ledger unit when the migration first started (kept across resumes), so the
    /// final count can be held against what was written.
    public var targetBefore: [String: Int]?

    /// One partition's progress.
    public struct PartitionState: Sendable, Codable, Equatable {
        /// The source position after the last durable batch (a SCAN cursor, a key, an id), opaque here.
        public var position: String
        /// Whether the partition was read to its end.
        public var finished: Bool
        /// Counters over what was written.
        public var tally: Tally
        /// Checksum over what was written.
        public var checksum: OrderIndependentChecksum
        /// The account of every record read, per unit.
        public var ledger: Ledger

        /// A partition that has not started.
        public init(position: String) {
            self.position = position
            self.finished = false
            self.tally = Tally()
            self.checksum = OrderIndependentChecksum()
            self.ledger = Ledger()
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            position = try container.decode(String.self, forKey: .position)
            finished = try container.decode(Bool.self, forKey: .finished)
            tally = try container.decode(Tally.self, forKey: .tally)
            checksum = try container.decode(OrderIndependentChecksum.self, forKey: .checksum)
            ledger = try container.decodeIfPresent(Ledger.self, forKey: .ledger) ?? Ledger()
        }
    }

    /// A new checkpoint with no partitions.
    public init(migration: String, fingerprint: String, startedAt: Date = Date()) {
        self.migration = migration
        self.fingerprint = fingerprint
        self.startedAt = startedAt
        self.updatedAt = startedAt
        self.finished = false
        self.partitions = [:]
    }

    /// The sum of every partition's counters.
    public var tally: Tally {
        partitions.values.reduce(into: Tally()) { $0.merge($1.tally) }
    }

    /// The sum of every partition's account.
    public var ledger: Ledger {
        partitions.values.reduce(into: Ledger()) { $0.merge($1.ledger) }
    }

    /// The sum of every partition's checksum.
    public var checksum: OrderIndependentChecksum {
        partitions.values.reduce(into: OrderIndependentChecksum()) { $0.merge($1.checksum) }
    }
}

/// What to do with a checkpoint left by an earlier run.
public enum ResumePolicy: Sendable {
    /// Continue from it (`--resume`); start new when there is none.
    case resume
    /// Discard it and start over (`--fresh`).
    case fresh
    /// Refuse to run while an unfinished one exists (the default, so nothing is redone or skipped by accident).
    case refuseUnfinished
}

/// Why a checkpoint could not be read or written.
public enum CheckpointError: Error, Sendable, CustomStringConvertible {
    /// The file exists but is not a checkpoint of this tool.
    case unreadable(path: String, reason: String)
    /// Writing, syncing or renaming failed (disk full, permissions).
    case unwritable(path: String, reason: String)
    /// A checkpoint of an unfinished run exists and neither `--resume` nor `--fresh` was given.
    case unfinishedRunExists(path: String)
    /// `--resume` was given but the checkpoint was written with other settings; `differences` names them
    /// (`source replication id: 8f2… here, 41c… in the checkpoint`).
    case fingerprintMismatch(path: String, differences: [String])

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read checkpoint \(path): \(reason). Delete it and start with --fresh, or point --checkpoint-dir elsewhere."
        case .unwritable(let path, let reason):
            return "cannot write checkpoint \(path): \(reason). Free disk space or choose another --checkpoint-dir; nothing after the last checkpoint was acknowledged."
        case .unfinishedRunExists(let path):
            return "an unfinished run left a checkpoint at \(path). Continue it with --resume, or start over with --fresh."
        case .fingerprintMismatch(let path, let differences):
            let what = differences.isEmpty ? "another source, target or options" : differences.joined(separator: "; ")
            let directory = (path as NSString).deletingLastPathComponent
            return "--resume: the unfinished checkpoint at \(path) belongs to another migration (\(what)), so resuming would mix the two. Either start this migration over with --fresh (the other checkpoint stays), or resume the other one with its own options, or give this run its own --checkpoint-dir (not \(directory.isEmpty ? "." : directory))."
        }
    }
}

/// Reads and atomically replaces one checkpoint file.
///
/// A save writes a temporary file in the same directory, `fsync`s it, renames it over the old one and
/// `fsync`s the directory, so a crash at any moment leaves either the old or the new checkpoint, never a torn
/// one. File work runs on the store's own ``BlockingQueue``.
public struct CheckpointStore: Sendable {
    /// The checkpoint file.
    public let path: String
    private let queue = BlockingQueue(label: "migrate.checkpoint")

    /// A store for the file `path`; its directory is created on first save.
    public init(path: String) {
        self.path = path
    }

    /// The checkpoint in the file, or `nil` when there is none.
    public func load() async throws(CheckpointError) -> Checkpoint? {
        let path = self.path
        let result: Result<Checkpoint?, CheckpointError> = await queue.run {
            guard let data = FileManager.default.contents(atPath: path) else { return .success(nil) }
            do {
                return .success(try Self.decoder.decode(Checkpoint.self, from: data))
            } catch {
                return .failure(.unreadable(path: path, reason: "\(error)"))
            }
        }
        return try result.get()
    }

    /// Replaces the file with `checkpoint`, durably.
    public func save(_ checkpoint: Checkpoint) async throws(CheckpointError) {
        let path = self.path
        let result: Result<Void, CheckpointError> = await queue.run {
            do {
                let data = try Self.encoder.encode(checkpoint)
                try Self.writeAtomically(data, to: path)
                return .success(())
            } catch let error as CheckpointError {
                return .failure(error)
            } catch {
                return .failure(.unwritable(path: path, reason: "\(error)"))
            }
        }
        try result.get()
    }

    /// The checkpoint a run starts from under `policy`, and whether it continues an earlier run. The choice is
    /// saved at once, so a checkpoint directory that cannot be written (full, read-only) stops the run before
    /// anything is written to the target.
    ///
    /// `--resume` refuses a checkpoint of another migration: its own file with another fingerprint, or, when this
    /// migration has none, an unfinished one of the same store in the directory whose identity differs in anything
    /// but the shard (the other shards of a `--shard i/N` run share the directory).
    public func begin(migration: String, fingerprint: String, identity: [String: String] = [:], policy: ResumePolicy,
                      startedAt: Date = Date()) async throws(CheckpointError) -> (Checkpoint, resumed: Bool) {
        var chosen = try await choose(migration: migration, fingerprint: fingerprint, identity: identity, policy: policy, startedAt: startedAt)
        if !identity.isEmpty { chosen.0.identity = identity }
        try await save(chosen.0)
        return chosen
    }

    private func choose(migration: String, fingerprint: String, identity: [String: String], policy: ResumePolicy,
                        startedAt: Date) async throws(CheckpointError) -> (Checkpoint, resumed: Bool) {
        let fresh = Checkpoint(migration: migration, fingerprint: fingerprint, startedAt: startedAt)
        guard let existing = try await load() else {
            if policy == .resume, let (other, differences) = await foreignCheckpoint(migration: migration, identity: identity) {
                throw .fingerprintMismatch(path: other, differences: differences)
            }
            return (fresh, false)
        }
        switch policy {
        case .fresh:
            return (fresh, false)
        case .resume:
            guard existing.fingerprint == fingerprint else {
                throw .fingerprintMismatch(path: path, differences: Self.differences(identity, existing.identity ?? [:]))
            }
            return (existing, true)
        case .refuseUnfinished:
            if !existing.finished { throw .unfinishedRunExists(path: path) }
            return (fresh, false)
        }
    }

    /// An unfinished checkpoint of the same store beside this one, written for another migration, and what differs.
    private func foreignCheckpoint(migration: String, identity: [String: String]) async -> (String, [String])? {
        guard !identity.isEmpty else { return nil }
        let path = self.path
        let directory = (path as NSString).deletingLastPathComponent
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? [])
            .filter { $0.hasPrefix("\(migration)-") && $0.hasSuffix(".json") }.sorted()
        for file in files {
            let other = (directory as NSString).appendingPathComponent(file)
            guard other != path, let checkpoint = try? await CheckpointStore(path: other).load(), checkpoint.migration == migration,
                  !checkpoint.finished, let theirs = checkpoint.identity else { continue }
            let differences = Self.differences(identity, theirs)
            if !differences.isEmpty && theirs["shard"] == identity["shard"] { return (other, differences) }
        }
        return nil
    }

    /// The fields of two identities that differ, as `field: VALUE here, OTHER in the checkpoint`.
    static func differences(_ mine: [String: String], _ theirs: [String: String]) -> [String] {
        Set(mine.keys).union(theirs.keys).sorted().compactMap { field in
            let (here, there) = (mine[field] ?? "none", theirs[field] ?? "none")
            return here == there ? nil : "\(field): \(here) here, \(there) in the checkpoint"
        }
    }

    /// Replaces `path` with `data` so that a crash leaves the old file or the new one: a temporary file, `fsync`,
    /// `rename`, `fsync` of the directory. Blocking: call it from a ``BlockingQueue``.
    public static func writeAtomically(_ data: Data, to path: String) throws(CheckpointError) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true)
        } catch {
            throw .unwritable(path: path, reason: "cannot create directory: \(error.localizedDescription)")
        }
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw .unwritable(path: temporary, reason: String(cString: strerror(errno))) }
        var failure: String?
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += written
            }
        }
        if failure == nil && fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        close(descriptor)
        if let failure {
            unlink(temporary)
            throw .unwritable(path: path, reason: failure)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .unwritable(path: path, reason: reason)
        }
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
