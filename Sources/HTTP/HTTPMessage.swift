import Failures
/// An HTTP/1.1 request.
public struct HTTPRequest: Sendable {
    /// `GET`, `PUT`, `POST`, `DELETE`, ...
    public var method: String
    /// The path with its query, starting with `/`.
    public var path: String
    /// Header fields in order (Host and Content-Length are added when sent).
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: [UInt8]

    /// Creates a request.
    public init(method: String, path: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// The request's bytes on the wire.
    public func serialized(host: String) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Length: \(body.count)\r\n"
        for header in headers {
            head += "\(header.name): \(header.value)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + body
    }
}

/// An HTTP/1.1 response.
public struct HTTPResponse: Sendable, Equatable {
    /// The status code.
    public var status: Int
    /// Header fields in order, names as sent.
    public var headers: [HTTPHeader]
    /// The body (de-chunked).
    public var body: [UInt8]

    /// The first value of the header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// One header field.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String
}

/// Why an HTTP exchange failed below the level of status codes.
public enum HTTPError: TransientFailure, Sendable, Equatable, CustomStringConvertible {
    /// Connecting, TLS, reading or writing failed.
    case transport(String, transient: Bool)
    /// The server's bytes were not an HTTP/1.1 response.
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .transport(let message, _): return message
        case .malformedResponse(let message): return "malformed HTTP response: \(message)"
        }
    }

    /// Whether a retry may succeed.
    public var isTransient: Bool {
        if case .transport(_, let transient) = self { return transient }
        return false
    }
}

/// Parses HTTP/1.1 responses from bytes fed in arbitrary pieces (Content-Length, chunked, or until close).
/// Pure: no I/O.
public struct HTTPResponseParser: Sendable {
    private var buffer: [UInt8] = []
    private var head: (status: Int, headers: [HTTPHeader])?
    private var bodyStart = 0
    /// A chunked body's complete chunks so far, and where the next chunk's size line starts: each byte is
    /// decoded once, however many pieces the body arrives in.
    private var chunked: (body: [UInt8], cursor: Int)?
    private let expectsBody: Bool
    /// The largest body accepted.
    public let maxBodyBytes: Int

    /// A parser for the response to one request; `expectsBody` is false for HEAD.
    public init(expectsBody: Bool = true, maxBodyBytes: Int = 512 << 20) {
        self.expectsBody = expectsBody
        self.maxBodyBytes = maxBodyBytes
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
    }

    /// The response, once complete; `nil` while more bytes are needed. With `closed`, the peer closed the
    /// connection, which completes a response that has neither Content-Length nor chunking.
    public mutating func response(closed: Bool = false) throws(HTTPError) -> HTTPResponse? {
        if head == nil {
            guard let end = Self.find([13, 10, 13, 10], in: buffer, from: 0) else {
                if buffer.count > 64 << 10 { throw .malformedResponse("header section over 64 KiB") }
                if closed { throw .malformedResponse("connection closed before the response headers") }
                return nil
            }
            head = try Self.parseHead(Array(buffer[..<end]))
            bodyStart = end + 4
        }
        let (status, headers) = head!
        func value(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
        if !expectsBody || status == 204 || status == 304 || (100..<200).contains(status) {
            return HTTPResponse(status: status, headers: headers, body: [])
        }
        if value("transfer-encoding")?.lowercased().contains("chunked") == true {
            guard let body = try dechunk() else {
                if closed { throw .malformedResponse("connection closed inside a chunked body") }
                return nil
            }
            return HTTPResponse(status: status, headers: headers, body: body)
        }
        if let lengthText = value("content-length") {
            guard let length = Int(lengthText.trimmingSpaces()), length >= 0 else { throw .malformedResponse("bad Content-Length '\(lengthText)'") }
            guard length <= maxBodyBytes else { throw .malformedResponse("body of \(length) bytes is over the \(maxBodyBytes)-byte limit") }
            guard buffer.count - bodyStart >= length else {
                if closed { throw .malformedResponse("connection closed after \(buffer.count - bodyStart) of \(length) body bytes") }
                return nil
            }
            return HTTPResponse(status: status, headers: headers, body: Array(buffer[bodyStart..<(bodyStart + length)]))
        }
        guard closed else { return nil }
        return HTTPResponse(status: status, headers: headers, body: Array(buffer[bodyStart...]))
    }

    private mutating func dechunk() throws(HTTPError) -> [UInt8]? {
        var (body, cursor) = chunked ?? ([], bodyStart)
        // Only whole chunks move the cursor: a chunk still arriving is parsed again, from its size line.
        defer { chunked = (body, cursor) }
        while true {
            guard let lineEnd = Self.find([13, 10], in: buffer, from: cursor) else { return nil }
            let sizeText = String(decoding: buffer[cursor..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingSpaces(), radix: 16), size >= 0 else {
                throw .malformedResponse("bad chunk size '\(sizeText)'")
            }
            let dataStart = lineEnd + 2
            if size == 0 {
                // Trailers end with an empty line.
                guard Self.find([13, 10, 13, 10], in: buffer, from: lineEnd) != nil else { return nil }
                return body
            }
            guard body.count + size <= maxBodyBytes else { throw .malformedResponse("chunked body over the \(maxBodyBytes)-byte limit") }
            guard buffer.count >= dataStart + size + 2 else { return nil }
            body.append(contentsOf: buffer[dataStart..<(dataStart + size)])
            cursor = dataStart + size + 2
        }
    }

    private static func parseHead(_ bytes: [UInt8]) throws(HTTPError) -> (Int, [HTTPHeader]) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines[0].split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw .malformedResponse("status line '\(lines[0].prefix(80))'")
        }
        var headers: [HTTPHeader] = []
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw .malformedResponse("header line '\(line.prefix(80))'") }
            headers.append(HTTPHeader(name: String(line[..<colon]), value: String(line[line.index(after: colon)...]).trimmingSpaces()))
        }
        return (status, headers)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = max(0, start)
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}
