import Foundation
import MigrationCore
import RESP

/// `migrate plan` for keys: what the source holds (keys and memory per database and type, big keys), what the
/// target is (version, cluster mode, memory left), whether the mapping fits, and a read rate measured on a
/// sample of keys. It writes nothing.
public struct RedisInventory: Sendable {
    /// Connections, batching and databases.
    public var settings: RedisRunSettings
    /// The filter, mapping and big-key threshold the run will use.
    public var options: RedisCopyOptions
    /// Keys read (TYPE, MEMORY USAGE, DUMP) to measure the rate and the mix of types.
    public var sampleSize: Int

    /// Creates an inventory.
    public init(settings: RedisRunSettings, options: RedisCopyOptions, sampleSize: Int = 1000) {
        self.settings = settings
        self.options = options
        self.sampleSize = sampleSize
    }

    /// Takes the inventory. Problems (unreachable, refused credentials, a mapping the target cannot hold, too
    /// little memory) are listed in the plan rather than thrown, so one run of `migrate plan` shows them all.
    public func take() async -> PhasePlan {
        var plan = PhasePlan(phase: "keys", source: settings.source.displayName, target: settings.target.displayName, unit: "keys")
        let keyspace: KeyspacePlan
        do {
            // A stale replica is listed as a problem beside its lag, not thrown: the plan shows everything.
            var planning = settings
            planning.allowStaleReplica = true
            keyspace = try await KeyspacePlan.make(settings: planning, mapping: options.mapping, writing: options.filter)
        } catch {
            plan.problems.append("\(error)")
            return plan
        }
        plan.facts.append(["source replication", keyspace.sourceNodes.map { "\($0.node): \($0.summary)" }.joined(separator: "; ")])
        do {
            try StaleSourceError.check(keyspace.sourceNodes, maxLagSeconds: settings.maxReplicaLagSeconds, allowStale: settings.allowStaleReplica)
        } catch {
            plan.problems.append("\(error)")
        }
        plan.records = keyspace.estimatedKeys
        var sourceMemory = 0
        do {
            try await settings.source.withClient { source in
                plan.facts.append(["source", try await Self.describe(source)])
                for (_, reply) in try await source.sendToPrimaries(RESPCommand("INFO", "memory")) {
                    sourceMemory += Self.infoField("used_memory", in: reply.string ?? "") ?? 0
                }
                plan.facts.append(["source memory", Format.bytes(sourceMemory)])
                try await sample(source: source, keyspace: keyspace, into: &plan)
            }
        } catch {
            plan.problems.append("source: \(error)")
        }
        do {
            try await settings.target.withClient { target in
                try await inspectTarget(target, sourceMemory: sourceMemory, into: &plan)
            }
        } catch {
            plan.problems.append("target: \(error)")
        }
        return plan
    }

    /// The target's version, topology and memory, and whether the source's keys fit.
    private func inspectTarget(_ target: RedisClient, sourceMemory: Int, into plan: inout PhasePlan) async throws {
        plan.facts.append(["target", try await Self.describe(target)])
        var used = 0, limit = 0, keys = 0
        for (_, reply) in try await target.sendToPrimaries(RESPCommand("INFO", "memory")) {
            used += Self.infoField("used_memory", in: reply.string ?? "") ?? 0
            limit += Self.infoField("maxmemory", in: reply.string ?? "") ?? 0
        }
        for (_, reply) in try await target.sendToPrimaries(RESPCommand("INFO", "keyspace")) {
            keys += KeyspacePlan.parseKeyspace(reply.string ?? "").reduce(0) { $0 + $1.1 }
        }
        plan.facts.append(["target memory", limit > 0 ? "\(Format.bytes(used)) used of \(Format.bytes(limit))" : "\(Format.bytes(used)) used, no maxmemory"])
        if limit > 0 && used + sourceMemory > limit {
            let message = "the target has \(Format.bytes(max(0, limit - used))) free but the source uses \(Format.bytes(sourceMemory))"
            if options.filter.include.isEmpty && options.filter.exclude.isEmpty && options.filter.types.isEmpty {
                plan.problems.append(message + ": choose a larger node type or more shards, or copy fewer keys (--match/--exclude/--db)")
            } else {
                plan.notes.append(message + " (before --match/--exclude/--type): check that the selected keys fit")
            }
        }
        if keys > 0 {
            plan.notes.append("the target already holds \(Format.count(keys)) keys: keys of the same name are replaced, others stay (verify will list them as extra)")
        }
    }

