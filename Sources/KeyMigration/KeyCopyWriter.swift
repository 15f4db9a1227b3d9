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
    private var sourceClients: [Int: DatabaseClient] = [:]
    private var targetClients: [Int: RedisClient] = [:]
    /// The refused keys of the batch being written, for the dead-letter file once the batch is done.
    private var refusedKeys: [RefusedKey] = []

    init(source: RedisDeployment, target: RedisDeployment, options: RedisCopyOptions, partitionDatabases: [String: Int], sourceDatabases: [Int],
         deadLetters: DeadLetterFile? = nil) {
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
            let replies = try await client.pipeline(items.map { KeyedCommand(key: $0.info.target.key, $0.command) })
            for (item, reply) in zip(items, replies) {
                guard item.command.name == "RESTORE" else { continue }
                if let message = reply.errorMessage {
                    if Self.isIncompatiblePayload(message) {
                        fallbacks.append(item.info)
                    } else {
                        try refuse(item.info, command: "RESTORE", message: message, outcome: &outcome)
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
                try refuse(info, command: "RESTORE", message: "a module or unknown type can only travel by DUMP/RESTORE, and the target could not load its payload", outcome: &outcome)
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
            let replies = try await client.pipeline(commands)
            var position = 0
            for (info, written, bytes, digest) in items {
                let slice = replies[position..<(position + written.count)]
                position += written.count
                if let failed = zip(written, slice).first(where: { $0.1.errorMessage != nil }) {
                    try refuse(info, command: failed.0.name, message: failed.1.errorMessage!, outcome: &outcome)
                } else if bytes >= 0 {
                    outcome.tally.add("rebuilt")
                    count(info, bytes: bytes, digest: digest, into: &outcome)
                }
            }
        }
    }

    private mutating func rebuildInChunks(_ info: KeyInfo, sourceClient: RedisClient, outcome: inout BatchOutcome) async throws {
        let client = try await targetClient(info.target.database)
        var first = true
        var bytes = 0
        var refused = false
        var digest = ValueDigest(type: info.type)
        try await valueReader.read(info.key, type: info.type, from: sourceClient) { chunk in
            guard !refused else { return }
            digest.add(chunk)
            let commands = chunk.writeCommands(key: info.target.key, first: first)
            first = false
            bytes += chunk.byteCount
            let replies = try await client.pipeline(commands.map { KeyedCommand(key: info.target.key, $0) })
            if let failed = zip(commands, replies).first(where: { $0.1.errorMessage != nil }) {
                refused = true
                try refuse(info, command: failed.0.name, message: failed.1.errorMessage!, outcome: &outcome)
            }
        }
        if refused { return }
        var finishing: [RESPCommand] = []
        if info.type == .stream {
            finishing += try await streamMetadata(info, sourceClient: sourceClient, empty: first)
        } else if first {
            // Nothing was read: the key vanished while it was copied.
            vanished(info, into: &outcome)
            _ = try await client.send(RESPCommand("DEL", info.target.key), key: info.target.key)
            return
        }
        if let expireAt = info.expireAt {
            finishing.append(RESPCommand("PEXPIREAT", info.target.key, expireAt))
        }
        let replies = try await client.pipeline(finishing.map { KeyedCommand(key: info.target.key, $0) })
        if let failed = zip(finishing, replies).first(where: { $0.1.errorMessage != nil }) {
            try refuse(info, command: failed.0.name, message: failed.1.errorMessage!, outcome: &outcome)
            return
        }
        outcome.tally.add("rebuilt")
        count(info, bytes: bytes, digest: digest.finalize(), into: &outcome)
    }

    /// The commands that give a rebuilt stream its last id, counters and consumer groups (pending entries are
    /// not copied by a type-based copy).
    private func streamMetadata(_ info: KeyInfo, sourceClient: RedisClient, empty: Bool) async throws -> [RESPCommand] {
        let key = info.target.key
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

    private mutating func refuse(_ info: KeyInfo, command: String, message: String, outcome: inout BatchOutcome) throws {
        try refuse(KeyRefusedError(key: info.key.printableKey, database: info.database, command: command, serverMessage: message),
                   key: info.key, outcome: &outcome)
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
