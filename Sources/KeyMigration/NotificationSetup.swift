import Logging
import RESP
import Transport

/// Why a live sync cannot follow the source's changes.
public enum LiveSyncError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source does not publish every change, and `--enable-notifications` was not given.
    case notificationsDisabled(Endpoint, current: String, missing: String)
    /// The source refused to read or change its configuration (managed services such as ElastiCache).
    case configurationRefused(Endpoint, command: String, serverMessage: String)

    public var description: String {
        switch self {
        case .notificationsDisabled(let endpoint, let current, let missing):
            return """
                \(endpoint) does not publish keyspace notifications for every change (notify-keyspace-events is \
                '\(current)', missing '\(missing)'), so a live sync would miss writes. Pass --enable-notifications to set \
                it for the run (and restore it afterwards), or set notify-keyspace-events to KEA yourself; on ElastiCache, \
                set it in the cluster's parameter group.
                """
        case .configurationRefused(let endpoint, let command, let message):
            return """
                \(endpoint) refused \(command): \(message). Managed services (ElastiCache, MemoryDB) do not allow CONFIG: \
                set notify-keyspace-events to KEA in the cluster's parameter group and run without --enable-notifications.
                """
        }
    }
}

/// Checks that each source primary publishes every change, turns notifications on when asked, and puts back
/// the values it changed.
struct NotificationSetup: Sendable {
    /// The channel family to subscribe to on each primary.
    private(set) var channels: [Endpoint: KeyspaceChannel] = [:]
    /// The value of `notify-keyspace-events` before the run, on each primary whose value was changed.
    private(set) var previous: [Endpoint: String] = [:]

    /// Reads `notify-keyspace-events` on every primary of `source`; with `enable`, adds the missing flags by
    /// CONFIG SET, else fails naming them. A source that refuses CONFIG GET is assumed to publish key events
    /// (set in a parameter group), with a warning, unless `enable` asks to change it.
    static func prepare(source: RedisClient, enable: Bool, logger: Logger) async throws -> NotificationSetup {
        var setup = NotificationSetup()
        do {
            for endpoint in source.primaries {
                try await setup.prepare(endpoint, source: source, enable: enable, logger: logger)
            }
        } catch {
            await setup.restore(source: source, logger: logger)
            throw error
        }
        return setup
    }

    /// Checks (and with `enable`, turns on) notifications on one primary, such as a replica promoted during
    /// the run; ``restore(source:logger:)`` puts its value back too.
    mutating func prepare(_ endpoint: Endpoint, source: RedisClient, enable: Bool, logger: Logger) async throws {
        let connection = try await source.openConnection(to: endpoint, database: 0)
        do {
            try await prepare(endpoint, over: connection, enable: enable, logger: logger)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    private mutating func prepare(_ endpoint: Endpoint, over connection: RedisConnection, enable: Bool, logger: Logger) async throws {
        let reply = try await connection.send(RESPCommand("CONFIG", "GET", "notify-keyspace-events"))
        if let message = reply.errorMessage {
            if enable { throw LiveSyncError.configurationRefused(endpoint, command: "CONFIG GET", serverMessage: message) }
            logger.warning("""
                \(endpoint) refused CONFIG GET (\(message)); assuming notify-keyspace-events is KEA (parameter group). \
                If it is not, only reconcile passes will catch changes.
                """)
            channels[endpoint] = .keyevent
            return
        }
        let current = reply.array.flatMap { $0.count == 2 ? $0[1].string : nil } ?? ""
        let flags = KeyspaceEventFlags(current)
        if flags.missing.isEmpty, let channel = flags.channel {
            channels[endpoint] = channel
            return
        }
        guard enable else { throw LiveSyncError.notificationsDisabled(endpoint, current: current, missing: flags.missing) }
        let wanted = flags.enablingChanges.description
        let set = try await connection.send(RESPCommand("CONFIG", "SET", "notify-keyspace-events", wanted))
        if let message = set.errorMessage {
            throw LiveSyncError.configurationRefused(endpoint, command: "CONFIG SET notify-keyspace-events \(wanted)", serverMessage: message)
        }
        previous[endpoint] = current
        channels[endpoint] = .keyevent
        logger.notice("\(endpoint): notify-keyspace-events set to '\(wanted)' for the run (was '\(current)')")
    }

    /// Puts back every value `prepare` changed; failures are logged, not thrown (the run's outcome stands).
    func restore(source: RedisClient, logger: Logger) async {
        for (endpoint, value) in previous.sorted(by: { $0.key < $1.key }) {
            do {
                let connection = try await source.openConnection(to: endpoint, database: 0)
                let reply = try await connection.send(RESPCommand("CONFIG", "SET", "notify-keyspace-events", value))
                await connection.close()
                if let message = reply.errorMessage {
                    logger.error("\(endpoint) refused to restore notify-keyspace-events to '\(value)': \(message)")
                }
            } catch {
                logger.error("could not restore notify-keyspace-events to '\(value)' on \(endpoint): \(error)")
            }
        }
    }
}
