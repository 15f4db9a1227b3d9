import Foundation
import MigrationCore
#if canImport(Glibc)
import Glibc
#endif

/// Runs a copy or a verification so that SIGINT or SIGTERM stops it within two seconds: the signal cancels the
/// run, whose pipeline saves its checkpoint at once and ends with a `failed` report (continue with `--resume`).
/// A run that has not returned two seconds after the signal (a C call blocked on a silent link) exits with
/// status 2 anyway: its checkpoint on disk only ever names batches the target acknowledged, and writes are
/// idempotent, so `--resume` loses and repeats nothing. A second signal exits at once.
enum Interruption {
    /// How long a cancelled run may take to return.
    static let grace: Duration = .seconds(2)

    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        let signals = SignalHandlers(stopping: "stopping: saving the checkpoint (signal again to quit at once)") {
            task.cancel()
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: grace.inSeconds)
                FileHandle.standardError.write(Data("interrupted: stopped after \(Format.duration(grace.inSeconds)); the checkpoint holds every acknowledged batch: continue with --resume\n".utf8))
                exit(MigrationReport.Outcome.failed.exitCode)
            }
        }
        defer { signals.cancel() }
        return try await task.value
    }
}

/// SIGINT and SIGTERM handlers: the first signal says `stopping` and calls `onFirst`, a second says `quitting`
/// and exits with status 130 at once.
final class SignalHandlers: @unchecked Sendable {
    // Touched only on `queue`.
    private var received = 0
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "migrate.signals")

    /// Starts handling SIGINT and SIGTERM until ``cancel()``.
    init(stopping: String, quitting: String? = nil, onFirst: @escaping @Sendable () -> Void) {
        queue.sync {
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler { [unowned self] in
                    received += 1
                    if received > 1 {
                        if let quitting { FileHandle.standardError.write(Data("\n\(quitting)\n".utf8)) }
                        exit(130)
                    }
                    FileHandle.standardError.write(Data("\n\(stopping)\n".utf8))
                    onFirst()
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// Asks a live sync to finish cleanly on the first signal.
    convenience init(stop: StopRequest) {
        self.init(stopping: "stopping: applying pending changes and reconciling a last time (signal again to quit at once)",
                  quitting: "stopped at once: the target may lag the source, and notify-keyspace-events was not restored") {
            Task { await stop.request() }
        }
    }

    /// Stops handling the signals (their default action applies again).
    func cancel() {
        queue.sync {
            for source in sources { source.cancel() }
            sources = []
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
    }
}
