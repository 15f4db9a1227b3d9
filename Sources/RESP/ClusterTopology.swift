import Transport

/// Which primary serves each of the 16384 slots.
public struct ClusterTopology: Sendable, Equatable {
    /// The primaries, sorted.
    public private(set) var primaries: [Endpoint]
    /// For each slot, an index into `primaries`, or -1 when no node serves it.
    private var owners: [Int16]

    /// A topology in which no slot is served yet.
    init() {
        primaries = []
        owners = Array(repeating: -1, count: HashSlot.count)
    }

    /// The primary that serves `slot`, if any.
    public func primary(forSlot slot: Int) -> Endpoint? {
        let owner = owners[slot]
        return owner < 0 ? nil : primaries[Int(owner)]
    }

    /// Whether every slot has an owner.
    public var coversAllSlots: Bool { !owners.contains(-1) }

    /// Records that `endpoint` serves `slot` (after a MOVED redirect).
    public mutating func assign(slot: Int, to endpoint: Endpoint) {
        assign(slots: slot...slot, to: endpoint)
    }

    mutating func assign(slots: ClosedRange<Int>, to endpoint: Endpoint) {
        var index = primaries.firstIndex(of: endpoint)
        if index == nil {
            primaries.append(endpoint)
            index = primaries.count - 1
        }
        for slot in slots where (0..<HashSlot.count).contains(slot) {
            owners[slot] = Int16(index!)
        }
    }

    /// Parses a `CLUSTER SHARDS` reply (Redis 7+, Valkey). `useTLSPort` picks `tls-port` over `port`;
    /// `seedHost` replaces endpoints announced as `?` or empty.
    public static func parseShards(_ reply: RESPValue, useTLSPort: Bool, seedHost: String) throws(TopologyError) -> ClusterTopology {
        guard let shards = reply.array else { throw TopologyError(reply: reply) }
        var topology = ClusterTopology()
        for shard in shards {
            let fields = try dictionary(shard)
            guard let slotBounds = fields["slots"]?.array, let nodes = fields["nodes"]?.array else {
                throw TopologyError(reply: shard)
            }
            let primary = try nodes.lazy.map(dictionary).first {
                $0["role"]?.string == "master" && ($0["health"]?.string ?? "online") == "online"
            }
            guard let primary else { continue }
            let host = [primary["endpoint"], primary["hostname"], primary["ip"]]
                .compactMap { $0?.string }
                .first { !$0.isEmpty && $0 != "?" } ?? seedHost
            let portValue = (useTLSPort ? primary["tls-port"] : nil) ?? primary["port"]
            guard let port = portValue?.integer else { throw TopologyError(reply: shard) }
            let endpoint = Endpoint(host: host, port: Int(port))
            var bounds = slotBounds.makeIterator()
            while let low = bounds.next()?.integer, let high = bounds.next()?.integer {
                topology.assign(slots: Int(low)...Int(high), to: endpoint)
            }
        }
        topology.sortPrimaries()
        return topology
    }

    /// Parses a `CLUSTER SLOTS` reply (older servers, Dragonfly).
    public static func parseSlots(_ reply: RESPValue, seedHost: String) throws(TopologyError) -> ClusterTopology {
        guard let ranges = reply.array else { throw TopologyError(reply: reply) }
        var topology = ClusterTopology()
        for range in ranges {
            guard let items = range.array, items.count >= 3,
                  let low = items[0].integer, let high = items[1].integer,
                  let node = items[2].array, node.count >= 2,
                  let port = node[1].integer else {
                throw TopologyError(reply: range)
            }
            let announced = node[0].string ?? ""
            let host = announced.isEmpty || announced == "?" ? seedHost : announced
            topology.assign(slots: Int(low)...Int(high), to: Endpoint(host: host, port: Int(port)))
        }
        topology.sortPrimaries()
        return topology
    }

    private mutating func sortPrimaries() {
        let sorted = primaries.sorted()
        let remap = primaries.map { Int16(sorted.firstIndex(of: $0)!) }
        owners = owners.map { $0 < 0 ? $0 : remap[Int($0)] }
        primaries = sorted
    }

    private static func dictionary(_ value: RESPValue) throws(TopologyError) -> [String: RESPValue] {
        guard let items = value.array, items.count % 2 == 0 else { throw TopologyError(reply: value) }
        var fields: [String: RESPValue] = [:]
        for index in stride(from: 0, to: items.count, by: 2) {
            if let name = items[index].string { fields[name] = items[index + 1] }
        }
        return fields
    }
}

/// A cluster topology reply that could not be understood.
public struct TopologyError: Error, Sendable, CustomStringConvertible {
    /// The part of the reply that did not fit.
    public var reply: RESPValue

    public var description: String { "unexpected cluster topology reply: \(reply)" }
}
