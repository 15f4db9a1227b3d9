import Hashing

/// A checksum of a multiset of records that does not depend on the order they were seen in, so two sides
/// read in different orders (or by different numbers of shards) can be compared, and partial checksums add up.
///
/// Each record is hashed with SHA-256; the first 16 bytes are added, as two 64-bit lanes, modulo 2^64.
public struct OrderIndependentChecksum: Sendable, Hashable, Codable, CustomStringConvertible {
    /// How many records were added.
    public private(set) var count: Int
    private var high: UInt64
    private var low: UInt64

    /// The checksum of no records.
    public init() {
        count = 0
        high = 0
        low = 0
    }

    /// Adds one record, given as the SHA-256 digest of its canonical bytes.
    public mutating func add(digest: [UInt8]) {
        precondition(digest.count >= 16, "a record digest has at least 16 bytes")
        var first: UInt64 = 0
        var second: UInt64 = 0
        for index in 0..<8 {
            first = first << 8 | UInt64(digest[index])
            second = second << 8 | UInt64(digest[index + 8])
        }
        high &+= first
        low &+= second
        count += 1
    }

    /// Adds one record given by its canonical bytes.
    public mutating func add(record: [UInt8]) {
        add(digest: SHA256Hasher.hash(record))
    }

    /// Adds all records of `other`.
    public mutating func merge(_ other: OrderIndependentChecksum) {
        high &+= other.high
        low &+= other.low
        count += other.count
    }

    /// 32 hex digits.
    public var hex: String {
        func digits(_ value: UInt64) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }
        return digits(high) + digits(low)
    }

    public var description: String { "\(count) records, \(hex)" }

    enum CodingKeys: String, CodingKey { case count, digest }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        count = try container.decode(Int.self, forKey: .count)
        let digest = try container.decode(String.self, forKey: .digest)
        guard digest.count == 32, let high = UInt64(digest.prefix(16), radix: 16), let low = UInt64(digest.suffix(16), radix: 16) else {
            throw DecodingError.dataCorruptedError(forKey: .digest, in: container, debugDescription: "expected 32 hex digits")
        }
        self.high = high
        self.low = low
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(hex, forKey: .digest)
    }
}
