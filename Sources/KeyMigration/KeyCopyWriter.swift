import Failures
import Foundation
import Hashing
import MigrationCore
import RESP

/// How keys are copied.
public struct RedisCopyOptions: Sendable {
    /// How values travel.
    public enum Mode: String, Sendable, CaseIterable {
        /// DUMP + RESTORE (exact, fast), falling back per key to a type-based copy when the target refuses
        /// the payload (newer RDB version, unknown encoding).
        case dump
        /// Type-based copy for every key (GET/SET, LRANGE/RPUSH, HSCAN/HSET, ...).
        case `struct`
    }

    /// How values travel.
    public var mode: Mode = .dump
    /// Which keys are copied.
    public var filter = KeyFilter()
    /// Where each source database goes.
    public var mapping = DatabaseMapping()
    /// Keys whose memory usage (MEMORY USAGE) exceeds this are copied in chunks.
    public var bigKeyBytes = 16 << 20
    /// The most value bytes one DUMP/RESTORE pipeline carries.
    public var pipelineBytes = 32 << 20
    /// Elements per chunk when a big collection is copied.
    public var elementsPerChunk = 1000
    /// Bytes per chunk when a big string is copied.
    public var bytesPerChunk = 4 << 20
    /// Read and count, write nothing.
    public var dryRun = false
    /// Record keys the target refuses and go on, instead of stopping the run.
    public var skipRefused = false

    /// The defaults.
    public init() {}
}

/// A key that cannot be copied for a reason a retry will not fix: the target refused it (ACL, OOM, size
/// limit, unknown type), or the database mapping would let it overwrite another database's key.
public struct KeyRefusedError: Error, Sendable, CustomStringConvertible {
    /// The key, as printable text.
    public var key: String
    /// The source database.
    public var database: Int
    /// What went wrong, with the server's message when there is one.
    public var reason: String
    /// What to do about it.
    public var fix: String

    public var description: String {
        "cannot copy key \(key) (db \(database)): \(reason)\(reason.hasSuffix(".") ? "" : ".") \(fix)"
    }

    /// A refusal by the target, with a fix chosen from the server's message.
    init(key: String, database: Int, command: String, serverMessage: String) {
        self.key = key
        self.database = database
        self.reason = "the target refused \(command): \(serverMessage)"
        if serverMessage.hasPrefix("NOPERM") {
            fix = "Grant the target user access to these keys (ACL ~pattern and +@write), or leave them out with --exclude."
        } else if serverMessage.hasPrefix("OOM") {
            fix = "The target is out of memory: use a larger node type, or copy fewer keys."
        } else {
            fix = "Fix the cause and rerun with --resume, or pass --skip-refused to copy everything else and list such keys in the report."
        }
    }

    /// A key that the database mapping would put among another source database's keys.
    init(key: String, database: Int, collidingWith other: DatabaseMapping.Rule) {
        self.key = key
        self.database = database
        self.reason = "it would land under prefix '\(String(decoding: other.prefix, as: UTF8.self))' of source database \(other.source) and could overwrite its keys"
        self.fix = "Give database \(database) a prefix of its own with --db-map, or leave such keys out with --exclude."
    }
}

/// What was learnt about one key before copying it.
private struct KeyInfo {
    var key: [UInt8]
    /// The source database.
    var database: Int
    var target: (database: Int, key: [UInt8])
    var state: KeyState

    var type: RedisType { state.type }
    var expireAt: Int64? { state.expireAt }
    var size: Int { state.size }
}

/// Copies batches of keys from one source database to the target. Owns its connections.
struct KeyCopyWriter: BatchWriter {
    let source: RedisDeployment
    let target: RedisDeployment
    let options: RedisCopyOptions
    /// The source database of each partition.
    let partitionDatabases: [String: Int]
    /// Every source database the run copies (for mapping collisions).
    let sourceDatabases: [Int]
    /// Where keys the target refuses are listed (a live sync's and a repair's refusals stop them instead).
    let deadLetters: DeadLetterFile?
    /// Where big keys' acknowledged chunks are recorded, for a resume mid key (none for a live sync or a repair).
    let stagingLog: StagingLog?
    private var sourceClients: [Int: DatabaseClient] = [:]
    private var targetClients: [Int: RedisClient] = [:]
    /// The refused keys of the batch being written, for the dead-letter file once the batch is done.
    private var refusedKeys: [RefusedKey] = []

