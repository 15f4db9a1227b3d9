/// Retries an operation that failed for a transient reason, with exponential backoff and jitter.
public struct RetryPolicy: Sendable {
    /// How many times an operation runs at most (the first try included).
    public var maxAttempts: Int
    /// The pause after the first failure; doubled after each further one.
    public var initialDelay: Duration
    /// The longest pause.
    public var maxDelay: Duration

    /// Creates a policy; the defaults ride out about a minute of outage.
    public init(maxAttempts: Int = 8, initialDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(15)) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// The pause before attempt `attempt + 1` (after `attempt` failures), with up to 20% random jitter.
    public func delay(afterAttempt attempt: Int) -> Duration {
        let base = min(initialDelay * (1 << min(attempt - 1, 20)), maxDelay)
        return base * Double.random(in: 0.8...1.0)
    }

    /// Runs `operation` until it succeeds, fails with an error `isTransient` rejects, or runs out of attempts.
    /// `onRetry` hears about each failure that will be retried; the run's ``ProgressTimeline`` counts it by cause.
    public func run<T>(
        isTransient: (any Error) -> Bool,
        onRetry: (_ attempt: Int, _ error: any Error) async -> Void = { _, _ in },
        _ operation: () async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch {
                guard attempt < maxAttempts, isTransient(error), !Task.isCancelled else { throw error }
                await ProgressTimeline.noteRetry(error)
                await onRetry(attempt, error)
                try await Task.sleep(for: delay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }
}

/// Limits a rate (items per second) shared by every task of a run: a token bucket that starts empty and holds
/// at most one second's worth.
public actor RateLimiter {
    private let perSecond: Double
    private var available: Double
    private var last: ContinuousClock.Instant

    /// A limiter for `perSecond` items per second.
    public init(perSecond: Int) {
        precondition(perSecond > 0, "a rate limit is positive")
        self.perSecond = Double(perSecond)
        self.available = 0
        self.last = .now
    }

    /// Waits until `count` items may pass.
    public func acquire(_ count: Int) async throws {
        refill()
        available -= Double(count)
        if available < 0 {
            let wait = -available / perSecond
            try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
        }
    }

    private func refill() {
        let now = ContinuousClock.now
        let elapsed = now - last
        last = now
        available = min(perSecond, available + elapsed.inSeconds * perSecond)
    }
}
