import JSON

/// What `GET /cluster` says about the deployment.
public struct ClusterStatus: Sendable, Equatable {
    /// Whether cluster mode is on (`"status": "enabled"`).
    public var enabled: Bool
    /// The answering peer's id, as text (peer ids are unsigned 64-bit).
    public var peerID: String?
    /// Every peer's id, as text, sorted.
    public var peers: [String]

    /// Creates a status.
    public init(enabled: Bool, peerID: String?, peers: [String]) {
        self.enabled = enabled
        self.peerID = peerID
        self.peers = peers
    }

    /// Parses the `result` of `GET /cluster`.
    public init(parsing result: JSONValue) {
        enabled = result["status"]?.string == "enabled"
        peerID = result["peer_id"].map(Self.idText)
        peers = (result["peers"]?.object ?? []).map(\.0).sorted()
    }

    /// A peer id as text, whether the parser kept it as an integer or (above 2^63) as a double.
    static func idText(_ value: JSONValue) -> String {
        value.int.map(String.init) ?? JSONWriter.text(value)
    }
}

/// One replica of one shard, from `GET /collections/{name}/cluster`.
public struct ShardReplica: Sendable, Equatable {
    /// The shard.
    public var shardID: Int
    /// The peer holding this replica, as text.
    public var peerID: String
    /// `Active`, `Dead`, `Partial`, `Initializing`, `Listener`, …
    public var state: String

    /// Creates a replica.
    public init(shardID: Int, peerID: String, state: String) {
        self.shardID = shardID
        self.peerID = peerID
        self.state = state
    }
}

/// Where a collection's shards and replicas are, from `GET /collections/{name}/cluster`.
public struct CollectionClusterInfo: Sendable, Equatable {
    /// Shards in the collection.
    public var shardCount: Int
    /// Every replica, local and remote, by shard then peer.
    public var replicas: [ShardReplica]
    /// Shard transfers under way.
    public var transfers: Int

    /// Creates a description.
    public init(shardCount: Int, replicas: [ShardReplica], transfers: Int) {
        self.shardCount = shardCount
        self.replicas = replicas
        self.transfers = transfers
    }

    /// Parses the `result` of `GET /collections/{name}/cluster`.
    public init(parsing result: JSONValue) {
        let peer = result["peer_id"].map(ClusterStatus.idText) ?? ""
        var replicas: [ShardReplica] = []
        for shard in result["local_shards"]?.array ?? [] {
            replicas.append(ShardReplica(shardID: Int(shard["shard_id"]?.int ?? 0), peerID: peer, state: shard["state"]?.string ?? "?"))
        }
        for shard in result["remote_shards"]?.array ?? [] {
            replicas.append(ShardReplica(shardID: Int(shard["shard_id"]?.int ?? 0), peerID: shard["peer_id"].map(ClusterStatus.idText) ?? "?",
                                         state: shard["state"]?.string ?? "?"))
        }
        replicas.sort { ($0.shardID, $0.peerID) < ($1.shardID, $1.peerID) }
        self.init(shardCount: Int(result["shard_count"]?.int ?? 0), replicas: replicas, transfers: result["shard_transfers"]?.array?.count ?? 0)
    }

    /// The replicas that are not `Active`, as `shard 0 on peer P: Dead`.
    public var inactive: [String] {
        replicas.filter { $0.state != "Active" }.map { "shard \($0.shardID) on peer \($0.peerID): \($0.state)" }
    }
}

/// The per-collection settings that decide how a collection survives a lost node (`config.params`).
public struct ShardSettings: Sendable, Equatable {
    /// `shard_number`.
    public var shards: Int?
    /// `replication_factor`.
    public var replicationFactor: Int?
    /// `write_consistency_factor`.
    public var writeConsistencyFactor: Int?
    /// `on_disk` of every dense vector (`nil` in a collection's settings when its vectors differ).
    public var onDiskVectors: Bool?
    /// `on_disk_payload`.
    public var onDiskPayload: Bool?