    init(source: RedisDeployment, target: RedisDeployment, options: RedisCopyOptions, partitionDatabases: [String: Int], sourceDatabases: [Int],
         deadLetters: DeadLetterFile? = nil, stagingLog: StagingLog? = nil) {
        self.stagingLog = stagingLog
        self.source = source
        self.target = target
        self.options = options
        self.partitionDatabases = partitionDatabases
        self.sourceDatabases = sourceDatabases
        self.deadLetters = deadLetters
    }

    mutating func reset() async {
        for source in sourceClients.values { await source.client.close() }
        for client in targetClients.values { await client.close() }
        sourceClients = [:]
        targetClients = [:]
    }

    mutating func write(_ keys: [[UInt8]], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome()
        refusedKeys = []
        guard !keys.isEmpty, let database = partitionDatabases[partition] else { return outcome }
        let source = try await sourceClient(database)
        let sourceClient = source.client
        let infos = zip(keys, try await source.inspect(keys)).map { key, state in
            KeyInfo(key: key, database: database, target: options.mapping.map(key, database: database), state: state)
        }
        outcome.tally.add("scanned", infos.count)

        var toDump: [KeyInfo] = []
        var toRebuild: [KeyInfo] = []
        var toDelete: [KeyInfo] = []
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for info in infos {
            outcome.units += 1
            outcome.ledger.selected(Self.unit(database))
            if info.type == .none {
                vanished(info, into: &outcome)
                toDelete.append(info)
            } else if !options.filter.admits(type: info.type) {
                outcome.tally.add("skipped by type")
                outcome.ledger.skipped(Self.unit(database), rule: Self.typeRule)
            } else if let other = options.mapping.collision(for: info.key, database: database, sourceDatabases: sourceDatabases) {
                try refuse(KeyRefusedError(key: info.key.printableKey, database: database, collidingWith: other), key: info.key, outcome: &outcome)
            } else if let expireAt = info.expireAt, expireAt <= now {
                outcome.tally.add("expired during copy")
                outcome.ledger.skipped(Self.unit(database), rule: Self.vanishedRule)
                toDelete.append(info)
            } else if options.mode == .struct || (info.size > options.bigKeyBytes && info.type != .other) {
                if info.size > options.bigKeyBytes { outcome.tally.add("big keys") }
                toRebuild.append(info)
            } else {
                toDump.append(info)
            }
        }

        if options.dryRun {
            // The values are read (not written) so that the checksum is the one a copy would print.
            let read = toDump + toRebuild
            let digester = ValueDigester(reader: valueReader, bigKeyBytes: options.bigKeyBytes)
            let digests = try await digester.digests(of: read.map { ($0.key, $0.state) }, client: sourceClient)
            for (info, digest) in zip(read, digests) {
                count(info, bytes: info.size, digest: digest, into: &outcome)
                outcome.ledger.skipped(Self.unit(database), rule: "--dry-run writes nothing")
            }
            return outcome
        }

        if !toDelete.isEmpty {
            for (database, group) in Dictionary(grouping: toDelete, by: { $0.target.database }) {
                let client = try await targetClient(database)
                _ = try await client.pipeline(group.map { KeyedCommand(key: $0.target.key, RESPCommand("DEL", $0.target.key)) })
            }
        }
        var fallbacks: [KeyInfo] = []
        // A value other than a string travels twice from the source (its DUMP payload and its value, for the checksum).
        for group in Self.split(toDump, maxBytes: options.pipelineBytes / 2) {
            fallbacks += try await dumpAndRestore(group, sourceClient: sourceClient, outcome: &outcome)
        }
        if !fallbacks.isEmpty { outcome.tally.add("fallbacks", fallbacks.count) }
        try await rebuild(toRebuild + fallbacks, sourceClient: sourceClient, outcome: &outcome)
        if let deadLetters, !refusedKeys.isEmpty {
            try await deadLetters.append(lines: try refusedKeys.map { try $0.jsonLine })
        }
        return outcome
    }

    // MARK: Steps

