import BlockingIO
import Transport
import Failures

/// A Bolt protocol version.
public struct BoltVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: UInt8
    public var minor: UInt8

    public init(_ major: UInt8, _ minor: UInt8) {
        self.major = major
        self.minor = minor
    }

    public static func < (lhs: BoltVersion, rhs: BoltVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public var description: String { "\(major).\(minor)" }
}

/// Where and how to open a Bolt session.
public struct BoltConfiguration: Sendable {
    /// The server.
    public var endpoint: Endpoint
    /// Basic-auth user.
    public var user: String?
    /// Basic-auth password.
    public var password: Secret?
    /// The database to run queries in (`nil` for the server's default).
    public var database: String?
    /// Timeouts and TLS (`bolt+s://`, `neo4j+s://`).
    public var options: ConnectionOptions
    /// Sent in HELLO (Memgraph requires one).
    public var userAgent: String

    /// Creates a configuration.
    public init(endpoint: Endpoint, user: String?, password: Secret?, database: String? = nil,
                options: ConnectionOptions = .init(), userAgent: String = "migrate/1.0") {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.options = options
        self.userAgent = userAgent
    }
}

/// Why a Bolt operation failed; server failures carry Neo4j's status code and message.
public enum BoltError: TransientFailure, Sendable, Equatable, CustomStringConvertible {
    case transport(TransportError)
    /// The server accepted none of the offered versions.
    case noCommonVersion(Endpoint)
    /// The server answered FAILURE.
    case failure(code: String, message: String)
    /// The bytes did not follow the protocol.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .transport(let error): return error.description
        case .noCommonVersion(let endpoint):
            return "\(endpoint) speaks none of the Bolt versions 5.0-5.4, 4.4, 4.3, 4.1, 4.0. Is this a Bolt port (7687), and does it need bolt+s://?"
        case .failure(let code, let message):
            var text = "the graph server refused: \(message) (\(code))"
            if code.hasSuffix("Security.Unauthorized") || code.contains("AuthenticationRateLimit") {
                text += ". Check the user and password (MIGRATE_SOURCE_PASSWORD/MIGRATE_TARGET_PASSWORD or --…-password-file)."
            }
            return text
        case .protocolViolation(let message): return "Bolt protocol error: \(message)"
        }
    }

    /// Whether a retry may succeed (Neo4j's transient errors, lost connections).
    public var isTransient: Bool {
        switch self {
        case .transport(let error): return error.isTransient
        case .failure(let code, _): return code.hasPrefix("Neo.TransientError")
        default: return false
        }
    }
}

/// One Bolt session (handshake, HELLO/LOGON, RUN/PULL with back-pressure, RESET after FAILURE, GOODBYE).
///
/// Socket work runs on the connection's own ``BlockingQueue``; a connection belongs to one task at a time.
public final class BoltConnection: @unchecked Sendable {
    /// The negotiated version.
    public let version: BoltVersion
    /// The server.
    public let endpoint: Endpoint
    /// The server's agent from HELLO (`Neo4j/5.26.0`; Memgraph's names Memgraph).
    public private(set) var agent = ""
    /// Whether the server is Memgraph (its Cypher differs from Neo4j's in schema statements).
    public var isMemgraph: Bool { agent.contains("Memgraph") }
    private let database: String?
    private let queue: BlockingQueue
    // Touched only on `queue`.
    private var stream: ByteStream?
    private var inbox: [UInt8] = []
    private var inboxStart = 0
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    private init(version: BoltVersion, endpoint: Endpoint, database: String?, stream: ByteStream, queue: BlockingQueue) {
        self.version = version
        self.endpoint = endpoint
        self.database = database
        self.stream = stream
        self.queue = queue
    }

    /// The versions offered, best first: 5.4 down to 5.0, 4.4 and 4.3, 4.1, 4.0 (Memgraph offers 5.2, 4.3, 4.1, 4.0).
    static let proposals: [UInt8] = [0x00, 0x04, 0x04, 0x05, 0x00, 0x01, 0x04, 0x04, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x04]

