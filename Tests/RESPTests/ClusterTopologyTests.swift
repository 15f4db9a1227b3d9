import Testing
import Transport
@testable import RESP

@Suite struct ClusterTopologyTests {
    private func bulk(_ text: String) -> RESPValue { .bulk(Array(text.utf8)) }

    private func node(ip: String, port: Int64, role: String, health: String = "online") -> RESPValue {
        .array([bulk("id"), bulk("abc"), bulk("port"), .integer(port), bulk("tls-port"), .integer(port + 1000),
                bulk("ip"), bulk(ip), bulk("endpoint"), bulk(ip), bulk("role"), bulk(role), bulk("health"), bulk(health)])
    }

    @Test func parsesClusterShardsAndPicksHealthyPrimaries() throws {
        let reply = RESPValue.array([
            .array([bulk("slots"), .array([.integer(0), .integer(5460)]), bulk("nodes"),
                    .array([node(ip: "10.0.0.2", port: 7003, role: "replica"), node(ip: "10.0.0.1", port: 7000, role: "master")])]),
            .array([bulk("slots"), .array([.integer(5461), .integer(10922), .integer(16000), .integer(16383)]), bulk("nodes"),
                    .array([node(ip: "10.0.0.3", port: 7001, role: "master")])]),
            .array([bulk("slots"), .array([.integer(10923), .integer(15999)]), bulk("nodes"),
                    .array([node(ip: "10.0.0.4", port: 7002, role: "master")])]),
        ])
        let topology = try ClusterTopology.parseShards(reply, useTLSPort: false, seedHost: "seed")
        #expect(topology.coversAllSlots)
        #expect(topology.primaries.count == 3)
        #expect(topology.primary(forSlot: 0) == Endpoint(host: "10.0.0.1", port: 7000))
        #expect(topology.primary(forSlot: 16383) == Endpoint(host: "10.0.0.3", port: 7001))
        #expect(topology.primary(forSlot: 12000) == Endpoint(host: "10.0.0.4", port: 7002))
        let tls = try ClusterTopology.parseShards(reply, useTLSPort: true, seedHost: "seed")
        #expect(tls.primary(forSlot: 0) == Endpoint(host: "10.0.0.1", port: 8000))
    }

    @Test func parsesClusterSlotsAndReplacesUnknownHosts() throws {
        let reply = RESPValue.array([
            .array([.integer(0), .integer(8191), .array([bulk(""), .integer(7000), bulk("id1")])]),
            .array([.integer(8192), .integer(16383), .array([bulk("10.0.0.9"), .integer(7001), bulk("id2")])]),
        ])
        let topology = try ClusterTopology.parseSlots(reply, seedHost: "cfg.example")
        #expect(topology.primary(forSlot: 100) == Endpoint(host: "cfg.example", port: 7000))
        #expect(topology.primary(forSlot: 9000) == Endpoint(host: "10.0.0.9", port: 7001))
    }

    @Test func leavesGapsUnowned() throws {
        let reply = RESPValue.array([.array([.integer(0), .integer(100), .array([bulk("h"), .integer(1)])])])
        let topology = try ClusterTopology.parseSlots(reply, seedHost: "h")
        #expect(!topology.coversAllSlots)
        #expect(topology.primary(forSlot: 101) == nil)
    }

    @Test func refusesMalformedReplies() {
        #expect(throws: TopologyError.self) { try ClusterTopology.parseSlots(.integer(1), seedHost: "h") }
        #expect(throws: TopologyError.self) { try ClusterTopology.parseShards(.array([.integer(1)]), useTLSPort: false, seedHost: "h") }
    }

    @Test func classifiesRedirects() {
        #expect(Redirect(.error("MOVED 3999 127.0.0.1:6381")) == .moved(slot: 3999, to: Endpoint(host: "127.0.0.1", port: 6381)))
        #expect(Redirect(.error("ASK 3999 [::1]:6381")) == .ask(to: Endpoint(host: "::1", port: 6381)))
        #expect(Redirect(.error("TRYAGAIN Multiple keys request during rehashing of slot")) == .retryLater)
        #expect(Redirect(.error("CLUSTERDOWN The cluster is down")) == .retryLater)
        #expect(Redirect(.error("ERR wrong number of arguments")) == .none)
        #expect(Redirect(.status("OK")) == .none)
    }
}
