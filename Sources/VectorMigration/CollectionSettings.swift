import Qdrant

/// A Qdrant target collection as the plan sees it: whether it exists, and the settings it has or will get.
struct PlannedCollection: Sendable, Equatable {
    var name: String
    var exists: Bool
    /// What it has (existing) or what is asked for on create (`nil`: the server's default).
    var settings: ShardSettings
    /// For an existing collection: where it differs from what a new one would get without being asked.
    var unasked: [String]
}

/// Where a new collection's shard settings come from, weakest first: the cluster defaults (as many shards as
/// peers, two replicas), a Qdrant source collection's own settings (from a single node, a shard count or
/// factor of 1 is its default, not a choice, and is not copied), the mapping's target, the command line.
struct ClusterSettings: Sendable {
    var target: ClusterStatus?
    var source: ClusterStatus?
    var options: ShardSettings

    /// `GET /cluster`, or `nil` when the server has no such endpoint (404).
    static func status(_ configuration: QdrantConfiguration) async throws -> ClusterStatus? {
        let client = QdrantClient(configuration)
        let status: ClusterStatus?
        do {
            status = try await client.clusterStatus()
        } catch .status(404, _, _) {
            status = nil
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return status
    }

    var peers: Int { target?.enabled == true ? max(target?.peers.count ?? 1, 1) : 1 }
    var isCluster: Bool { target?.enabled == true }

    /// What the mapping and the command line ask for.
    func explicit(for job: VectorJob) -> ShardSettings {
        job.mapping.target.shardSettings.overridden(by: options)
    }

    /// The settings a new collection is created with.
    func creation(for job: VectorJob) -> ShardSettings {
        var base = isCluster ? ShardSettings(shards: peers, replicationFactor: min(2, peers)) : ShardSettings()
        if case .collection(_, let info) = job.source {
            var inherited = ShardSettings(config: info.config)
            if source?.enabled != true {
                // A single node's 1s are its defaults, not a choice: the cluster's defaults apply instead.
                inherited.shards = inherited.shards == 1 ? nil : inherited.shards
                inherited.replicationFactor = inherited.replicationFactor == 1 ? nil : inherited.replicationFactor
                inherited.writeConsistencyFactor = inherited.writeConsistencyFactor == 1 ? nil : inherited.writeConsistencyFactor
            }
            base = base.overridden(by: inherited)
        }
        return base.overridden(by: explicit(for: job))
    }

    /// `settings` with the server's defaults where they are `nil`, as Qdrant would report them.
    func effective(_ settings: ShardSettings) -> ShardSettings {
        ShardSettings(shards: settings.shards ?? peers, replicationFactor: settings.replicationFactor ?? 1,
                      writeConsistencyFactor: settings.writeConsistencyFactor ?? 1, onDiskVectors: settings.onDiskVectors ?? false,
                      onDiskPayload: settings.onDiskPayload ?? true)
    }

    /// The plan's warnings about a collection: one copy of each shard on a cluster, more replicas than peers,
    /// a write consistency above the replicas, an existing collection unlike what a new one would get.
    func warnings(for collection: PlannedCollection, job: VectorJob) -> [String] {
        let settings = effective(collection.settings)
        let replicas = settings.replicationFactor ?? 1
        let consistency = settings.writeConsistencyFactor ?? 1
        var warnings: [String] = []
        if isCluster && replicas == 1 {
            warnings.append("warning: collection \(collection.name) \(collection.exists ? "has" : "will have") replication_factor 1 on a cluster of \(peers) peers: each shard has a single copy, so losing one node (or its availability zone) loses the points of its shards, about 1/\(peers) of the collection, and every restart makes them unavailable. Set replication_factor: 2 in the mapping's target or pass --replication-factor 2\(collection.exists ? " for a new collection (an existing one is changed with PATCH /collections/\(collection.name) and replicated with POST /collections/\(collection.name)/cluster)" : "")")
        }
        if isCluster && replicas > peers {
            warnings.append("warning: collection \(collection.name): replication_factor \(replicas) on \(peers) peers; Qdrant keeps at most one replica per peer, so each shard has \(peers) copies until more peers join")
        }
        if !isCluster && replicas > 1 {
            warnings.append("warning: collection \(collection.name): replication_factor \(replicas) on a single node (cluster mode off) keeps one copy; replicas need a cluster (QDRANT__CLUSTER__ENABLED=true)")
        }
        if consistency > replicas {
            warnings.append("warning: collection \(collection.name): write_consistency_factor \(consistency) is more than its \(replicas) replicas; every write waits for all of them")
        }
        if !collection.unasked.isEmpty {
            warnings.append("warning: collection \(collection.name) exists and is used as it is, unlike a new one: \(collection.unasked.joined(separator: ", ")). migrate never recreates a collection; give the settings explicitly to refuse a different one")
        }
        return warnings
    }

    /// The plan's table row for a collection.
    func row(_ collection: PlannedCollection) -> [String] {
        let settings = effective(collection.settings)
        func text(_ value: (some CustomStringConvertible)?) -> String { value.map(\.description) ?? "?" }
        return [collection.name, collection.exists ? "exists" : "create", text(settings.shards), text(settings.replicationFactor),
                text(settings.writeConsistencyFactor), collection.settings.onDiskVectors == nil && collection.exists ? "mixed" : text(settings.onDiskVectors),
                text(settings.onDiskPayload)]
    }

    /// A collection's settings in a note: `3 shards × 2 replicas, write consistency 1, vectors in RAM, payload on disk`.
    func summary(_ collection: PlannedCollection) -> String {
        let settings = effective(collection.settings)
        let vectors = collection.exists && collection.settings.onDiskVectors == nil ? "some vectors on disk" : settings.onDiskVectors == true ? "vectors on disk" : "vectors in RAM"
        return "\(settings.shards ?? 1) shard(s) × \(settings.replicationFactor ?? 1) replica(s), write consistency \(settings.writeConsistencyFactor ?? 1), \(vectors), payload \(settings.onDiskPayload == true ? "on disk" : "in RAM")"
    }

    /// The plan table's columns.
    static let columns = ["collection", "state", "shards", "replicas", "write consistency", "vectors on disk", "payload on disk"]
}

/// A Qdrant source's aliases, carried to the target collections (Qdrant → Qdrant copies).
struct CollectionAliases: Sendable {
    /// Source aliases.
    var source: [CollectionAlias]
    /// Target aliases.
    var target: [CollectionAlias]

