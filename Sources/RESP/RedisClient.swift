import Transport

/// A command together with the key that decides which cluster node runs it.
public struct KeyedCommand: Sendable, Hashable {
    /// The key whose slot routes the command; `nil` for keyless commands.
    public var key: [UInt8]?
    /// The command.
    public var command: RESPCommand

    /// Pairs `command` with the key that routes it.
    public init(key: [UInt8]?, _ command: RESPCommand) {
        self.key = key
        self.command = command
    }
}

/// Whether a deployment is a cluster; `automatic` asks the server (`INFO cluster`).
public enum RedisTopologyMode: String, Sendable, CaseIterable {
    case automatic = "auto"
    case standalone
    case cluster
}

/// A client for one Redis deployment, standalone or cluster, that routes each command to the node that owns
/// its key and follows MOVED, ASK, TRYAGAIN and CLUSTERDOWN, refreshing the topology when a node fails over.
///
/// A client owns its connections and belongs to one task at a time.
public final class RedisClient {
    /// The configuration of the seed node; other nodes share its credentials and TLS settings.
    public let configuration: RedisConnectionConfiguration
    /// Whether the deployment is a cluster.
    public let isCluster: Bool
    /// The slot owners (clusters only).
    public private(set) var topology: ClusterTopology
    private var connections: [Endpoint: RedisConnection] = [:]
    private let retry: RedirectPolicy

    /// How many redirects and retries a command may take, and how long to back off between them.
    public struct RedirectPolicy: Sendable {
        /// The most rounds of redirects or retries for one pipeline.
        public var maxAttempts: Int
        /// The first pause after TRYAGAIN, CLUSTERDOWN or a lost node; doubled each round.
        public var initialBackoff: Duration
        /// The longest pause.
        public var maxBackoff: Duration

