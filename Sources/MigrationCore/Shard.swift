import Hashing

/// `--shard i/N`: this process handles one of N disjoint parts of the source, so N processes (an Indexed Job,
/// N ECS tasks) started with `0/N` … `N-1/N` cover it exactly once.
///
/// Each store decides what a record's bucket is: vectors and graphs hash a canonical id with ``owns(_:)``;
/// keys use their cluster hash slot with ``owns(bucket:)``, so a cluster's slots stay together.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    /// This shard, from 0.
    public var index: Int
    /// How many shards.
    public var count: Int

    /// Parses `i/N` with `0 ≤ i < N`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count > 0, (0..<count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// `i/N`.
    public var description: String { "\(index)/\(count)" }

    /// Whether a canonical id (a point id, a node or relationship id) belongs to this shard: the first 8 bytes of
    /// its SHA-256, big-endian, modulo N.
    public func owns(_ canonicalID: String) -> Bool {
        let digest = SHA256Hasher.hash(Array(canonicalID.utf8))
        return owns(bucket: digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    /// Whether a non-negative bucket number (a Redis hash slot) belongs to this shard: `bucket` modulo N is `i`.
    public func owns(bucket: some BinaryInteger) -> Bool {
        Int(UInt64(bucket) % UInt64(count)) == index
    }
}