    /// DUMP on the source, RESTORE … REPLACE ABSTTL on the target; returns the keys whose payload the target
    /// cannot load, for the type-based copy. For the checksum each value is digested (a payload is not comparable
    /// across server versions, the value's digest is): a string from its payload (``RDBString``), any other type
    /// by reading it in the same pipeline, right after its DUMP.
    private mutating func dumpAndRestore(_ group: [KeyInfo], sourceClient: RedisClient, outcome: inout BatchOutcome) async throws -> [KeyInfo] {
        func valueRead(_ info: KeyInfo) -> RESPCommand? {
            info.type == .string ? nil : ValueChunk.wholeReadCommand(key: info.key, type: info.type)
        }
        var reads: [KeyedCommand] = []
        reads.reserveCapacity(group.count * 2)
        for info in group {
            reads.append(KeyedCommand(key: info.key, RESPCommand("DUMP", info.key)))
            if let read = valueRead(info) { reads.append(KeyedCommand(key: info.key, read)) }
        }
        let replies = try await sourceClient.pipeline(reads)
        var position = 0
        var dumped: [(info: KeyInfo, payload: [UInt8]?, value: RESPValue?)] = []
        for info in group {
            let dump = replies[position]
            let value = valueRead(info) == nil ? nil : replies[position + 1]
            position += value == nil ? 1 : 2
            if let message = dump.errorMessage {
                throw RedisError.commandFailed(sourceClient.configuration.endpoint, command: "DUMP", serverMessage: message)
            }
            dumped.append((info, value == .null ? nil : dump.bytes, value))
        }
        // A string payload the decoder does not know (or that is no longer a string) is read instead.
        let unreadable = dumped.indices.filter { index in
            dumped[index].info.type == .string && dumped[index].payload.map { RDBString.value(ofPayload: $0) == nil } == true
        }
        let strings = try await sourceClient.pipeline(unreadable.map { KeyedCommand(key: dumped[$0].info.key, RESPCommand("GET", dumped[$0].info.key)) })
        for (index, reply) in zip(unreadable, strings) { dumped[index].value = reply }

        var fallbacks: [KeyInfo] = []
        var byDatabase: [Int: [(info: KeyInfo, command: RESPCommand, bytes: Int, digest: [UInt8]?)]] = [:]
        for (info, payload, value) in dumped {
            guard let payload else {
                // Deleted since it was scanned: mirror that.
                vanished(info, into: &outcome)
                byDatabase[info.target.database, default: []].append((info, RESPCommand("DEL", info.target.key), 0, nil))
                continue
            }
            var digest: [UInt8]?
            let chunk: ValueChunk?
            if let value {
                chunk = value.errorMessage == nil ? try ValueChunk(reply: value, type: info.type) : nil
            } else {
                chunk = info.type == .string ? RDBString.value(ofPayload: payload).map(ValueChunk.string) : nil
            }
            if let chunk {
                var valueDigest = ValueDigest(type: info.type)
                valueDigest.add(chunk)
                digest = valueDigest.finalize()
            } else if info.type != .other {
                // WRONGTYPE, or gone after its DUMP: the key changed after TYPE; its payload is copied, but the
                // checksum cannot describe it.
                outcome.tally.add("changed during copy")
            }
            let command = RESPCommand("RESTORE", info.target.key, info.expireAt ?? 0, payload, "REPLACE", "ABSTTL")
            byDatabase[info.target.database, default: []].append((info, command, payload.count, digest))
        }
        for (database, items) in byDatabase.sorted(by: { $0.key < $1.key }) {
            let client = try await targetClient(database)
            let commands = items.map { KeyedCommand(key: $0.info.target.key, $0.command) }
            var replies = try await client.pipeline(commands)
            try await Self.resendTransient(commands, replies: &replies, client: client)
            for (item, reply) in zip(items, replies) {
                guard item.command.name == "RESTORE" else { continue }
                if let message = reply.errorMessage {
                    if Self.isIncompatiblePayload(message) {
                        fallbacks.append(item.info)
                    } else {
                        try await rejected(item.info, command: "RESTORE", message: message, client: client, outcome: &outcome)
                    }
                    continue
                }
                outcome.tally.add("restored")
                count(item.info, bytes: item.bytes, digest: item.digest, into: &outcome)
            }
        }
        return fallbacks
    }

