import Dispatch

/// A serial queue for blocking work (socket reads, `fsync`, C libraries that block), so that such work
/// never runs on Swift's cooperative thread pool.
///
/// Each owner of a blocking resource (a connection, a checkpoint file) keeps its own queue; work submitted to
/// one queue runs in submission order, one item at a time.
public struct BlockingQueue: Sendable {
    private let queue: DispatchQueue

    /// Creates a serial queue whose threads carry `label` in debuggers and crash reports.
    public init(label: String) {
        self.queue = DispatchQueue(label: label)
    }

    /// Runs `body` on the queue and resumes the caller with its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// Runs a non-throwing `body` on the queue and resumes the caller with its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: body())
            }
        }
    }
}
