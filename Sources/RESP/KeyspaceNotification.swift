/// Which of the two keyspace-notification channel families a server publishes (`notify-keyspace-events` K/E).
public enum KeyspaceChannel: String, Sendable, CaseIterable {
    /// `__keyspace@<db>__:<key>`, the event as the message.
    case keyspace
    /// `__keyevent@<db>__:<event>`, the key as the message.
    case keyevent

    /// The PSUBSCRIBE pattern for every notification of `database`.
    public func pattern(database: Int) -> String {
        "__\(rawValue)@\(database)__:*"
    }
}

/// One keyspace notification: a key of a database changed (or expired, or was evicted).
public struct KeyspaceNotification: Sendable, Hashable {
    /// The database.
    public var database: Int
    /// The key.
    public var key: [UInt8]
    /// The event (`set`, `del`, `expired`, `hset`, …).
    public var event: String

    /// Creates a notification.
    public init(database: Int, key: [UInt8], event: String) {
        self.database = database
        self.key = key
        self.event = event
    }

    /// Reads a message of either channel family; `nil` when the channel is not a keyspace notification's.
    public init?(_ message: PublishedMessage) {
        let channel = message.channel
        for family in KeyspaceChannel.allCases {
            let prefix = Array("__\(family.rawValue)@".utf8)
            guard channel.starts(with: prefix) else { continue }
            let rest = channel[prefix.count...]
            guard let end = rest.firstRange(of: Array("__:".utf8)),
                  let database = Int(String(decoding: rest[..<end.lowerBound], as: UTF8.self)), database >= 0 else { return nil }
            let name = Array(rest[end.upperBound...])
            switch family {
            case .keyspace: self.init(database: database, key: name, event: String(decoding: message.payload, as: UTF8.self))
            case .keyevent: self.init(database: database, key: message.payload, event: String(decoding: name, as: UTF8.self))
            }
            return
        }
        return nil
    }
}

/// The value of `notify-keyspace-events`, as the set of its flag letters (`A` expanded).
public struct KeyspaceEventFlags: Sendable, Hashable, CustomStringConvertible {
    /// The event classes that together report every change of a key's value, type or expiry:
    /// generic, string, list, set, hash, sorted set, expired, evicted and stream events.
    public static let changeClasses: [Character] = ["g", "$", "l", "s", "h", "z", "x", "e", "t"]
    private static let aliasA: [Character] = ["g", "$", "l", "s", "h", "z", "x", "e", "t", "d"]
    private static let order: [Character] = ["K", "E", "g", "$", "l", "s", "h", "z", "x", "e", "t", "d", "n", "m"]

    /// The flag letters.
    public private(set) var letters: Set<Character>

    /// Parses a value such as `AKE`, `Ex` or the empty string.
    public init(_ value: String) {
        letters = []
        for letter in value {
            if letter == "A" { letters.formUnion(Self.aliasA) } else { letters.insert(letter) }
        }
    }

    /// The channel family to subscribe to (key events preferred), or `nil` when neither is published.
    public var channel: KeyspaceChannel? {
        letters.contains("E") ? .keyevent : letters.contains("K") ? .keyspace : nil
    }

    /// The flags that must be added so that every change is published, as text; empty when none.
    public var missing: String {
        var needed = channel == nil ? "E" : ""
        needed += String(Self.changeClasses.filter { !letters.contains($0) })
        return needed
    }

    /// These flags plus those that publish every change on key-event channels.
    public var enablingChanges: KeyspaceEventFlags {
        var flags = self
        flags.letters.insert("E")
        flags.letters.formUnion(Self.changeClasses)
        return flags
    }

    /// The value for `CONFIG SET notify-keyspace-events`, letters in a fixed order.
    public var description: String {
        String(Self.order.filter(letters.contains))
    }
}
