/// The value of a string key read from its `DUMP` payload, so that the copy can digest what it restores without
/// reading the value a second time. A string object's RDB encoding (type 0: a length-prefixed, integer-encoded
/// or LZF-compressed string) is the same in every Redis, Valkey and DragonflyDB version; payloads of any other
/// shape give `nil` and the caller reads the value instead.
///
/// A payload is `type byte, object, 2-byte RDB version, 8-byte CRC64`.
enum RDBString {
    /// The string a payload holds, or `nil` when it is not a string object the decoder knows.
    static func value(ofPayload payload: [UInt8]) -> [UInt8]? {
        guard payload.count >= 11, payload[0] == 0 else { return nil }
        var reader = Reader(bytes: payload[1..<(payload.count - 10)])
        guard let value = reader.string(), reader.isAtEnd else { return nil }
        return value
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>

        var isAtEnd: Bool { bytes.isEmpty }

        mutating func byte() -> UInt8? {
            bytes.popFirst()
        }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, bytes.count >= count else { return nil }
            defer { bytes = bytes.dropFirst(count) }
            return bytes.prefix(count)
        }

        /// A length, or the special encoding (0 int8, 1 int16, 2 int32, 3 LZF) of the string that follows.
        mutating func length() -> (value: Int, special: Bool)? {
            guard let first = byte() else { return nil }
            switch first >> 6 {
            case 0:
                return (Int(first & 0x3F), false)
            case 1:
                guard let second = byte() else { return nil }
                return (Int(first & 0x3F) << 8 | Int(second), false)
            case 2:
                let width = first == 0x80 ? 4 : first == 0x81 ? 8 : 0
                guard width > 0, let digits = take(width) else { return nil }
                let value = digits.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                return value > UInt64(Int.max) ? nil : (Int(value), false)
            default:
                return (Int(first & 0x3F), true)
            }
        }

        mutating func string() -> [UInt8]? {
            guard let (value, special) = length() else { return nil }
            guard special else { return take(value).map(Array.init) }
            switch value {
            case 0, 1, 2:
                guard let digits = take(1 << value) else { return nil }
                let raw = digits.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let shift = UInt64(64 - 8 * (1 << value))
                let signed = Int64(bitPattern: raw << shift) >> Int64(shift)
                return Array(String(signed).utf8)
            case 3:
                guard let (compressed, _) = length(), let (original, _) = length(), let input = take(compressed) else { return nil }
                return RDBString.lzfDecompress(input, length: original)
            default:
                return nil
            }
        }
    }

    /// LZF, as Redis writes it: literal runs (control < 32: control + 1 bytes) and back references (length in the
    /// top 3 bits, 7 meaning one more length byte; offset in the low 5 bits and the next byte).
    static func lzfDecompress(_ input: ArraySlice<UInt8>, length: Int) -> [UInt8]? {
        guard length >= 0, length <= 1 << 32 else { return nil }
        var written = 0
        let output = [UInt8](unsafeUninitializedCapacity: length) { out, count in
            count = 0
            input.withUnsafeBufferPointer { input in
                var index = 0
                while index < input.count {
                    let control = Int(input[index])
                    index += 1
                    if control < 32 {
                        let run = control + 1
                        guard input.count - index >= run, written + run <= length else { return }
                        for offset in 0..<run { out[written + offset] = input[index + offset] }
                        index += run
                        written += run
                    } else {
                        var run = control >> 5
                        if run == 7 {
                            guard index < input.count else { return }
                            run += Int(input[index])
                            index += 1
                        }
                        guard index < input.count else { return }
                        let back = ((control & 0x1F) << 8) + Int(input[index]) + 1
                        index += 1
                        run += 2
                        guard back <= written, written + run <= length else { return }
                        // Byte by byte: a reference may overlap what it produces.
                        for offset in 0..<run { out[written + offset] = out[written - back + offset] }
                        written += run
                    }
                }
                count = written
            }
        }
        return written == length && output.count == length ? output : nil
    }
}