    /// Reads up to `sampleSize` keys of the first partitions: their types and sizes (extrapolated to the whole
    /// keyspace), the biggest ones, and how fast DUMP reads them.
    private func sample(source: RedisClient, keyspace: KeyspacePlan, into plan: inout PhasePlan) async throws {
        var types: [RedisType: Int] = [:]
        var bytes: [RedisType: Int] = [:]
        var big: [(key: [UInt8], type: RedisType, size: Int)] = []
        var sampled = 0
        var seconds = 0.0
        for partition in keyspace.partitions where sampled < sampleSize {
            let connection = try await source.openConnection(to: partition.node, database: partition.database)
            let (keys, states, elapsed): ([[UInt8]], [(RedisType, Int)], Duration)
            do {
                var reader = KeyScanReader(connection: connection, cursor: "0", count: min(settings.batchSize, sampleSize - sampled), filter: options.filter)
                keys = Array(try await reader.next().items.prefix(sampleSize - sampled))
                let started = ContinuousClock.now
                let replies = try await connection.pipeline(keys.flatMap { [RESPCommand("TYPE", $0), RESPCommand("MEMORY", "USAGE", $0)] })
                states = keys.indices.map { (RedisType(typeReply: replies[$0 * 2].string ?? "none"), Int(replies[$0 * 2 + 1].integer ?? 0)) }
                // DUMP what a run would DUMP whole, to time it; big keys travel in chunks and are not read here.
                _ = try await connection.pipeline(keys.indices.filter { states[$0].1 <= options.bigKeyBytes }.map { RESPCommand("DUMP", keys[$0]) })
                elapsed = ContinuousClock.now - started
                await connection.close()
            } catch {
                await connection.close()
                throw error
            }
            seconds += elapsed.inSeconds
            for (key, (type, size)) in zip(keys, states) {
                guard type != .none, options.filter.types.isEmpty || options.filter.types.contains(type) else { continue }
                types[type, default: 0] += 1
                bytes[type, default: 0] += size
                if size > options.bigKeyBytes { big.append((key, type, size)) }
                sampled += 1
            }
        }
        guard sampled > 0 else { return }
        plan.sample = .init(records: sampled, seconds: seconds)
        let scale = Double(plan.records) / Double(sampled)
        plan.sections.append(.init(
            title: "keys by type (from a sample of \(Format.count(sampled)))", columns: ["type", "keys (est.)", "memory (est.)"],
            rows: types.sorted { $0.value > $1.value }.map { type, count in
                [type.rawValue, Format.count(Int(Double(count) * scale)), Format.bytes(Int(Double(bytes[type] ?? 0) * scale))]
            }))
        plan.sections.append(.init(title: "keys by source database", columns: ["db", "keys", "target"],
                                   rows: keyspace.sourceDatabases.map { database in
                                       [String(database), Format.count(keyspace.keysPerDatabase[database] ?? 0), Self.describe(options.mapping.rule(for: database))]
                                   }))
        for entry in big.sorted(by: { $0.size > $1.size }).prefix(10) {
            plan.notes.append("big key \(String(decoding: entry.key.prefix(80), as: UTF8.self)) (\(entry.type.rawValue), \(Format.bytes(entry.size))) is copied in chunks")
        }
    }

    /// `db 0, prefix "db1:"` for a mapping rule.
    private static func describe(_ rule: DatabaseMapping.Rule) -> String {
        "db \(rule.target)" + (rule.prefix.isEmpty ? "" : ", prefix \"\(String(decoding: rule.prefix, as: UTF8.self))\"")
    }

    /// `redis 7.0.15, cluster of 3 primaries` or `valkey 8.1.1, standalone`.
    private static func describe(_ client: RedisClient) async throws -> String {
        let info = try await client.send(RESPCommand("INFO", "server")).string ?? ""
        let version = infoText("valkey_version", in: info).map { "valkey \($0)" } ?? infoText("redis_version", in: info).map { "redis \($0)" } ?? "unknown version"
        let topology = client.isCluster ? "cluster of \(client.primaries.count) primaries" : "standalone"
        return "\(version), \(topology)"
    }

    static func infoText(_ field: String, in info: String) -> String? {
        info.split(whereSeparator: \.isNewline).first { $0.hasPrefix(field + ":") }.map { String($0.dropFirst(field.count + 1)) }
    }

    static func infoField(_ field: String, in info: String) -> Int? {
        infoText(field, in: info).flatMap { Int($0) }
    }
}