    /// Type-based copy: whole values in one pipeline for small keys, chunks for big ones.
    private mutating func rebuild(_ infos: [KeyInfo], sourceClient: RedisClient, outcome: inout BatchOutcome) async throws {
        guard !infos.isEmpty else { return }
        var small: [KeyInfo] = []
        for info in infos {
            if info.type == .other {
                try refuse(KeyRefusedError(key: info.key.printableKey, database: info.database, command: "RESTORE",
                                           serverMessage: "a module or unknown type can only travel by DUMP/RESTORE, and the target could not load its payload"),
                           key: info.key, outcome: &outcome)
            } else if info.size > options.bigKeyBytes || info.type == .stream {
                try await rebuildInChunks(info, sourceClient: sourceClient, outcome: &outcome)
            } else {
                small.append(info)
            }
        }
        guard !small.isEmpty else { return }
        let replies = try await sourceClient.pipeline(small.map {
            KeyedCommand(key: $0.key, ValueChunk.wholeReadCommand(key: $0.key, type: $0.type)!)
        })
        var byDatabase: [Int: [(KeyInfo, [RESPCommand], Int, [UInt8])]] = [:]
        for (info, reply) in zip(small, replies) {
            guard let chunk = try ValueChunk(reply: reply, type: info.type), chunk.size > 0 || info.type == .string else {
                vanished(info, into: &outcome)
                byDatabase[info.target.database, default: []].append((info, [RESPCommand("DEL", info.target.key)], -1, []))
                continue
            }
            var commands = chunk.writeCommands(key: info.target.key, first: true)
            if let expireAt = info.expireAt {
                commands.append(RESPCommand("PEXPIREAT", info.target.key, expireAt))
            }
            var digest = ValueDigest(type: info.type)
            digest.add(chunk)
            byDatabase[info.target.database, default: []].append((info, commands, chunk.byteCount, digest.finalize()))
        }
        for (database, items) in byDatabase.sorted(by: { $0.key < $1.key }) {
            let client = try await targetClient(database)
            let commands = items.flatMap { item in item.1.map { KeyedCommand(key: item.0.target.key, $0) } }
            var replies = try await client.pipeline(commands)
            try await Self.resendTransient(commands, replies: &replies, client: client)
            var position = 0
            for (info, written, bytes, digest) in items {
                let slice = replies[position..<(position + written.count)]
                position += written.count
                if let failed = zip(written, slice).first(where: { $0.1.errorMessage != nil }) {
                    try await rejected(info, command: failed.0.name, message: failed.1.errorMessage!, client: client, outcome: &outcome)
                } else if bytes >= 0 {
                    outcome.tally.add("rebuilt")
                    count(info, bytes: bytes, digest: digest, into: &outcome)
                }
            }
        }
    }