    /// Creates settings; `nil` leaves a value to the server (or the source collection).
    public init(shards: Int? = nil, replicationFactor: Int? = nil, writeConsistencyFactor: Int? = nil, onDiskVectors: Bool? = nil,
                onDiskPayload: Bool? = nil) {
        self.shards = shards
        self.replicationFactor = replicationFactor
        self.writeConsistencyFactor = writeConsistencyFactor
        self.onDiskVectors = onDiskVectors
        self.onDiskPayload = onDiskPayload
    }

    /// The settings a collection's `config` reports.
    public init(config: JSONValue) {
        let params = config["params"]
        let dense: [JSONValue]
        if let vectors = params?["vectors"], vectors["size"] != nil {
            dense = [vectors]
        } else {
            dense = (params?["vectors"]?.object ?? []).map(\.1)
        }
        // One answer when every dense vector agrees; `nil` when they differ (each keeps its own).
        let onDisk = Set(dense.map { $0["on_disk"]?.flag ?? false })
        self.init(shards: params?["shard_number"]?.int.map(Int.init), replicationFactor: params?["replication_factor"]?.int.map(Int.init),
                  writeConsistencyFactor: params?["write_consistency_factor"]?.int.map(Int.init),
                  onDiskVectors: onDisk.count == 1 ? onDisk.first : nil, onDiskPayload: params?["on_disk_payload"]?.flag)
    }

    /// These settings with every value `other` gives put over them.
    public func overridden(by other: ShardSettings) -> ShardSettings {
        ShardSettings(shards: other.shards ?? shards, replicationFactor: other.replicationFactor ?? replicationFactor,
                      writeConsistencyFactor: other.writeConsistencyFactor ?? writeConsistencyFactor,
                      onDiskVectors: other.onDiskVectors ?? onDiskVectors, onDiskPayload: other.onDiskPayload ?? onDiskPayload)
    }

    /// Where the values given here differ from `actual`, as `replication_factor 2 (the collection has 1)`.
    public func differences(from actual: ShardSettings) -> [String] {
        var out: [String] = []
        func compare<T: Equatable>(_ name: String, _ wanted: T?, _ has: T?) {
            if let wanted, wanted != has { out.append("\(name) \(wanted) (the collection has \(has.map { "\($0)" } ?? "none"))") }
        }
        compare("shard_number", shards, actual.shards)
        compare("replication_factor", replicationFactor, actual.replicationFactor)
        compare("write_consistency_factor", writeConsistencyFactor, actual.writeConsistencyFactor)
        compare("on_disk (vectors)", onDiskVectors, actual.onDiskVectors)
        compare("on_disk_payload", onDiskPayload, actual.onDiskPayload)
        return out
    }
}

/// How an update is ordered among a shard's replicas (`ordering=` of updates).
public enum WriteOrdering: String, Sendable, CaseIterable {
    /// Any replica may apply it first (Qdrant's default).
    case weak
    /// Routed through a dynamically chosen leader of the shard.
    case medium
    /// Routed through the shard's permanent leader.
    case strong
}

/// An alias and the collection it names.
public struct CollectionAlias: Sendable, Equatable {
    /// The alias.
    public var alias: String
    /// The collection.
    public var collection: String

    /// Creates a pair.
    public init(alias: String, collection: String) {
        self.alias = alias
        self.collection = collection
    }
}

extension QdrantError {
    /// Whether this is what a cluster answers while shards move or a replica is lost (503, or a 500 naming
    /// replicas or asking to retry): worth retrying the same request after a pause.
    public var isShardMovement: Bool {
        guard case .status(let code, let message, _) = self else { return false }
        if code == 503 { return true }
        let lowered = message.lowercased()
        return code == 500 && (lowered.contains("replica") || lowered.contains("please retry") || lowered.contains("shard transfer"))
    }
}

extension JSONValue {
    /// The value of a JSON `true`/`false` (`nil` for anything else).
    public var flag: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }
}
