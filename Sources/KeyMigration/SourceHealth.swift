import MigrationCore
import RESP
import Transport

/// What `INFO replication` says about one source node: its role, the replication history it belongs to, and, for
/// a replica, whether its link to its primary is up and how long ago it last heard from it.
struct SourceNodeHealth: Sendable, Equatable {
    var node: Endpoint
    /// `master` or `slave`.
    var role: String
    /// The replication id (`master_replid`): shared by a primary and its replicas, new after a primary restarts.
    var replicationID: String?
    /// A replica's `master_link_status` (`up`, `down`).
    var linkStatus: String?
    /// A replica's seconds since its primary last talked to it (`master_last_io_seconds_ago`), or since the link
    /// went down (`master_link_down_since_seconds`).
    var lagSeconds: Int?

    var isReplica: Bool { role == "slave" }

    /// Parses an `INFO replication` reply.
    init(node: Endpoint, info: String) {
        self.node = node
        let fields = Dictionary(info.split(whereSeparator: \.isNewline).compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }, uniquingKeysWith: { first, _ in first })
        role = fields["role"] ?? "master"
        replicationID = fields["master_replid"]
        linkStatus = fields["master_link_status"]
        lagSeconds = (fields["master_link_down_since_seconds"] ?? fields["master_last_io_seconds_ago"]).flatMap { Int($0) }.map { max($0, 0) }
        if linkStatus == "down", lagSeconds == nil || fields["master_link_down_since_seconds"] == "-1" { lagSeconds = nil }
    }

    /// One line for the plan: `primary` or `replica, link up, 2 s behind`.
    var summary: String {
        guard isReplica else { return "primary" }
        let lag = lagSeconds.map { "\($0) s since it last heard from its primary" } ?? "never synced"
        return "replica, link \(linkStatus ?? "unknown"), \(lag)"
    }

    /// Reads every source primary's (or the one server's) replication state.
    static func read(_ source: RedisClient) async throws -> [SourceNodeHealth] {
        try await source.sendToPrimaries(RESPCommand("INFO", "replication")).map { SourceNodeHealth(node: $0.0, info: $0.1.string ?? "") }
            .sorted { $0.node.description < $1.node.description }
    }
}

/// A source that would give a stale copy: a replica whose link to its primary is down or too far behind.
public struct StaleSourceError: Error, Sendable, CustomStringConvertible {
    /// The replica.
    public var node: String
    /// What is wrong, e.g. `its link to its primary is down (for 12 s)`.
    public var problem: String

    public var description: String {
        "the source \(node) is a replica and \(problem), so the copy would be stale. Copy from the primary, wait until the replica has caught up (INFO replication: master_link_status:up), or pass --allow-stale-replica to copy it as it is."
    }

    /// Refuses a stale replica among `nodes` unless `allowStale`.
    static func check(_ nodes: [SourceNodeHealth], maxLagSeconds: Int, allowStale: Bool) throws {
        guard !allowStale else { return }
        for node in nodes where node.isReplica {
            if node.linkStatus != "up" {
                throw StaleSourceError(node: node.node.description, problem: "its link to its primary is \(node.linkStatus ?? "unknown")\(node.lagSeconds.map { " (for \($0) s)" } ?? "")")
            }
            if let lag = node.lagSeconds, lag > maxLagSeconds {
                throw StaleSourceError(node: node.node.description, problem: "its primary last talked to it \(lag) s ago (more than --max-replica-lag \(maxLagSeconds))")
            }
        }
    }
}
