import Transport

/// A message published to a channel that matched one of a subscription's patterns.
public struct PublishedMessage: Sendable, Hashable {
    /// The pattern that matched.
    public var pattern: [UInt8]
    /// The channel it was published to.
    public var channel: [UInt8]
    /// The message.
    public var payload: [UInt8]

    /// Creates a message.
    public init(pattern: [UInt8], channel: [UInt8], payload: [UInt8]) {
        self.pattern = pattern
        self.channel = channel
        self.payload = payload
    }

    /// Reads a `pmessage` push (`["pmessage", pattern, channel, payload]`); `nil` for anything else, such as
    /// subscription confirmations.
    public init?(_ reply: RESPValue) {
        guard let parts = reply.array, parts.count == 4, parts[0].string?.lowercased() == "pmessage",
              let pattern = parts[1].bytes, let channel = parts[2].bytes, let payload = parts[3].bytes else { return nil }
        self.init(pattern: pattern, channel: channel, payload: payload)
    }
}

/// A connection in pub/sub mode (PSUBSCRIBE) that reads pushed messages as they arrive.
///
/// Reads run on the connection's own blocking queue and wait at most `pollInterval` each, so the owner can
/// stop between reads. A subscription belongs to one task; after a transport error it is broken: open another.
public final class Subscription: @unchecked Sendable {
    /// The server subscribed to.
    public let endpoint: Endpoint
    /// The patterns subscribed to.
    public let patterns: [String]
    private let connection: RedisConnection
    // Messages that arrived together with the confirmations; touched only by the owning task.
    private var backlog: [PublishedMessage]

    private init(connection: RedisConnection, patterns: [String], backlog: [PublishedMessage]) {
        self.endpoint = connection.endpoint
        self.patterns = patterns
        self.connection = connection
        self.backlog = backlog
    }

    /// Connects with `configuration` (TLS and AUTH as for any connection), then subscribes to `patterns`.
    /// Each read waits at most `pollInterval` (or the configured I/O timeout, if shorter).
    public static func open(
        _ configuration: RedisConnectionConfiguration, patterns: [String], pollInterval: Duration = .seconds(1)
    ) async throws(RedisError) -> Subscription {
        var polling = configuration
        polling.database = 0
        polling.options.ioTimeout = min(configuration.options.ioTimeout, pollInterval)
        let connection = try await RedisConnection.connect(polling)
        let replies: [RESPValue]
        do {
            replies = try await connection.pipeline(patterns.map { RESPCommand("PSUBSCRIBE", $0) })
        } catch {
            await connection.close()
            throw error
        }
        var backlog: [PublishedMessage] = []
        for reply in replies {
            if let message = reply.errorMessage {
                await connection.close()
                throw .commandFailed(connection.endpoint, command: "PSUBSCRIBE", serverMessage: message)
            }
            if let published = PublishedMessage(reply) { backlog.append(published) }
        }
        return Subscription(connection: connection, patterns: patterns, backlog: backlog)
    }

    /// The messages received since the last call: waits up to the poll interval for the first one, and returns
    /// an empty array when none came.
    public func next() async throws(RedisError) -> [PublishedMessage] {
        if !backlog.isEmpty {
            defer { backlog = [] }
            return backlog
        }
        return try await connection.receivePushed().compactMap(PublishedMessage.init)
    }

    /// Closes the connection (which ends the subscription).
    public func close() async {
        await connection.close()
    }
}
