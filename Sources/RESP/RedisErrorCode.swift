/// The code a Redis-compatible server puts first in an error reply (`-MOVED 3999 10.0.0.2:6379`,
/// `-NOPERM …`, `-OOM …`), typed once so that routing, retries and refusals read it the same way.
public struct RedisErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as the server wrote it.
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// The code of an error reply's `message`: its first word.
    public init(message: some StringProtocol) {
        self.init(rawValue: String(message.prefix { $0 != " " }))
    }

    public var description: String { rawValue }

    /// The slot lives on another node now (cluster): update the slot map and send it there.
    public static let moved = RedisErrorCode(rawValue: "MOVED")
    /// The slot is being migrated: send `ASKING` and the command once to the node named.
    public static let ask = RedisErrorCode(rawValue: "ASK")
    /// A multi-key command's keys are mid-migration: try again shortly.
    public static let tryAgain = RedisErrorCode(rawValue: "TRYAGAIN")
    /// The cluster cannot serve the slot right now.
    public static let clusterDown = RedisErrorCode(rawValue: "CLUSTERDOWN")
    /// The server is loading its dataset.
    public static let loading = RedisErrorCode(rawValue: "LOADING")
    /// A replica's primary is down and it may not serve stale data.
    public static let masterDown = RedisErrorCode(rawValue: "MASTERDOWN")
    /// A script or function is running.
    public static let busy = RedisErrorCode(rawValue: "BUSY")
    /// The user may not run the command or touch the key (ACL).
    public static let noPermission = RedisErrorCode(rawValue: "NOPERM")
    /// `maxmemory` is reached and the policy evicts nothing.
    public static let outOfMemory = RedisErrorCode(rawValue: "OOM")
    /// `RESTORE` without `REPLACE` found the key already there.
    public static let busyKey = RedisErrorCode(rawValue: "BUSYKEY")
    /// The connection has not authenticated.
    public static let noAuthentication = RedisErrorCode(rawValue: "NOAUTH")
    /// The user or password is wrong.
    public static let wrongPassword = RedisErrorCode(rawValue: "WRONGPASS")
    /// The operation does not fit the key's type.
    public static let wrongType = RedisErrorCode(rawValue: "WRONGTYPE")
    /// A replica that only reads.
    public static let readOnly = RedisErrorCode(rawValue: "READONLY")

    /// Whether the same command may succeed after a pause (failovers, loading, slot migrations, busy scripts, a
    /// primary demoted to a read-only replica mid-failover).
    public var isTransient: Bool {
        [.tryAgain, .clusterDown, .loading, .masterDown, .busy, .readOnly].contains(self)
    }
}