    /// Copies a big key chunk by chunk into its staging key (``StagingKey``, same hash slot), then gives the staging
    /// key its expiry and renames it over the key's name, so the target never shows a partial value under the
    /// real name. A chunk that fails for a transient reason (a reset link, -BUSY, -LOADING) is sent again alone on a
    /// new connection, split in halves after two failures; a refused chunk (OOM, ACL) removes the staging key.
    private mutating func rebuildInChunks(_ info: KeyInfo, sourceClient: RedisClient, outcome: inout BatchOutcome) async throws {
        let staging = StagingKey.name(for: info.target.key)
        let database = info.target.database
        var entry = StagingLog.Entry(database: database, keyHex: info.target.key.hexString, key: info.key.printableKey, stagingHex: staging.hexString,
                                     type: info.type.rawValue, sourceChunks: 0, length: 0, bytes: 0, pieces: 0)
        var progress = StagingProgress()
        // An earlier run's acknowledged chunks are kept when its staging key is still there as it left it.
        if let saved = await stagingLog?.progress(of: entry.id), saved.stagingHex == entry.stagingHex, saved.type == entry.type,
           try await stagingIntact(saved, staging: staging) {
            entry = saved
            progress = StagingProgress(chunks: saved.pieces, bytes: saved.bytes, length: saved.length)
            outcome.tally.add("big keys resumed")
            outcome.tally.add("big-key chunks acknowledged before", saved.sourceChunks)
            await stagingLog?.noteResumed(info.key.printableKey, chunk: saved.sourceChunks)
        }
        let acknowledged = entry.sourceChunks
        let piecesBefore = progress.chunks
        var sourceChunk = 0
        var refused: (command: String, message: String)?
        var digest = ValueDigest(type: info.type)
        try await valueReader.read(info.key, type: info.type, from: sourceClient) { chunk in
            guard refused == nil else { return }
            // Every chunk is digested (the checksum covers the whole value); those acknowledged before are not resent.
            digest.add(chunk)
            sourceChunk += 1
            guard sourceChunk > acknowledged else { return }
            refused = try await writeChunk(chunk, staging: staging, info: info, progress: &progress)
            if refused == nil, let stagingLog {
                entry.sourceChunks = sourceChunk
                (entry.length, entry.bytes, entry.pieces) = (progress.length, progress.bytes, progress.chunks)
                try await stagingLog.update(entry)
            }
        }
        if let refused {
            // The refusal is read first (an OOM reports the memory as the target saw it), then the staging key goes.
            let client = try await targetClient(database)
            let removeStaging = RESPCommand("DEL", staging)
            do {
                try await rejected(info, command: refused.command, message: refused.message, client: client, outcome: &outcome)
            } catch {
                _ = try? await client.send(removeStaging, key: staging)
                try? await stagingLog?.remove(entry.id)
                throw error
            }
            _ = try? await client.send(removeStaging, key: staging)
            try await stagingLog?.remove(entry.id)
            return
        }
        var finishing: [RESPCommand] = []
        if info.type == .stream {
            finishing += try await streamMetadata(info, key: staging, sourceClient: sourceClient, empty: progress.chunks == 0)
        } else if progress.chunks == 0 {
            // Nothing was read: the key vanished while it was copied.
            vanished(info, into: &outcome)
            _ = try await targetClient(database).pipeline([KeyedCommand(key: info.target.key, RESPCommand("DEL", info.target.key)),
                                                           KeyedCommand(key: staging, RESPCommand("DEL", staging))])
            try await stagingLog?.remove(entry.id)
            return
        }
        if let expireAt = info.expireAt {
            finishing.append(RESPCommand("PEXPIREAT", staging, expireAt))
        }
        finishing.append(RESPCommand("RENAME", staging, info.target.key))
        let failed = try await finish(finishing, staging: staging, info: info)
        try await stagingLog?.remove(entry.id)
        if let failed {
            try await rejected(info, command: failed.command, message: failed.message, client: try await targetClient(database), outcome: &outcome)
            return
        }
        outcome.tally.add("rebuilt")
        outcome.tally.add("big-key chunks", progress.chunks - piecesBefore)
        if progress.splits > 0 { outcome.tally.add("big-key chunks split", progress.splits) }
        count(info, bytes: progress.bytes, digest: digest.finalize(), into: &outcome)
    }

    /// Whether a staging key an earlier run left is as its log says: there, and for a list or string as long.
    private mutating func stagingIntact(_ saved: StagingLog.Entry, staging: [UInt8]) async throws -> Bool {
        let client = try await targetClient(saved.database)
        switch RedisType(rawValue: saved.type) {
        case .string?: return try await client.send(RESPCommand("STRLEN", staging), key: staging).integer == Int64(saved.length)
        case .list?: return try await client.send(RESPCommand("LLEN", staging), key: staging).integer == Int64(saved.length)
        default: return try await client.send(RESPCommand("EXISTS", staging), key: staging).integer == 1
        }
    }

    /// Writes one chunk into the staging key; returns the target's refusal (a non-transient error reply), if any.
    /// Transient failures are retried on a new connection with backoff; after the second, the chunk is split.
    private mutating func writeChunk(_ chunk: ValueChunk, staging: [UInt8], info: KeyInfo, progress: inout StagingProgress) async throws -> (command: String, message: String)? {
        let policy = RetryPolicy()
        var attempt = 0
        while true {
            do {
                let client = try await targetClient(info.target.database)
                if attempt > 0, try await progress.landed(chunk, staging: staging, client: client) {
                    progress.advance(chunk)
                    return nil
                }
                let commands = chunk.writeCommands(key: staging, first: progress.chunks == 0)
                let replies = try await client.pipeline(commands.map { KeyedCommand(key: staging, $0) })
                if let failed = zip(commands, replies).first(where: { $0.1.errorMessage != nil }), let message = failed.1.errorMessage {
                    if RedisErrorCode(message: message).isTransient {
                        throw RedisError.commandFailed(client.configuration.endpoint, command: failed.0.name, serverMessage: message)
                    }
                    // A stream entry already added by a try whose reply was lost.
                    if !(chunk.isStream && message.contains("equal or smaller")) { return (failed.0.name, message) }
                }
                progress.advance(chunk)
                return nil
            } catch where isTransient(error) {
                attempt += 1
                await dropTarget(info.target.database)
                guard attempt < policy.maxAttempts, !Task.isCancelled else { throw error }
                if attempt >= 2, let halves = chunk.halves {
                    progress.splits += 1
                    for half in [halves.0, halves.1] {
                        if let refusal = try await writeChunk(half, staging: staging, info: info, progress: &progress) { return refusal }
                    }
                    return nil
                }
                try await Task.sleep(for: policy.delay(afterAttempt: attempt))
            }
        }
    }

