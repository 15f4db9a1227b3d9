/// One RESP2 reply.
public enum RESPValue: Sendable, Hashable {
    /// `+OK` and other simple strings.
    case status(String)
    /// `-ERR ...`: the server's error line, without the leading `-`.
    case error(String)
    /// `:42`.
    case integer(Int64)
    /// `$n` bulk bytes (binary-safe).
    case bulk([UInt8])
    /// `$-1` or `*-1`.
    case null
    /// `*n` nested replies.
    case array([RESPValue])

    /// The bytes of a bulk or status reply.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): return bytes
        case .status(let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// The reply as UTF-8 text, for bulk and status replies.
    public var string: String? {
        bytes.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The integer of an integer reply, or of a bulk reply holding a decimal number.
    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulk, .status: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array reply.
    public var array: [RESPValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The server's error line, when this is an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }

    /// The code of an error reply (`MOVED`, `ASK`, `NOPERM`, `ERR`, ...).
    public var errorCode: RedisErrorCode? {
        errorMessage.map { RedisErrorCode(message: $0) }
    }
}
