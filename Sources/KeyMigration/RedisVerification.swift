import Failures
import Foundation
import MigrationCore
import RESP
import Transport

/// How `migrate verify redis` compares.
public struct RedisVerifyOptions: Sendable {
    /// Which keys are compared.
    public var filter = KeyFilter()
    /// Where each source database went.
    public var mapping = DatabaseMapping()
    /// How far two expiry times may differ, in milliseconds.
    public var ttlToleranceMilliseconds: Int64 = 1000
    /// Compare this many random keys per direction instead of every key.
    public var sample: Int?
    /// Keys above this size are read in chunks.
    public var bigKeyBytes = 16 << 20
    /// Elements per chunk for big collections.
    public var elementsPerChunk = 1000
    /// Bytes per chunk for big strings.
    public var bytesPerChunk = 4 << 20
    /// How many differing keys the report lists.
    public var listLimit = 20

    /// The defaults.
    public init() {}
}

/// `migrate verify redis`: compares source and target in both directions (missing, extra, type, TTL, value).
public struct RedisVerification: Sendable {
    /// Connections, batching and concurrency.
    public var settings: RedisRunSettings
    /// What is compared and how.
    public var options: RedisVerifyOptions

    /// Creates a verification.
    public init(settings: RedisRunSettings, options: RedisVerifyOptions) {
        self.settings = settings
        self.options = options
    }

    /// Runs both directions and returns the report; its outcome is `mismatched` when anything differs.
    public func run() async throws -> MigrationReport {
        let startedAt = Date()
        let plan = try await KeyspacePlan.make(settings: settings, mapping: options.mapping)
        let comparison = try await compare(plan: plan, repair: nil, progressStyle: settings.progressStyle)
        return MigrationReport(
            command: options.sample.map { "migrate verify redis --sample \($0)" } ?? "migrate verify redis",
            source: settings.source.displayName,
            target: settings.target.displayName,
            outcome: comparison.differences == 0 ? .succeeded : .mismatched,
            startedAt: startedAt,
            totals: comparison.totals.excluding(breakdownLabels),
            checksum: comparison.checksum,
            sections: Self.sections(comparison.totals),
            problems: comparison.problems
        )
    }

    /// What one comparison of both directions found.
    struct Comparison: Sendable {
        /// Counters of both directions, with per-type and per-database breakdowns.
        var totals: Tally
        /// The checksum over the source keys compared.
        var checksum: OrderIndependentChecksum
        /// The first differences, and how many more there were.
        var problems: [String]

        /// Keys missing, extra, or differing in type, expiry or value.
        var differences: Int {
            Self.kinds.reduce(0) { $0 + totals[$1] }
        }

        /// The kinds of difference.
        static let kinds = ["missing in target", "extra in target", "type differs", "ttl differs", "value differs"]
    }

    /// Compares source → target (every source key exists with the same type, expiry and value), then
    /// target → source (no key the source lacks). With `repair`, each differing or missing key is copied again
    /// with those options as soon as it is found, and extra keys that came from a source database are deleted
    /// (counted as `repaired`).
    func compare(plan: KeyspacePlan, repair: RedisCopyOptions?, progressStyle: ProgressStyle) async throws -> Comparison {
        let targetPartitions = try await targetPartitions(plan: plan)
        let runner = PipelineRunner(
            configuration: .init(concurrency: settings.concurrency, isTransient: isTransient, problemLimit: options.listLimit),
            logger: settings.logger
        )
        let source = settings.source
        let target = settings.target
        let options = self.options
        let batchSize = settings.batchSize
        let sourceDatabases = plan.sourceDatabases

        // Source → target: every source key exists on the target with the same type, expiry and value.
        let forwardProgress = ProgressReporter(phase: "verify source→target", unit: "keys",
                                               total: options.sample ?? plan.estimatedKeys / (options.filter.shard?.count ?? 1),
                                               style: progressStyle)
        await forwardProgress.start()
        let sourceNodes = Dictionary(uniqueKeysWithValues: plan.partitions.map { ($0.name, $0) })
        let forward = try await runner.run(
            partitions: plan.partitions.map { PartitionPlan(name: $0.name, initialPosition: "0") },
            checkpoint: Checkpoint(migration: "verify redis", fingerprint: ""),
            store: nil,
            progress: forwardProgress,
            makeReader: { name, position in
                try await KeyReader.open(source, partition: sourceNodes[name]!, position: position, batchSize: batchSize,
                                         filter: options.filter, sample: options.sample.map { $0 / max(1, sourceNodes.count) + 1 })
            },
            makeWriter: {
                let databases = sourceNodes.mapValues(\.database)
                return KeyCompareWriter(source: source, target: target, options: options, partitionDatabases: databases,
                                        repair: repair.map { KeyCopyWriter(source: source, target: target, options: $0, partitionDatabases: databases,
                                                                           sourceDatabases: sourceDatabases) })
            }
        )
        await forwardProgress.finish()

        // Target → source: no key on the target that the source lacks. A sharded run looks only at the target keys
        // whose source-side name (the target name without its database prefix) lies in the shard.
        let backwardProgress = ProgressReporter(phase: "verify target→source", unit: "keys", total: options.sample, style: progressStyle)
        await backwardProgress.start()
        let targetNodes = Dictionary(uniqueKeysWithValues: targetPartitions.map { ($0.name, $0) })
        let unfiltered = KeyFilter()
        let backward = try await runner.run(
            partitions: targetPartitions.map { PartitionPlan(name: $0.name, initialPosition: "0") },
            checkpoint: Checkpoint(migration: "verify redis", fingerprint: ""),
            store: nil,
            progress: backwardProgress,
            makeReader: { name, position in
                try await KeyReader.open(target, partition: targetNodes[name]!, position: position, batchSize: batchSize,
                                         filter: unfiltered, sample: options.sample.map { $0 / max(1, targetNodes.count) + 1 })
            },
            makeWriter: {
                ExtraKeyWriter(source: source, target: target, options: options, sourceDatabases: sourceDatabases,
                               partitionDatabases: targetNodes.mapValues(\.database), repair: repair != nil)
            }
        )
        await backwardProgress.finish()

        var totals = forward.checkpoint.tally
        totals.merge(backward.checkpoint.tally)
        var problems = forward.problems + backward.problems
        let total = forward.problemCount + backward.problemCount
        if total > problems.count { problems.append("… and \(total - problems.count) more") }
        return Comparison(totals: totals, checksum: forward.checkpoint.checksum, problems: problems)
    }

