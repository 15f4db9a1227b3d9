import BlockingIO
import Transport

/// An HTTP/1.1 client for one origin over ``Transport/ByteStream`` (TLS by OpenSSL, certificates verified),
/// keeping its connection alive between requests.
///
/// Socket work runs on the client's own ``BlockingQueue``; a client serves one request at a time and belongs
/// to one task.
public final class HTTPClient: @unchecked Sendable {
    /// The origin.
    public let endpoint: Endpoint
    private let options: ConnectionOptions
    private let hostHeader: String
    private let queue: BlockingQueue
    // Touched only on `queue`.
    private var stream: ByteStream?
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// A client for `endpoint`; `options.tls` set means HTTPS.
    public init(endpoint: Endpoint, options: ConnectionOptions) {
        self.endpoint = endpoint
        self.options = options
        let defaultPort = options.tls == nil ? 80 : 443
        self.hostHeader = endpoint.port == defaultPort ? endpoint.host : endpoint.description
        self.queue = BlockingQueue(label: "migrate.http.\(endpoint)")
    }

    /// Sends `request` and returns the response, reconnecting once when a kept-alive connection turns out
    /// to have been closed by the server.
    public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let result: Result<HTTPResponse, HTTPError> = await queue.run {
            Result { () throws(HTTPError) in try self.exchange(request) }
        }
        return try result.get()
    }

    /// Closes the connection.
    public func close() async {
        await queue.run {
            self.stream?.close()
            self.stream = nil
        }
    }

    // MARK: On the queue

    private func exchange(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let reused = stream != nil
        do {
            return try attempt(request)
        } catch let error as TransportError {
            stream?.close()
            stream = nil
            // A kept-alive connection the server already closed: one fresh try.
            if reused, error.isClosedConnection {
                do {
                    return try attempt(request)
                } catch let error as TransportError {
                    stream = nil
                    throw .transport(error.description, transient: error.isTransient)
                } catch let error as HTTPError {
                    stream = nil
                    throw error
                } catch {
                    throw .transport("\(error)", transient: false)
                }
            }
            throw .transport(error.description, transient: error.isTransient)
        } catch let error as HTTPError {
            stream?.close()
            stream = nil
            throw error
        } catch {
            throw .transport("\(error)", transient: false)
        }
    }

    private func attempt(_ request: HTTPRequest) throws -> HTTPResponse {
        let connection: ByteStream
        if let stream {
            connection = stream
        } else {
            connection = try ByteStream(connectingTo: endpoint, options: options)
            stream = connection
        }
        let bytes = request.serialized(host: hostHeader)
        try bytes.withUnsafeBytes { try connection.write($0) }
        var parser = HTTPResponseParser(expectsBody: request.method != "HEAD")
        while true {
            let count: Int
            do {
                count = try readBuffer.withUnsafeMutableBytes { try connection.read(into: $0) }
            } catch TransportError.closedByPeer(let endpoint, let during) {
                // Close-delimited bodies end here; anything else is a broken exchange.
                if let response = try? parser.response(closed: true) {
                    stream = nil
                    return response
                }
                throw TransportError.closedByPeer(endpoint, during: during)
            }
            readBuffer.withUnsafeBytes { parser.feed(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            if let response = try parser.response() {
                if response.header("Connection")?.lowercased() == "close" {
                    connection.close()
                    stream = nil
                }
                return response
            }
        }
    }
}