        /// Creates a policy; the defaults ride out a failover of about 30 seconds.
        public init(maxAttempts: Int = 40, initialBackoff: Duration = .milliseconds(50), maxBackoff: Duration = .seconds(2)) {
            self.maxAttempts = maxAttempts
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    private init(configuration: RedisConnectionConfiguration, isCluster: Bool, topology: ClusterTopology, seed: RedisConnection, retry: RedirectPolicy) {
        self.configuration = configuration
        self.isCluster = isCluster
        self.topology = topology
        self.retry = retry
        self.connections[seed.endpoint] = seed
    }

    /// Connects to the seed node and, for a cluster, loads the slot map.
    public static func connect(
        _ configuration: RedisConnectionConfiguration,
        mode: RedisTopologyMode = .automatic,
        retry: RedirectPolicy = .init()
    ) async throws(RedisError) -> RedisClient {
        let seed = try await RedisConnection.connect(configuration)
        let isCluster: Bool
        switch mode {
        case .standalone: isCluster = false
        case .cluster: isCluster = true
        case .automatic:
            let info = try await seed.send(RESPCommand("INFO", "cluster"))
            isCluster = info.string?.contains("cluster_enabled:1") ?? false
        }
        var topology = ClusterTopology()
        if isCluster {
            if configuration.database != 0 {
                await seed.close()
                throw .handshakeFailed(configuration.endpoint, command: "SELECT \(configuration.database)",
                                       serverMessage: "a cluster has only database 0; map other databases to key prefixes with --db-map")
            }
            topology = try await loadTopology(from: seed, configuration: configuration)
        }
        return RedisClient(configuration: configuration, isCluster: isCluster, topology: topology, seed: seed, retry: retry)
    }

    /// The primaries: the cluster's, or the one standalone server.
    public var primaries: [Endpoint] {
        isCluster ? topology.primaries : [configuration.endpoint]
    }

    /// A new connection to `endpoint` with this deployment's credentials, owned by the caller (for SCAN).
    public func openConnection(to endpoint: Endpoint, database: Int) async throws(RedisError) -> RedisConnection {
        try await RedisConnection.connect(configuration.with(endpoint: endpoint, database: database))
    }

    /// Runs `commands` and returns their replies in order, each from the node that owns its key. Error replies
    /// other than redirects are returned as they are; redirects and transient cluster errors are retried.
    public func pipeline(_ commands: [KeyedCommand]) async throws(RedisError) -> [RESPValue] {
        guard isCluster else {
            return try await connection(to: configuration.endpoint).pipeline(commands.map(\.command))
        }
        return try await clusterPipeline(commands)
    }

    /// Runs one command on the node that owns `key` (any node when `nil`).
    public func send(_ command: RESPCommand, key: [UInt8]? = nil) async throws(RedisError) -> RESPValue {
        try await pipeline([KeyedCommand(key: key, command)])[0]
    }

    /// Runs `command` on every primary and returns each node's reply.
    public func sendToPrimaries(_ command: RESPCommand) async throws(RedisError) -> [(Endpoint, RESPValue)] {
        var replies: [(Endpoint, RESPValue)] = []
        for endpoint in primaries {
            replies.append((endpoint, try await connection(to: endpoint).send(command)))
        }
        return replies
    }

    /// Closes every connection.
    public func close() async {
        for connection in connections.values {
            await connection.close()
        }
        connections.removeAll()
    }

    /// Reloads the slot map from any node that answers.
    public func refreshTopology() async throws(RedisError) {
        var lastError: RedisError = .clusterUnavailable("no node answered CLUSTER SHARDS")
        let candidates = topology.primaries + [configuration.endpoint] + Array(connections.keys)
        for endpoint in Set(candidates).sorted() {
            do {
                let connection = try await connection(to: endpoint)
                let fresh = try await Self.loadTopology(from: connection, configuration: configuration)
                if fresh.coversAllSlots || !topology.coversAllSlots {
                    topology = fresh
                    return
                }
            } catch {
                drop(endpoint)
                lastError = error
            }
        }
        throw lastError
    }

    // MARK: Cluster routing

    private struct Pending {
        var index: Int
        var command: KeyedCommand
        /// Where a redirect sent the command; its key's slot owner when `nil`.
        var destination: Endpoint?
        /// Whether the command must be preceded by ASKING (an ASK redirect).
        var asking = false
    }

    private func clusterPipeline(_ commands: [KeyedCommand]) async throws(RedisError) -> [RESPValue] {
        var replies = [RESPValue?](repeating: nil, count: commands.count)
        var pending = commands.enumerated().map { Pending(index: $0.offset, command: $0.element) }
        var attempt = 0
        var lastProblem = ""
        while !pending.isEmpty {
            var groups: [Endpoint: [Pending]] = [:]
            for item in pending {
                groups[item.destination ?? route(item.command.key), default: []].append(item)
            }
            pending.removeAll(keepingCapacity: true)
            var needsRefresh = false
            var needsBackoff = false
            for (endpoint, items) in groups.sorted(by: { $0.key < $1.key }) {
                var wire: [RESPCommand] = []
                wire.reserveCapacity(items.count)
                for item in items {
                    if item.asking { wire.append(RESPCommand("ASKING")) }
                    wire.append(item.command.command)
                }
                let answers: [RESPValue]
                do {
                    answers = try await connection(to: endpoint).pipeline(wire)
                } catch {
                    guard error.isTransient else { throw error }
                    drop(endpoint)
                    lastProblem = error.description
                    needsRefresh = true
                    needsBackoff = true
                    pending.append(contentsOf: items.map { Pending(index: $0.index, command: $0.command) })
                    continue
                }
                var position = 0
                for item in items {
                    if item.asking { position += 1 }
                    let answer = answers[position]
                    position += 1
                    switch Redirect(answer) {
                    case .none:
                        replies[item.index] = answer
                    case .moved(let slot, let target):
                        if !topology.primaries.contains(target) { needsRefresh = true }
                        topology.assign(slot: slot, to: target)
                        // Go where the server says, even if a refresh is still catching up with the move.
                        pending.append(Pending(index: item.index, command: item.command, destination: target))
                        lastProblem = answer.errorMessage ?? ""
                    case .ask(let target):
                        pending.append(Pending(index: item.index, command: item.command, destination: target, asking: true))
                        lastProblem = answer.errorMessage ?? ""
                    case .retryLater:
                        needsBackoff = true
                        needsRefresh = true
                        pending.append(Pending(index: item.index, command: item.command))
                        lastProblem = answer.errorMessage ?? ""
                    }
                }
            }
            guard !pending.isEmpty else { break }
            attempt += 1
            if attempt >= retry.maxAttempts {
                throw .clusterUnavailable("gave up after \(attempt) rounds of redirects or retries; last: \(lastProblem)")
            }
            if needsBackoff {
                do {
                    try await Task.sleep(for: backoff(attempt))
                } catch {
                    throw .clusterUnavailable("cancelled while waiting to retry; last: \(lastProblem)")
                }
            }
            if needsRefresh {
                do {
                    try await refreshTopology()
                } catch {
                    lastProblem = error.description
                }
            }
        }
        return replies.map { $0! }
    }

    private func route(_ key: [UInt8]?) -> Endpoint {
        let slot = key.map(HashSlot.slot(for:)) ?? 0
        return topology.primary(forSlot: slot) ?? topology.primaries.first ?? configuration.endpoint
    }

    private func backoff(_ attempt: Int) -> Duration {
        let factor = 1 << min(attempt - 1, 16)
        return min(retry.initialBackoff * factor, retry.maxBackoff)
    }

    private func connection(to endpoint: Endpoint) async throws(RedisError) -> RedisConnection {
        if let existing = connections[endpoint] { return existing }
        let fresh = try await RedisConnection.connect(configuration.with(endpoint: endpoint))
        connections[endpoint] = fresh
        return fresh
    }

    private func drop(_ endpoint: Endpoint) {
        connections[endpoint] = nil
    }

    private static func loadTopology(from connection: RedisConnection, configuration: RedisConnectionConfiguration) async throws(RedisError) -> ClusterTopology {
        let seedHost = configuration.endpoint.host
        do {
            let shards = try await connection.send(RESPCommand("CLUSTER", "SHARDS"))
            if shards.errorMessage == nil {
                return try ClusterTopology.parseShards(shards, useTLSPort: configuration.options.tls != nil, seedHost: seedHost)
            }
            let slots = try await connection.request(RESPCommand("CLUSTER", "SLOTS"))
            return try ClusterTopology.parseSlots(slots, seedHost: seedHost)
        } catch let error as TopologyError {
            throw .unexpectedReply(connection.endpoint, command: "CLUSTER SHARDS", reply: "\(error.reply)")
        } catch let error as RedisError {
            throw error
        } catch {
            throw .clusterUnavailable("\(error)")
        }
    }
}

/// What a reply says about where its command should go.
enum Redirect: Equatable {
    case none
    case moved(slot: Int, to: Endpoint)
    case ask(to: Endpoint)
    case retryLater

    init(_ reply: RESPValue) {
        guard let message = reply.errorMessage else {
            self = .none
            return
        }
        let parts = message.split(separator: " ")
        let code = RedisErrorCode(message: message)
        switch code {
        case .moved where parts.count == 3:
            if let slot = Int(parts[1]), let endpoint = Redirect.endpoint(parts[2]) {
                self = .moved(slot: slot, to: endpoint)
                return
            }
        case .ask where parts.count == 3:
            if let endpoint = Redirect.endpoint(parts[2]) {
                self = .ask(to: endpoint)
                return
            }
        case .tryAgain, .clusterDown, .loading, .masterDown:
            self = .retryLater
            return
        default:
            break
        }
        self = .none
    }

    private static func endpoint(_ text: Substring) -> Endpoint? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return Endpoint(host: host, port: port)
    }
}
