/// Asks a running live sync (`migrate redis --live`, `migrate vectors --live`) to stop: it stops following the
/// source, applies what is pending, checks a last time and returns its report.
public actor StopRequest {
    /// Whether a stop was asked for.
    public private(set) var isRequested = false

    /// A request nobody has made yet.
    public init() {}

    /// Asks the sync to stop.
    public func request() {
        isRequested = true
    }

    /// Sleeps for `duration`, waking early (within 100 ms) once a stop is requested.
    public func sleep(for duration: Duration) async throws {
        let deadline = ContinuousClock.now + duration
        while !isRequested && ContinuousClock.now < deadline {
            try await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
    }
}
