import RESP

/// Reads one big key's value in bounded chunks (GETRANGE, LRANGE, HSCAN, SSCAN, ZRANGE, XRANGE), so memory
/// stays bounded however large the key is.
struct ValueReader {
    /// Elements per chunk for collections.
    var elementsPerChunk: Int
    /// Bytes per chunk for strings.
    var bytesPerChunk: Int

    /// Calls `body` with each chunk of `key`'s value, in order. A key that disappears while it is read ends
    /// the reading early; the caller sees fewer chunks.
    func read(
        _ key: [UInt8], type: RedisType, from client: RedisClient,
        body: (ValueChunk) async throws -> Void
    ) async throws {
        switch type {
        case .string:
            var offset = 0
            while true {
                let reply = try await request(client, key, RESPCommand("GETRANGE", key, offset, offset + bytesPerChunk - 1))
                guard let bytes = reply.bytes, !bytes.isEmpty || offset == 0 else { return }
                try await body(.string(bytes))
                if bytes.count < bytesPerChunk { return }
                offset += bytes.count
            }
        case .list, .zset:
            var start = 0
            while true {
                let end = start + elementsPerChunk - 1
                let command = type == .list
                    ? RESPCommand("LRANGE", key, start, end)
                    : RESPCommand("ZRANGE", key, start, end, "WITHSCORES")
                guard let chunk = try ValueChunk(reply: try await request(client, key, command), type: type), chunk.size > 0 else { return }
                try await body(chunk)
                if chunk.size < elementsPerChunk { return }
                start += elementsPerChunk
            }
        case .hash, .set:
            var cursor = "0"
            repeat {
                let command = RESPCommand(type == .hash ? "HSCAN" : "SSCAN", key, cursor, "COUNT", elementsPerChunk)
                let reply = try await request(client, key, command)
                guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                    throw ValueDecodingError(type: type, reply: reply)
                }
                cursor = next
                if let chunk = try ValueChunk(reply: parts[1], type: type), chunk.size > 0 {
                    try await body(chunk)
                }
            } while cursor != "0"
        case .stream:
            var start: [UInt8] = Array("-".utf8)
            while true {
                let reply = try await request(client, key, RESPCommand("XRANGE", key, start, "+", "COUNT", elementsPerChunk))
                guard case .stream(let entries)? = try ValueChunk(reply: reply, type: .stream), let last = entries.last else { return }
                try await body(.stream(entries))
                if entries.count < elementsPerChunk { return }
                start = Array("(".utf8) + last.id
            }
        case .other, .none:
            return
        }
    }

    private func request(_ client: RedisClient, _ key: [UInt8], _ command: RESPCommand) async throws -> RESPValue {
        let reply = try await client.send(command, key: key)
        if let message = reply.errorMessage {
            throw RedisError.commandFailed(client.configuration.endpoint, command: command.name, serverMessage: message)
        }
        return reply
    }
}
