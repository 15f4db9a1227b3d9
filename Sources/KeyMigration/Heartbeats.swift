import Logging
import RESP
import Transport

/// Markers a live sync publishes on each source primary and waits to hear back on that primary's subscription.
///
/// Pub/sub delivers a node's messages in order, so once a marker is heard, every notification that node
/// published before it has been read: the oldest marker not yet heard bounds how far the subscription lags,
/// and hearing the last one means the subscription has caught up. A value type, with times passed in.
struct Heartbeats: Sendable {
    private var outstanding: [String: [(sequence: Int, sentAt: ContinuousClock.Instant)]] = [:]
    private var last = 0

    /// The next sequence number to publish.
    mutating func next() -> Int {
        last += 1
        return last
    }

    /// Records that marker `sequence` was published on `node` at `time`.
    mutating func sent(_ sequence: Int, to node: String, at time: ContinuousClock.Instant) {
        outstanding[node, default: []].append((sequence, time))
    }

    /// Records that `node`'s subscription heard marker `sequence` (and so every earlier one).
    mutating func heard(_ sequence: Int, from node: String) {
        outstanding[node]?.removeAll { $0.sequence <= sequence }
    }

    /// Forgets what `node` still owes (its subscription was lost; a reconcile pass covers the gap).
    mutating func forget(_ node: String) {
        outstanding[node] = nil
    }

    /// When the oldest marker not yet heard was published.
    var oldest: ContinuousClock.Instant? {
        outstanding.values.compactMap { $0.first?.sentAt }.min()
    }

    /// Whether every marker up to `sequence` was heard.
    func caughtUp(through sequence: Int) -> Bool {
        outstanding.values.allSatisfy { $0.first.map { $0.sequence > sequence } ?? true }
    }

    /// The payload of marker `sequence` published on `node`: `<node>|<sequence>`.
    static func payload(node: String, sequence: Int) -> String {
        "\(node)|\(sequence)"
    }

    /// The node and sequence number a marker's payload names.
    static func parse(_ payload: [UInt8]) -> (node: String, sequence: Int)? {
        guard let bar = payload.lastIndex(of: UInt8(ascii: "|")),
              let sequence = Int(String(decoding: payload[(bar + 1)...], as: UTF8.self)) else { return nil }
        return (String(decoding: payload[..<bar], as: UTF8.self), sequence)
    }
}

/// Publishes heartbeat markers on every followed source primary, over connections of its own.
struct HeartbeatPublisher {
    /// The channel markers go to.
    let channel: String
    /// The source's credentials and TLS settings (for any of its nodes).
    let configuration: RedisConnectionConfiguration
    let logger: Logger
    private var connections: [Endpoint: RedisConnection] = [:]
    private var refused: Set<Endpoint> = []

    init(channel: String, configuration: RedisConnectionConfiguration, logger: Logger) {
        self.channel = channel
        self.configuration = configuration
        self.logger = logger
    }

    /// Publishes the next marker on every followed primary that accepts it and returns its sequence number.
    mutating func publish(into log: ChangeLog) async -> Int {
        let sequence = await log.nextHeartbeat()
        let primaries = await log.primaries
        for (endpoint, connection) in connections where !primaries.contains(endpoint) {
            connections[endpoint] = nil
            await connection.close()
        }
        for endpoint in primaries where !refused.contains(endpoint) {
            let node = "\(endpoint)"
            await log.publishing(sequence, on: node)
            do {
                let connection: RedisConnection
                if let existing = connections[endpoint] {
                    connection = existing
                } else {
                    connection = try await RedisConnection.connect(configuration.with(endpoint: endpoint, database: 0))
                    connections[endpoint] = connection
                }
                let reply = try await connection.send(RESPCommand("PUBLISH", channel, Heartbeats.payload(node: node, sequence: sequence)))
                if let message = reply.errorMessage {
                    refused.insert(endpoint)
                    await log.unpublished(on: node)
                    logger.warning("\(endpoint) refused PUBLISH (\(message)): lag leaves out notifications not yet read, and stopping relies on the final reconcile")
                }
            } catch {
                await connections.removeValue(forKey: endpoint)?.close()
                await log.unpublished(on: node)
                logger.debug("heartbeat on \(endpoint) failed, trying again later: \(error)")
            }
        }
        return sequence
    }

    /// Closes the connections.
    mutating func close() async {
        for connection in connections.values { await connection.close() }
        connections = [:]
    }
}