    /// Connects, negotiates a version and authenticates.
    public static func connect(_ configuration: BoltConfiguration) async throws(BoltError) -> BoltConnection {
        let queue = BlockingQueue(label: "migrate.bolt.\(configuration.endpoint)")
        let endpoint = configuration.endpoint
        let result: Result<BoltConnection, BoltError> = await queue.run {
            do {
                let stream = try ByteStream(connectingTo: endpoint, options: configuration.options)
                let handshake = [0x60, 0x60, 0xB0, 0x17] + proposals
                try handshake.withUnsafeBytes { try stream.write($0) }
                var answer = [UInt8](repeating: 0, count: 4)
                var received = 0
                while received < 4 {
                    received += try answer.withUnsafeMutableBytes { try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[received...])) }
                }
                guard answer != [0, 0, 0, 0] else {
                    stream.close()
                    return .failure(.noCommonVersion(endpoint))
                }
                return .success(BoltConnection(version: BoltVersion(answer[3], answer[2]), endpoint: endpoint,
                                               database: configuration.database, stream: stream, queue: queue))
            } catch let error as TransportError {
                if case .closedByPeer = error { return .failure(.noCommonVersion(endpoint)) }
                return .failure(.transport(error))
            } catch {
                return .failure(.protocolViolation("\(error)"))
            }
        }
        let connection = try result.get()
        do {
            try await connection.authenticate(configuration)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    private func authenticate(_ configuration: BoltConfiguration) async throws(BoltError) {
        var hello: [(String, PackStreamValue)] = [("user_agent", .string(configuration.userAgent))]
        if version >= BoltVersion(5, 3) {
            hello.append(("bolt_agent", .map([("product", .string(configuration.userAgent))])))
        }
        var auth: [(String, PackStreamValue)] = [("scheme", .string("none"))]
        if let user = configuration.user {
            auth = [("scheme", .string("basic")), ("principal", .string(user)), ("credentials", .string(configuration.password?.reveal() ?? ""))]
        }
        let replies: [Reply]
        if version >= BoltVersion(5, 1) {
            replies = try await exchange([.structure(tag: Message.hello, fields: [.map(hello)]), .structure(tag: Message.logon, fields: [.map(auth)])])
        } else {
            replies = try await exchange([.structure(tag: Message.hello, fields: [.map(hello + auth)])])
        }
        agent = replies.first?.metadata["server"]?.string ?? ""
    }

    /// Runs `query` and returns its field names; fetch the records with ``pull(_:)``.
    public func run(_ query: String, parameters: [(String, PackStreamValue)] = []) async throws(BoltError) -> [String] {
        var extra: [(String, PackStreamValue)] = []
        if let database { extra.append(("db", .string(database))) }
        let replies = try await exchange([.structure(tag: Message.run, fields: [.string(query), .map(parameters), .map(extra)])])
        return replies.last?.metadata["fields"]?.list?.compactMap(\.string) ?? []
    }

    /// Fetches up to `count` records of the running query (-1 for all); `hasMore` says whether more remain.
    public func pull(_ count: Int) async throws(BoltError) -> (records: [[PackStreamValue]], hasMore: Bool) {
        let replies = try await exchange([.structure(tag: Message.pull, fields: [.map([("n", .int(Int64(count)))])])], collectRecords: true)
        var records: [[PackStreamValue]] = []
        var hasMore = false
        for reply in replies {
            switch reply {
            case .record(let fields): records.append(fields)
            case .success(let metadata): hasMore = metadata["has_more"] == .bool(true)
            default: break
            }
        }
        return (records, hasMore)
    }

    /// Runs `query` and fetches every record.
    public func query(_ query: String, parameters: [(String, PackStreamValue)] = []) async throws(BoltError) -> [[PackStreamValue]] {
        _ = try await run(query, parameters: parameters)
        var all: [[PackStreamValue]] = []
        while true {
            let (records, hasMore) = try await pull(-1)
            all += records
            if !hasMore { return all }
        }
    }

    /// Says GOODBYE and closes the socket.
    public func close() async {
        await queue.run {
            if let stream = self.stream {
                var goodbye = PackStreamEncoder()
                goodbye.encode(.structure(tag: Message.goodbye, fields: []))
                try? Self.frame(goodbye.bytes).withUnsafeBytes { try stream.write($0) }
                stream.close()
            }
            self.stream = nil
        }
    }

    // MARK: Messages

    enum Message {
        static let hello: UInt8 = 0x01, goodbye: UInt8 = 0x02, reset: UInt8 = 0x0F, run: UInt8 = 0x10
        static let pull: UInt8 = 0x3F, logon: UInt8 = 0x6A
        static let success: UInt8 = 0x70, record: UInt8 = 0x71, ignored: UInt8 = 0x7E, failure: UInt8 = 0x7F
    }

    enum Reply {
        case success(PackStreamValue)
        case record([PackStreamValue])
        case ignored
        case failure(code: String, message: String)

        var metadata: PackStreamValue {
            if case .success(let metadata) = self { return metadata }
            return .map([])
        }
    }

    /// Sends `requests` (pipelined) and reads one summary per request (plus records). On FAILURE, resets the
    /// session so it can be used again, then throws the server's error.
    private func exchange(_ requests: [PackStreamValue], collectRecords: Bool = false) async throws(BoltError) -> [Reply] {
        let endpoint = self.endpoint
        let result: Result<[Reply], BoltError> = await queue.run {
            do {
                guard let stream = self.stream else { throw TransportError.closedByPeer(endpoint, during: "a previous failure") }
                var wire: [UInt8] = []
                for request in requests {
                    var encoder = PackStreamEncoder()
                    encoder.encode(request)
                    wire += Self.frame(encoder.bytes)
                }
                try wire.withUnsafeBytes { try stream.write($0) }
                var replies: [Reply] = []
                var summaries = 0
                var failure: (String, String)?
                while summaries < requests.count {
                    let reply = try self.readReply(stream)
                    switch reply {
                    case .record: replies.append(reply)
                    case .failure(let code, let message):
                        failure = failure ?? (code, message)
                        summaries += 1
                    default:
                        replies.append(reply)
                        summaries += 1
                    }
                }
                if let (code, message) = failure {
                    // After FAILURE the server ignores everything until RESET. Servers close the connection
                    // after an authentication failure instead: the FAILURE is still what the caller hears.
                    do {
                        var reset = PackStreamEncoder()
                        reset.encode(.structure(tag: Message.reset, fields: []))
                        try Self.frame(reset.bytes).withUnsafeBytes { try stream.write($0) }
                        while true {
                            if case .success = try self.readReply(stream) { break }
                        }
                    } catch {
                        stream.close()
                        self.stream = nil
                    }
                    return .failure(BoltError.failure(code: code, message: message))
                }
                return .success(replies)
            } catch let error as TransportError {
                self.stream?.close()
                self.stream = nil
                return .failure(.transport(error))
            } catch let error as BoltError {
                return .failure(error)
            } catch {
                return .failure(.protocolViolation("\(error)"))
            }
        }
        return try result.get()
    }

    /// Splits a message into chunks of at most 65,535 bytes and ends it with an empty chunk.
    static func frame(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 4 + message.count / 65_535 * 2)
        var offset = 0
        while offset < message.count {
            let size = min(65_535, message.count - offset)
            out.append(UInt8(size >> 8))
            out.append(UInt8(size & 0xFF))
            out.append(contentsOf: message[offset..<(offset + size)])
            offset += size
        }
        out.append(contentsOf: [0, 0])
        return out
    }

    /// Reads one message (its chunks up to the empty one) and decodes it.
    private func readReply(_ stream: ByteStream) throws -> Reply {
        var message: [UInt8] = []
        while true {
            try fill(2, stream)
            let size = Int(inbox[inboxStart]) << 8 | Int(inbox[inboxStart + 1])
            inboxStart += 2
            if size == 0 {
                if message.isEmpty { continue }  // NOOP keep-alive chunk
                break
            }
            try fill(size, stream)
            message.append(contentsOf: inbox[inboxStart..<(inboxStart + size)])
            inboxStart += size
        }
        var decoder = PackStreamDecoder(message)
        guard case .structure(let tag, let fields) = try decoder.decode() else {
            throw BoltError.protocolViolation("a message that is not a structure")
        }
        switch tag {
        case Message.success: return .success(fields.first ?? .map([]))
        case Message.record: return .record(fields.first?.list ?? [])
        case Message.ignored: return .ignored
        case Message.failure:
            let metadata = fields.first ?? .map([])
            return .failure(code: metadata["code"]?.string ?? "Unknown", message: metadata["message"]?.string ?? "")
        default: throw BoltError.protocolViolation("unexpected message 0x\(String(tag, radix: 16))")
        }
    }

    /// Reads from the socket until `inbox` holds at least `count` unread bytes (from `inboxStart`).
    private func fill(_ count: Int, _ stream: ByteStream) throws {
        while inbox.count - inboxStart < count {
            if inboxStart > 0 {
                inbox.removeFirst(inboxStart)
                inboxStart = 0
            }
            let received = try readBuffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            inbox.append(contentsOf: readBuffer[..<received])
        }
    }
}