    /// The target's primaries times every target database that holds keys or receives a source database.
    private func targetPartitions(plan: KeyspacePlan) async throws -> [KeyPartition] {
        let client = try await settings.target.connect()
        var databases = Set(plan.sourceDatabases.map { options.mapping.rule(for: $0).target })
        do {
            for (_, reply) in try await client.sendToPrimaries(RESPCommand("INFO", "keyspace")) {
                databases.formUnion(KeyspacePlan.parseKeyspace(reply.string ?? "").map(\.0))
            }
        } catch {
            await client.close()
            throw error
        }
        let primaries = client.primaries
        await client.close()
        return primaries.flatMap { node in databases.sorted().map { KeyPartition(node: node, database: $0) } }
    }

    static func sections(_ totals: Tally) -> [MigrationReport.Section] {
        let kinds = ["source", "matched", "missing in target", "type differs", "ttl differs", "value differs"]
        func rows(_ prefix: String) -> [[String]] {
            let names = Set(totals.counts.keys.compactMap { key -> String? in
                guard let range = key.firstRange(of: " \(prefix) ") else { return nil }
                return String(key[range.upperBound...])
            })
            return names.sorted().map { name in [name] + kinds.map { Format.count(totals["\($0) \(prefix) \(name)"]) } }
        }
        return [
            .init(title: "by type", columns: ["type"] + kinds, rows: rows("type")),
            .init(title: "by source database", columns: ["db"] + kinds, rows: rows("db")),
        ]
    }
}

/// Reads a partition by SCAN, or samples it with RANDOMKEY.
enum KeyReader {
    static func open(
        _ deployment: RedisDeployment, partition: KeyPartition, position: String, batchSize: Int, filter: KeyFilter, sample: Int?
    ) async throws -> AnyKeyReader {
        let connection = try await RedisConnection.connect(deployment.connection.with(endpoint: partition.node, database: partition.database))
        if let sample {
            return .sample(KeySampleReader(connection: connection, remaining: sample, batchSize: batchSize, filter: filter))
        }
        return .scan(KeyScanReader(connection: connection, cursor: position, count: batchSize, filter: filter))
    }
}

/// Either reader, as one type for the pipeline.
enum AnyKeyReader: BatchReader {
    case scan(KeyScanReader)
    case sample(KeySampleReader)

    mutating func next() async throws -> ReadBatch<[UInt8]> {
        switch self {
        case .scan(var reader):
            let batch = try await reader.next()
            self = .scan(reader)
            return batch
        case .sample(var reader):
            let batch = try await reader.next()
            self = .sample(reader)
            return batch
        }
    }
}

/// Draws random keys (RANDOMKEY, pipelined) from one partition.
struct KeySampleReader: BatchReader {
    let connection: RedisConnection
    var remaining: Int
    let batchSize: Int
    let filter: KeyFilter

