/// An error that knows whether trying again can fix it: a lost connection, a failover, a busy or restarting
/// server, a throttled request. Every wire module's error type conforms, so all readers and writers share
/// one rule for what is retried (``isTransient(_:)``).
public protocol TransientFailure: Error {
    /// Whether a retry, after a pause and on a new connection, can succeed.
    var isTransient: Bool { get }
}

/// The one rule for what is retried: an error is transient when it says so; any other error is final.
@Sendable public func isTransient(_ error: any Error) -> Bool {
    (error as? any TransientFailure)?.isTransient ?? false
}