    /// Both sides' aliases; none unless the source is Qdrant.
    static func load(_ settings: VectorRunSettings, target client: QdrantClient) async throws -> CollectionAliases {
        guard case .qdrant(let configuration) = settings.source else { return CollectionAliases(source: [], target: []) }
        let source = QdrantClient(configuration)
        let aliases: [CollectionAlias]
        do {
            aliases = try await Self.aliases(source)
        } catch {
            await source.close()
            throw error
        }
        await source.close()
        return CollectionAliases(source: aliases, target: try await Self.aliases(client))
    }

    /// `GET /aliases`; none when the server does not route it (404).
    private static func aliases(_ client: QdrantClient) async throws(QdrantError) -> [CollectionAlias] {
        do {
            return try await client.aliases()
        } catch .status(404, _, _) {
            return []
        }
    }

    /// Creates (when `apply`) the source collection's aliases for the target collection `name`; returns notes.
    func carry(_ job: VectorJob, to name: String, client: QdrantClient, apply: Bool) async throws -> [String] {
        guard case .collection(let sourceName, _) = job.source else { return [] }
        var notes: [String] = []
        for alias in source where alias.collection == sourceName {
            if let existing = target.first(where: { $0.alias == alias.alias }) {
                if existing.collection != name {
                    notes.append("warning: alias \(alias.alias) names \(sourceName) in the source but \(existing.collection) in the target; it is left as it is")
                }
                continue
            }
            if apply {
                try await client.createAlias(alias.alias, collection: name)
            } else {
                notes.append("alias \(alias.alias) → \(name) will be created (as in the source)")
            }
        }
        return notes
    }
}