    mutating func next() async throws -> ReadBatch<[UInt8]> {
        let count = min(batchSize, remaining)
        let replies = try await connection.pipeline(Array(repeating: RESPCommand("RANDOMKEY"), count: count))
        var keys: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        for reply in replies {
            if let key = reply.bytes, filter.admits(key), seen.insert(key).inserted { keys.append(key) }
        }
        remaining -= count
        // An empty database has nothing to sample.
        if replies.allSatisfy({ $0 == .null }) { remaining = 0 }
        return ReadBatch(items: keys, position: String(remaining), isLast: remaining <= 0)
    }
}

/// Compares a batch of source keys with their counterparts on the target.
struct KeyCompareWriter: BatchWriter {
    let source: RedisDeployment
    let target: RedisDeployment
    let options: RedisVerifyOptions
    let partitionDatabases: [String: Int]
    private var clients: DatabaseClients
    /// Copies differing and missing keys again, when the comparison repairs.
    private var repair: KeyCopyWriter?

    init(source: RedisDeployment, target: RedisDeployment, options: RedisVerifyOptions, partitionDatabases: [String: Int], repair: KeyCopyWriter? = nil) {
        self.source = source
        self.target = target
        self.options = options
        self.partitionDatabases = partitionDatabases
        self.clients = DatabaseClients(source: source, target: target)
        self.repair = repair
    }

    mutating func reset() async {
        await clients.reset()
        await repair?.reset()
    }

    mutating func write(_ keys: [[UInt8]], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: keys.count)
        guard !keys.isEmpty, let database = partitionDatabases[partition] else { return outcome }
        let sourceSide = try await clients.source(database)
        let sourceStates = try await sourceSide.inspect(keys)
        var present: [(key: [UInt8], state: KeyState)] = []
        for (key, state) in zip(keys, sourceStates) where state.type != .none && options.filter.admits(type: state.type) {
            present.append((key, state))
        }
        let sourceDigests = try await digester.digests(of: present, client: sourceSide.client)

        var byTarget: [Int: [Int]] = [:]
        let mapped = present.map { options.mapping.map($0.key, database: database) }
        for (index, target) in mapped.enumerated() {
            byTarget[target.database, default: []].append(index)
        }
        var differing: [[UInt8]] = []
        for (targetDatabase, indices) in byTarget.sorted(by: { $0.key < $1.key }) {
            let targetSide = try await clients.target(targetDatabase)
            let targetKeys = indices.map { mapped[$0].key }
            let targetStates = try await targetSide.inspect(targetKeys)
            let targetDigests = try await digester.digests(of: Array(zip(targetKeys, targetStates)).map { ($0.0, $0.1) }, client: targetSide.client)
            for (position, index) in indices.enumerated() {
                let (key, state) = present[index]
                let theirs = targetStates[position]
                let labels = ["type \(state.type.rawValue)", "db \(database)"]
                func count(_ kind: String) {
                    outcome.tally.add(kind)
                    for label in labels { outcome.tally.add("\(kind) \(label)") }
                }
                count("source")
                var identity = KeyRecord.identity(database: database, key: key, type: state.type)
                identity += sourceDigests[index] ?? []
                outcome.checksum.add(record: identity)
                let difference: String?
                if theirs.type == .none {
                    difference = "missing in target"
                } else if theirs.type != state.type {
                    difference = "type differs"
                } else if !expiriesAgree(state.expireAt, theirs.expireAt) {
                    difference = "ttl differs"
                } else if sourceDigests[index] != targetDigests[position] {
                    difference = "value differs"
                } else {
                    difference = nil
                }
                if let difference {
                    count(difference)
                    outcome.problems.append("\(difference): \(key.printableKey) (db \(database), \(state.type.rawValue))" + detail(difference, state, theirs))
                    differing.append(key)
                } else {
                    count("matched")
                }
            }
        }
        if var repair, !differing.isEmpty {
            _ = try await repair.write(differing, partition: partition)
            self.repair = repair
            outcome.tally.add("repaired", differing.count)
        }
        return outcome
    }

    private var digester: ValueDigester {
        ValueDigester(reader: ValueReader(elementsPerChunk: options.elementsPerChunk, bytesPerChunk: options.bytesPerChunk),
                      bigKeyBytes: options.bigKeyBytes)
    }

    private func expiriesAgree(_ ours: Int64?, _ theirs: Int64?) -> Bool {
        switch (ours, theirs) {
        case (nil, nil): return true
        case let (ours?, theirs?): return abs(ours - theirs) <= options.ttlToleranceMilliseconds
        default: return false
        }
    }

    private func detail(_ difference: String, _ ours: KeyState, _ theirs: KeyState) -> String {
        switch difference {
        case "type differs": return ": target has \(theirs.type.rawValue)"
        case "ttl differs":
            func describe(_ expireAt: Int64?) -> String { expireAt.map { "expires at \($0) ms" } ?? "no expiry" }
            return ": source \(describe(ours.expireAt)), target \(describe(theirs.expireAt))"
        default: return ""
        }
    }
}

