import BlockingIO
import Transport

/// Where and how to open one Redis connection.
public struct RedisConnectionConfiguration: Sendable, Hashable {
    /// The server.
    public var endpoint: Endpoint
    /// The ACL user (ElastiCache RBAC), or `nil` for the default user.
    public var user: String?
    /// The password, or `nil` when the server needs none.
    public var password: Secret?
    /// The database to SELECT (always 0 on a cluster).
    public var database: Int
    /// Timeouts and TLS.
    public var options: ConnectionOptions

    /// Creates a configuration.
    public init(endpoint: Endpoint, user: String? = nil, password: Secret? = nil, database: Int = 0, options: ConnectionOptions = .init()) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.options = options
    }

    /// The same credentials and options for another node of the same deployment.
    public func with(endpoint: Endpoint, database: Int? = nil) -> RedisConnectionConfiguration {
        var copy = self
        copy.endpoint = endpoint
        if let database { copy.database = database }
        return copy
    }
}

/// One connection to one Redis server, with pipelining.
///
/// All socket work runs on the connection's own ``BlockingQueue``, never on the cooperative pool, one request
/// at a time; a connection belongs to one task. After a transport error the connection is broken and every
/// later call fails fast: open a new one.
public final class RedisConnection: @unchecked Sendable {
    /// The server this connection talks to.
    public let endpoint: Endpoint
    private let queue: BlockingQueue
    // Touched only on `queue`.
    private var stream: ByteStream?
    private let decoder = RESPDecoder()
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var writeBuffer: [UInt8] = []

    private init(endpoint: Endpoint, stream: ByteStream, queue: BlockingQueue) {
        self.endpoint = endpoint
        self.stream = stream
        self.queue = queue
    }

    /// Connects, authenticates (AUTH with user and password, or password only) and selects the database.
    public static func connect(_ configuration: RedisConnectionConfiguration) async throws(RedisError) -> RedisConnection {
        let queue = BlockingQueue(label: "migrate.redis.\(configuration.endpoint)")
        let endpoint = configuration.endpoint
        let connection: RedisConnection
        do {
            connection = try await queue.run {
                let stream = try ByteStream(connectingTo: endpoint, options: configuration.options)
                return RedisConnection(endpoint: endpoint, stream: stream, queue: queue)
            }
        } catch {
            throw Self.wrap(error, endpoint: endpoint)
        }
        do {
            try await connection.handshake(configuration)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    private func handshake(_ configuration: RedisConnectionConfiguration) async throws(RedisError) {
        var commands: [RESPCommand] = []
        if let password = configuration.password {
            if let user = configuration.user {
                commands.append(RESPCommand("AUTH", user, password.reveal()))
            } else {
                commands.append(RESPCommand("AUTH", password.reveal()))
            }
        } else {
            commands.append(RESPCommand("PING"))
        }
        if configuration.database != 0 {
            commands.append(RESPCommand("SELECT", configuration.database))
        }
        let replies: [RESPValue]
        do {
            replies = try await pipeline(commands)
        } catch .transport(.connectionReset(let endpoint, let during)) {
            // Cut before the server answered anything: a protocol mismatch (plain text to a TLS port) more often
            // than a bad link, so it is reported as the peer closing during the handshake, with that hint.
            throw .transport(.closedByPeer(endpoint, during: "the connection handshake (\(during))"))
        }
        if let message = replies[0].errorMessage {
            if configuration.password != nil {
                throw .authenticationFailed(endpoint, user: configuration.user, serverMessage: message)
            }
            if RedisErrorCode(message: message) == .noAuthentication {
                throw .authenticationRequired(endpoint, serverMessage: message)
            }
            throw .handshakeFailed(endpoint, command: "PING", serverMessage: message)
        }
        if configuration.database != 0, let message = replies[1].errorMessage {
            throw .handshakeFailed(endpoint, command: "SELECT \(configuration.database)", serverMessage: message)
        }
    }

    /// Sends `commands` in one write and returns their replies in order. Error replies are returned, not thrown;
    /// only transport and protocol failures throw.
    public func pipeline(_ commands: [RESPCommand]) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let endpoint = self.endpoint
        do {
            return try await queue.run { try self.exchange(commands) }
        } catch {
            throw Self.wrap(error, endpoint: endpoint)
        }
    }

    /// Sends one command and returns its reply (which may be an error reply).
    public func send(_ command: RESPCommand) async throws(RedisError) -> RESPValue {
        try await pipeline([command])[0]
    }

    /// Sends one command and throws ``RedisError/commandFailed(_:command:serverMessage:)`` on an error reply.
    public func request(_ command: RESPCommand) async throws(RedisError) -> RESPValue {
        let reply = try await send(command)
        if let message = reply.errorMessage {
            throw .commandFailed(endpoint, command: command.name, serverMessage: message)
        }
        return reply
    }

    /// Waits for replies the server sends unasked (pub/sub messages) and returns those complete after at most
    /// one read of the socket: empty when nothing arrived within the connection's I/O timeout, which, unlike
    /// other timeouts, leaves the connection usable.
    public func receivePushed() async throws(RedisError) -> [RESPValue] {
        let endpoint = self.endpoint
        do {
            return try await queue.run { try self.readPushed() }
        } catch {
            throw Self.wrap(error, endpoint: endpoint)
        }
    }

    /// Closes the socket.
    public func close() async {
        await queue.run { self.stream?.close(); self.stream = nil }
    }

    // MARK: On the queue

    private func exchange(_ commands: [RESPCommand]) throws -> [RESPValue] {
        guard let stream else { throw TransportError.closedByPeer(endpoint, during: "a previous failure") }
        do {
            writeBuffer.removeAll(keepingCapacity: true)
            for command in commands {
                RESPEncoder.encode(command, into: &writeBuffer)
            }
            try writeBuffer.withUnsafeBytes { try stream.write($0) }
            if writeBuffer.capacity > 4 << 20 { writeBuffer = [] }

            var replies: [RESPValue] = []
            replies.reserveCapacity(commands.count)
            while let reply = try decoder.next() {
                replies.append(reply)
            }
            while replies.count < commands.count {
                let count = try readBuffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                // Feed in slices so hiredis compacts a small buffer rather than a large one.
                var offset = 0
                while offset < count {
                    let end = min(offset + 16 * 1024, count)
                    readBuffer.withUnsafeBytes { decoder.feed(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
                    offset = end
                    while let reply = try decoder.next() {
                        replies.append(reply)
                    }
                }
            }
            return replies
        } catch {
            stream.close()
            self.stream = nil
            throw error
        }
    }

    private func readPushed() throws -> [RESPValue] {
        guard let stream else { throw TransportError.closedByPeer(endpoint, during: "a previous failure") }
        var replies: [RESPValue] = []
        while let reply = try decoder.next() {
            replies.append(reply)
        }
        guard replies.isEmpty else { return replies }
        let count: Int
        do {
            count = try readBuffer.withUnsafeMutableBytes { try stream.read(into: $0) }
        } catch TransportError.timedOut {
            return []
        } catch {
            stream.close()
            self.stream = nil
            throw error
        }
        readBuffer.withUnsafeBytes { decoder.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        while let reply = try decoder.next() {
            replies.append(reply)
        }
        return replies
    }

    private static func wrap(_ error: any Error, endpoint: Endpoint) -> RedisError {
        switch error {
        case let error as RedisError: return error
        case let error as TransportError: return .transport(error)
        case let error as RESPDecoder.ProtocolError: return .malformedReply(endpoint, error.description)
        default: return .malformedReply(endpoint, "\(error)")
        }
    }
}
