import CHiredis

/// Incremental RESP2 parser over hiredis' `redisReader`: feed it bytes as they arrive, take replies as they
/// complete. Pure: no I/O, so it is tested byte for byte without a server.
public final class RESPDecoder {
    private let reader: UnsafeMutablePointer<redisReader>

    /// A reply stream hiredis could not parse.
    public struct ProtocolError: Error, Sendable, CustomStringConvertible {
        /// hiredis' description of the malformed input.
        public var description: String
    }

    /// Creates an empty decoder.
    public init() {
        guard let reader = redisReaderCreate() else { fatalError("hiredis could not allocate a reader") }
        // Keep the buffer between replies instead of freeing it whenever it drains (hiredis' default is 16 KiB).
        reader.pointee.maxbuf = 0
        self.reader = reader
    }

    deinit {
        redisReaderFree(reader)
    }

    /// Appends received bytes.
    public func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    /// Appends received bytes.
    public func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    public func next() throws(ProtocolError) -> RESPValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            let message = withUnsafeBytes(of: reader.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw ProtocolError(description: "malformed RESP from server: \(message)")
        }
        guard let raw else { return nil }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            return .bulk(bytes(value))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(value), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(value), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(value.integer)
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(value.elements)
            for index in 0..<value.elements {
                elements.append(convert(value.element[index]!))
            }
            return .array(elements)
        default:
            return .null
        }
    }

    private static func bytes(_ reply: redisReply) -> [UInt8] {
        guard reply.len > 0, let text = reply.str else { return [] }
        return text.withMemoryRebound(to: UInt8.self, capacity: reply.len) {
            Array(UnsafeBufferPointer(start: $0, count: reply.len))
        }
    }
}