/// Looks for target keys that have no source key.
struct ExtraKeyWriter: BatchWriter {
    let source: RedisDeployment
    let target: RedisDeployment
    let options: RedisVerifyOptions
    let sourceDatabases: [Int]
    let partitionDatabases: [String: Int]
    /// Whether extra keys that came from a source database are deleted.
    let repair: Bool
    private var clients: DatabaseClients

    init(source: RedisDeployment, target: RedisDeployment, options: RedisVerifyOptions, sourceDatabases: [Int], partitionDatabases: [String: Int],
         repair: Bool = false) {
        self.source = source
        self.target = target
        self.options = options
        self.sourceDatabases = sourceDatabases
        self.partitionDatabases = partitionDatabases
        self.repair = repair
        self.clients = DatabaseClients(source: source, target: target)
    }

    mutating func reset() async {
        await clients.reset()
    }

    mutating func write(_ keys: [[UInt8]], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: keys.count)
        guard !keys.isEmpty, let database = partitionDatabases[partition] else { return outcome }
        var inScope = keys
        if !options.filter.types.isEmpty {
            let targetSide = try await clients.target(database)
            let states = try await targetSide.inspect(keys)
            inScope = zip(keys, states).filter { options.filter.admits(type: $0.1.type) }.map(\.0)
        }
        var bySource: [Int: [([UInt8], [UInt8])]] = [:]
        for key in inScope {
            guard let origin = options.mapping.unmap(key, database: database, sourceDatabases: sourceDatabases) else {
                // No source database maps here: the key is extra, attributed to a shard by its own name.
                guard options.filter.inShard(key) else { continue }
                outcome.tally.add("target")
                report(key, database: database, into: &outcome)
                continue
            }
            guard options.filter.admits(origin.key) else { continue }
            outcome.tally.add("target")
            bySource[origin.database, default: []].append((key, origin.key))
        }
        for (sourceDatabase, pairs) in bySource.sorted(by: { $0.key < $1.key }) {
            let sourceSide = try await clients.source(sourceDatabase)
            let replies = try await sourceSide.client.pipeline(pairs.map { KeyedCommand(key: $0.1, RESPCommand("EXISTS", $0.1)) })
            var extras: [[UInt8]] = []
            for (pair, reply) in zip(pairs, replies) where reply.integer == 0 {
                report(pair.0, database: database, into: &outcome)
                extras.append(pair.0)
            }
            if repair && !extras.isEmpty {
                let targetSide = try await clients.target(database)
                let deleted = try await targetSide.client.pipeline(extras.map { KeyedCommand(key: $0, RESPCommand("DEL", $0)) })
                if let failed = deleted.first(where: { $0.errorMessage != nil }) {
                    throw RedisError.commandFailed(targetSide.client.configuration.endpoint, command: "DEL", serverMessage: failed.errorMessage!)
                }
                outcome.tally.add("repaired", extras.count)
            }
        }
        return outcome
    }

    private func report(_ key: [UInt8], database: Int, into outcome: inout BatchOutcome) {
        outcome.tally.add("extra in target")
        outcome.problems.append("extra in target: \(key.printableKey) (target db \(database))")
    }
}

/// One client per database of each side, connected on first use and owned by one writer.
struct DatabaseClients {
    let sourceDeployment: RedisDeployment
    let targetDeployment: RedisDeployment
    private var sources: [Int: DatabaseClient] = [:]
    private var targets: [Int: DatabaseClient] = [:]

    init(source: RedisDeployment, target: RedisDeployment) {
        self.sourceDeployment = source
        self.targetDeployment = target
    }

    mutating func source(_ database: Int) async throws -> DatabaseClient {
        if let existing = sources[database] { return existing }
        let fresh = try await DatabaseClient.connect(sourceDeployment, database: database)
        sources[database] = fresh
        return fresh
    }

    mutating func target(_ database: Int) async throws -> DatabaseClient {
        if let existing = targets[database] { return existing }
        let fresh = try await DatabaseClient.connect(targetDeployment, database: database)
        targets[database] = fresh
        return fresh
    }

    /// Closes every connection; the next use reconnects.
    mutating func reset() async {
        for client in sources.values { await client.client.close() }
        for client in targets.values { await client.client.close() }
        sources = [:]
        targets = [:]
    }
}