    /// Sends the commands that complete a staged key (stream metadata, expiry, RENAME), retrying transient
    /// failures; a RENAME whose reply was lost is recognised by the staging key being gone and the key there.
    private mutating func finish(_ commands: [RESPCommand], staging: [UInt8], info: KeyInfo) async throws -> (command: String, message: String)? {
        let policy = RetryPolicy()
        var attempt = 1
        while true {
            do {
                let client = try await targetClient(info.target.database)
                if attempt > 1 {
                    let exists = try await client.pipeline([KeyedCommand(key: staging, RESPCommand("EXISTS", staging)),
                                                            KeyedCommand(key: info.target.key, RESPCommand("EXISTS", info.target.key))])
                    if exists[0].integer == 0 && exists[1].integer == 1 { return nil }
                }
                let replies = try await client.pipeline(commands.map { KeyedCommand(key: staging, $0) })
                guard let failed = zip(commands, replies).first(where: { $0.1.errorMessage != nil }), let message = failed.1.errorMessage else { return nil }
                if RedisErrorCode(message: message).isTransient {
                    throw RedisError.commandFailed(client.configuration.endpoint, command: failed.0.name, serverMessage: message)
                }
                return (failed.0.name, message)
            } catch where isTransient(error) {
                await dropTarget(info.target.database)
                guard attempt < policy.maxAttempts, !Task.isCancelled else { throw error }
                try await Task.sleep(for: policy.delay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }

    /// The commands that give a rebuilt stream its last id, counters and consumer groups (pending entries are
    /// not copied by a type-based copy).
    private func streamMetadata(_ info: KeyInfo, key: [UInt8], sourceClient: RedisClient, empty: Bool) async throws -> [RESPCommand] {
        var commands: [RESPCommand] = []
        let stream = try await sourceClient.send(RESPCommand("XINFO", "STREAM", info.key), key: info.key)
        let fields = Self.pairs(stream)
        if empty {
            // An empty stream still exists: create it, then trim the placeholder entry away.
            commands.append(RESPCommand("DEL", key))
            commands.append(RESPCommand("XADD", key, "MAXLEN", 0, "0-1", "_", "_"))
        }
        if let lastID = fields["last-generated-id"]?.bytes {
            var setID: [any RESPArgumentConvertible] = [key, lastID]
            if let added = fields["entries-added"]?.integer, let maxDeleted = fields["max-deleted-entry-id"]?.bytes {
                setID += ["ENTRIESADDED", Int(added), "MAXDELETEDID", maxDeleted]
            }
            commands.append(RESPCommand("XSETID", arguments: setID))
        }
        let groups = try await sourceClient.send(RESPCommand("XINFO", "GROUPS", info.key), key: info.key)
        for group in groups.array ?? [] {
            let fields = Self.pairs(group)
            guard let name = fields["name"]?.bytes, let delivered = fields["last-delivered-id"]?.bytes else { continue }
            commands.append(RESPCommand("XGROUP", "CREATE", key, name, delivered))
        }
        return commands
    }

    // MARK: Helpers

    /// Counts a key the target acknowledged, and adds its ``KeyRecord`` to the checksum.
    private func count(_ info: KeyInfo, bytes: Int, digest: [UInt8]?, into outcome: inout BatchOutcome) {
        outcome.bytes += bytes
        outcome.tally.add("copied")
        outcome.tally.add("bytes", bytes)
        outcome.tally.add("type \(info.type.rawValue)")
        outcome.tally.add("db \(info.database)")
        outcome.checksum.add(record: KeyRecord.checksum(database: info.database, key: info.key, type: info.type, value: digest,
                                                        expires: info.expireAt != nil))
        if !options.dryRun {
            outcome.ledger.written(Self.unit(info.database), volatile: info.expireAt == nil ? 0 : 1)
        }
    }

    /// A key the target answered with an error: a transient one (-BUSY, -LOADING, -TRYAGAIN …) is thrown for the
    /// batch to be retried; -OOM stops the run with the target's memory figures (with `--skip-refused` the key is
    /// refused and listed like any other, and the run goes on); any other refuses the key.
    private mutating func rejected(_ info: KeyInfo, command: String, message: String, client: RedisClient, outcome: inout BatchOutcome) async throws {
        let code = RedisErrorCode(message: message)
        if code.isTransient {
            throw RedisError.commandFailed(client.configuration.endpoint, command: command, serverMessage: message)
        }
        if code == .outOfMemory && !options.skipRefused {
            throw await TargetOutOfMemoryError.make(key: info.target.key, database: info.database, serverMessage: message, target: client)
        }
        try refuse(KeyRefusedError(key: info.key.printableKey, database: info.database, command: command, serverMessage: message),
                   key: info.key, outcome: &outcome)
    }

    /// Sends again, alone, the commands whose reply was a transient error (-BUSY, -LOADING, -TRYAGAIN …), with
    /// backoff and jitter, so that one key the target holds up does not send its whole batch again. Replies still
    /// transient after the last attempt are left for ``rejected(_:command:message:client:outcome:)``.
    private static func resendTransient(_ commands: [KeyedCommand], replies: inout [RESPValue], client: RedisClient) async throws {
        let policy = RetryPolicy()
        for attempt in 1..<policy.maxAttempts {
            let pending = replies.indices.filter { replies[$0].errorMessage.map { RedisErrorCode(message: $0).isTransient } == true }
            guard !pending.isEmpty else { return }
            try await Task.sleep(for: policy.delay(afterAttempt: attempt))
            for (index, reply) in zip(pending, try await client.pipeline(pending.map { commands[$0] })) { replies[index] = reply }
        }
    }

    /// Stops the run on a refused key, or with `--skip-refused` counts it as refused, lists it in the report and
    /// keeps it for the dead-letter file.
    private mutating func refuse(_ error: KeyRefusedError, key: [UInt8], outcome: inout BatchOutcome) throws {
        guard options.skipRefused else { throw error }
        outcome.tally.add("refused")
        outcome.ledger.refused(Self.unit(error.database))
        outcome.problems.append(error.description)
        refusedKeys.append(RefusedKey(error, key: key))
    }

    /// A key the source deleted, or that expired, between SCAN and its copy (its target copy is deleted too).
    private func vanished(_ info: KeyInfo, into outcome: inout BatchOutcome) {
        outcome.tally.add("vanished")
        outcome.ledger.skipped(Self.unit(info.database), rule: Self.vanishedRule)
    }

    /// The ledger unit of a source database.
    static func unit(_ database: Int) -> String { "db\(database)" }

    /// The source database of a ledger unit.
    static func database(ofUnit unit: String) -> Int? {
        unit.hasPrefix("db") ? Int(unit.dropFirst(2)) : nil
    }

    /// The ledger's rule for keys gone from the source while they were copied.
    static let vanishedRule = "deleted or expired on the source during the copy"
    /// The ledger's rule for keys `--type` leaves out.
    static let typeRule = "not of a --type chosen"

    private var valueReader: ValueReader {
        ValueReader(elementsPerChunk: options.elementsPerChunk, bytesPerChunk: options.bytesPerChunk)
    }

    private mutating func sourceClient(_ database: Int) async throws -> DatabaseClient {
        if let client = sourceClients[database] { return client }
        let client = try await DatabaseClient.connect(source, database: database)
        sourceClients[database] = client
        return client
    }

    /// Closes the target connection of `database`, so the next write opens a new one (after a reset).
    private mutating func dropTarget(_ database: Int) async {
        await targetClients.removeValue(forKey: database)?.close()
    }

    private mutating func targetClient(_ database: Int) async throws -> RedisClient {
        if let client = targetClients[database] { return client }
        let client = try await target.connect(database: database)
        targetClients[database] = client
        return client
    }

    /// Whether RESTORE failed because the target cannot read this payload (so a type-based copy can help).
    static func isIncompatiblePayload(_ message: String) -> Bool {
        message.contains("DUMP payload version or checksum are wrong") || message.contains("Bad data format")
    }

    /// Splits keys into groups whose summed size stays under `maxBytes` (a group has at least one key).
    private static func split(_ infos: [KeyInfo], maxBytes: Int) -> [[KeyInfo]] {
        var groups: [[KeyInfo]] = []
        var current: [KeyInfo] = []
        var bytes = 0
        for info in infos {
            if !current.isEmpty && bytes + info.size > maxBytes {
                groups.append(current)
                current = []
                bytes = 0
            }
            current.append(info)
            bytes += info.size
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }

    private static func pairs(_ reply: RESPValue) -> [String: RESPValue] {
        guard let items = reply.array else { return [:] }
        var fields: [String: RESPValue] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) {
            if let name = items[index].string { fields[name] = items[index + 1] }
        }
        return fields
    }
}

/// One line of the dead-letter file: a key the target refused, with the reason and the fix.
struct RefusedKey: Encodable {
    /// The source database.
    var db: Int
    /// The key as UTF-8 text (invalid bytes replaced; `key_hex` is exact).
    var key: String
    /// The key's bytes in hex, exact whatever they are.
    var keyHex: String
    var reason: String
    var fix: String

    init(_ error: KeyRefusedError, key: [UInt8]) {
        db = error.database
        self.key = String(decoding: key, as: UTF8.self)
        keyHex = key.hexString
        reason = error.reason
        fix = error.fix
    }

    enum CodingKeys: String, CodingKey {
        case db, key, keyHex = "key_hex", reason, fix
    }

    /// The line as one JSON object.
    var jsonLine: String {
        get throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(self), as: UTF8.self)
        }
    }
}

/// How far a big key's staging copy got: what a retry checks before sending a chunk again, since RPUSH and
/// APPEND are not idempotent.
struct StagingProgress {
    /// Chunks acknowledged (a split chunk counts its pieces).
    var chunks = 0
    /// Value bytes acknowledged.
    var bytes = 0
    /// The staging key's length so far: bytes of a string, elements of a list.
    var length = 0
    /// Chunks split after failing twice.
    var splits = 0

