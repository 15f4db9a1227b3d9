/// Named counters (keys copied, bytes, keys per type, ...) that add up across batches and partitions.
public struct Tally: Sendable, Hashable, Codable {
    /// The counters by name.
    public private(set) var counts: [String: Int]

    /// An empty tally.
    public init(_ counts: [String: Int] = [:]) {
        self.counts = counts
    }

    /// Adds `amount` to the counter `name`.
    public mutating func add(_ name: String, _ amount: Int = 1) {
        counts[name, default: 0] += amount
    }

    /// Adds every counter of `other`.
    public mutating func merge(_ other: Tally) {
        for (name, value) in other.counts {
            counts[name, default: 0] += value
        }
    }

    /// The counters whose names contain none of `fragments` (to leave per-type or per-database breakdowns out).
    public func excluding(_ fragments: [String]) -> Tally {
        Tally(counts.filter { name, _ in !fragments.contains { name.contains($0) } })
    }

    /// The value of `name` (0 when never counted).
    public subscript(name: String) -> Int {
        counts[name] ?? 0
    }

    public init(from decoder: any Decoder) throws {
        counts = try decoder.singleValueContainer().decode([String: Int].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(counts)
    }
}