    mutating func advance(_ chunk: ValueChunk) {
        chunks += 1
        bytes += chunk.byteCount
        length += chunk.size
    }

    /// Whether a chunk whose reply was lost reached the staging key (a list or string longer by the chunk).
    func landed(_ chunk: ValueChunk, staging: [UInt8], client: RedisClient) async throws -> Bool {
        let command: RESPCommand
        switch chunk {
        case .string: command = RESPCommand("STRLEN", staging)
        case .list: command = RESPCommand("LLEN", staging)
        case .hash, .set, .zset, .stream: return false // HSET, SADD, ZADD are idempotent; XADD refuses a repeat.
        }
        guard chunks > 0, let now = try await client.send(command, key: staging).integer.map(Int.init) else { return false }
        return now == length + chunk.size
    }
}

extension ValueChunk {
    var isStream: Bool {
        if case .stream = self { return true }
        return false
    }

    /// The chunk in two pieces that, written in order, give the same value; `nil` when it cannot be split.
    var halves: (ValueChunk, ValueChunk)? {
        func split<T>(_ items: [T], step: Int = 1) -> ([T], [T])? {
            let pieces = items.count / step
            guard pieces > 1 else { return nil }
            let middle = pieces / 2 * step
            return (Array(items[..<middle]), Array(items[middle...]))
        }
        switch self {
        case .string(let bytes): return bytes.count >= 2048 ? split(bytes).map { (.string($0.0), .string($0.1)) } : nil
        case .list(let items): return split(items).map { (.list($0.0), .list($0.1)) }
        case .set(let items): return split(items).map { (.set($0.0), .set($0.1)) }
        case .hash(let items): return split(items, step: 2).map { (.hash($0.0), .hash($0.1)) }
        case .zset(let items): return split(items, step: 2).map { (.zset($0.0), .zset($0.1)) }
        case .stream(let entries): return split(entries).map { (.stream($0.0), .stream($0.1)) }
        }
    }
}
