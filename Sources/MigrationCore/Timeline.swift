import Foundation

/// One moment of a run, as its timeline keeps it: how far one phase got, how fast it went over the span the
/// sample covers, how far a live sync lags, and the retries since the previous sample.
public struct ProgressSample: Sendable, Codable, Equatable {
    /// The phase (`redis`, `verify vectors`, `redis live`).
    public var phase: String
    /// What a record is (`keys`, `rows`).
    public var unit: String
    /// Seconds from the start of the timeline to the end of the span.
    public var at: Double
    /// Seconds the sample covers (the sampling interval, more after samples were merged).
    public var seconds: Double
    /// Records done by the end of the span.
    public var done: Int
    /// Bytes moved by the end of the span.
    public var bytes: Int
    /// Records per second over the span.
    public var recordsPerSecond: Double
    /// Bytes per second over the span.
    public var bytesPerSecond: Double
    /// How far a live sync lags (the oldest change not yet applied) at the end of the span; the most of them
    /// when samples were merged.
    public var lagMs: Int?
    /// Changes a live sync holds that are not yet applied at the end of the span; the most of them when samples
    /// were merged.
    public var pending: Int?
    /// Retries during the span, by cause.
    public var retries: [String: Int]

    /// Creates a sample.
    public init(phase: String, unit: String, at: Double, seconds: Double, done: Int, bytes: Int, recordsPerSecond: Double,
                bytesPerSecond: Double, lagMs: Int? = nil, pending: Int? = nil, retries: [String: Int] = [:]) {
        self.phase = phase
        self.unit = unit
        self.at = at
        self.seconds = seconds
        self.done = done
        self.bytes = bytes
        self.recordsPerSecond = recordsPerSecond
        self.bytesPerSecond = bytesPerSecond
        self.lagMs = lagMs
        self.pending = pending
        self.retries = retries
    }

    /// The two consecutive samples `self` then `later` of one phase as one: counts at the end, rates averaged
    /// over the whole span, the worst lag and pending, retries added.
    func merged(with later: ProgressSample) -> ProgressSample {
        let span = seconds + later.seconds
        func average(_ a: Double, _ b: Double) -> Double { span > 0 ? (a * seconds + b * later.seconds) / span : b }
        func worst(_ a: Int?, _ b: Int?) -> Int? { a.map { max($0, b ?? $0) } ?? b }
        return ProgressSample(phase: phase, unit: unit, at: later.at, seconds: span, done: later.done, bytes: later.bytes,
                              recordsPerSecond: average(recordsPerSecond, later.recordsPerSecond),
                              bytesPerSecond: average(bytesPerSecond, later.bytesPerSecond),
                              lagMs: worst(lagMs, later.lagMs), pending: worst(pending, later.pending),
                              retries: retries.merging(later.retries, uniquingKeysWith: +))
    }
}

/// A run's progress over time, bounded for runs of days: when it holds ``capacity`` samples, each phase's
/// consecutive samples are merged in pairs and the sampling interval doubles, so every sample covers the same
/// span and the series never outgrows its capacity.
public struct ProgressSeries: Sendable, Codable, Equatable {
    /// When the series started.
    public var startedAt: Date
    /// Seconds between two samples of a phase now.
    public var interval: Double
    /// The most samples kept.
    public var capacity: Int
    /// The samples, oldest first.
    public private(set) var samples: [ProgressSample]

    /// An empty series sampled every `interval` seconds, holding at most `capacity` (at least 2) samples.
    public init(startedAt: Date = Date(), interval: Double = 2, capacity: Int = 1000) {
        self.startedAt = startedAt
        self.interval = interval
        self.capacity = max(2, capacity)
        self.samples = []
    }

    /// Adds `sample`, merging older ones when the series is full.
    public mutating func append(_ sample: ProgressSample) {
        samples.append(sample)
        if samples.count > capacity { halve() }
    }

    /// The phases sampled, in the order they first appear.
    public var phases: [String] {
        var seen = Set<String>()
        return samples.map(\.phase).filter { seen.insert($0).inserted }
    }

    /// Every retry over the run, by cause.
    public var retries: [String: Int] {
        samples.reduce(into: [:]) { $0.merge($1.retries, uniquingKeysWith: +) }
    }

    private mutating func halve() {
        var merged: [ProgressSample] = []
        var open: [String: Int] = [:]  // phase → index in `merged` of a sample waiting for its pair
        for sample in samples {
            if let index = open.removeValue(forKey: sample.phase) {
                merged[index] = merged[index].merged(with: sample)
            } else {
                open[sample.phase] = merged.count
                merged.append(sample)
            }
        }
        // A merged sample ends where its later half ended.
        samples = merged.sorted { $0.at < $1.at }
        interval *= 2
    }
}

/// What a sampler reads from the work it follows at each tick.
public struct ProgressReading: Sendable {
    /// Records done so far.
    public var done: Int
    /// Bytes moved so far.
    public var bytes: Int
    /// How far a live sync lags, if this is one.
    public var lagMs: Int?
    /// Changes a live sync has not applied yet, if this is one.
    public var pending: Int?

    /// Creates a reading.
    public init(done: Int, bytes: Int = 0, lagMs: Int? = nil, pending: Int? = nil) {
        self.done = done
        self.bytes = bytes
        self.lagMs = lagMs
        self.pending = pending
    }
}

/// Records a run's ``ProgressSeries`` for its report. The command sets one for the task that runs the work
/// (``recording(interval:capacity:_:)``); every ``ProgressReporter`` and live sync started inside samples
/// itself into it (``follow(phase:unit:_:)``), and retries anywhere inside are counted by cause
/// (``noteRetry(_:)``). Without one, nothing is sampled.
public actor ProgressTimeline {
    /// The timeline of the running task, if its command keeps one.
    @TaskLocal public static var current: ProgressTimeline?

    private var series: ProgressSeries
    private let origin = ContinuousClock.now
    private var retries: [String: Int] = [:]

    /// An empty timeline sampled every `interval` seconds, holding at most `capacity` samples.
    public init(interval: Double = 2, capacity: Int = 1000) {
        series = ProgressSeries(interval: interval, capacity: capacity)
    }

    /// Runs `body` with a new timeline as ``current`` and returns its result with the series it recorded.
    public static func recording<T>(interval: Double = 2, capacity: Int = 1000,
                                    _ body: () async throws -> T) async rethrows -> (T, ProgressSeries) {
        let timeline = ProgressTimeline(interval: interval, capacity: capacity)
        let result = try await $current.withValue(timeline) { try await body() }
        return (result, await timeline.series)
    }

    /// Starts sampling `probe` into the current timeline every interval, if there is one; `probe` returning
    /// `nil` ends the sampling. The sampler's ``ProgressSampler/finish()`` takes a last sample.
    public static func follow(phase: String, unit: String,
                              _ probe: @escaping @Sendable () async -> ProgressReading?) -> ProgressSampler? {
        current.map { ProgressSampler(timeline: $0, phase: phase, unit: unit, probe: probe) }
    }

    /// Counts a retry of `error` in the current timeline, if there is one.
    public static func noteRetry(_ error: any Error) async {
        await current?.count(retryCause(error))
    }

    /// `TransportError.connectionLost`: the error's type and, for an enum, its case; never its message, which
    /// may name records.
    static func retryCause(_ error: any Error) -> String {
        let type = String(describing: Swift.type(of: error))
        let mirror = Mirror(reflecting: error)
        guard mirror.displayStyle == .enum, let label = mirror.children.first?.label else { return type }
        return "\(type).\(label)"
    }

    private func count(_ cause: String) {
        retries[cause, default: 0] += 1
    }

    /// Seconds between samples now.
    var interval: Double { series.interval }

    /// Seconds since the timeline started.
    var now: Double { (ContinuousClock.now - origin).inSeconds }

    /// Adds a sample of `phase` (the retries since the last sample go with it).
    func record(_ sample: ProgressSample) {
        var sample = sample
        sample.retries = retries
        retries = [:]
        series.append(sample)
    }
}

/// Samples one phase into a ``ProgressTimeline`` until finished.
public final class ProgressSampler: Sendable {
    private let task: Task<Void, Never>
    private let last: LastReading

    /// The reading before, from which a sample's rates are computed.
    private actor LastReading {
        var at: Double = 0
        var reading = ProgressReading(done: 0)
        var started = false

        /// The sample from the previous reading to `reading` at `now`; the first reading only sets the baseline.
        func sample(_ reading: ProgressReading, at now: Double, phase: String, unit: String, force: Bool) -> ProgressSample? {
            defer { (at, self.reading, started) = (now, reading, true) }
            guard started else {
                return force ? ProgressSample(phase: phase, unit: unit, at: now, seconds: 0, done: reading.done, bytes: reading.bytes,
                                              recordsPerSecond: 0, bytesPerSecond: 0, lagMs: reading.lagMs, pending: reading.pending) : nil
            }
            let span = now - at
            guard span > 0 else { return nil }
            return ProgressSample(phase: phase, unit: unit, at: now, seconds: span, done: reading.done, bytes: reading.bytes,
                                  recordsPerSecond: Double(reading.done - self.reading.done) / span,
                                  bytesPerSecond: Double(reading.bytes - self.reading.bytes) / span,
                                  lagMs: reading.lagMs, pending: reading.pending)
        }
    }

    private let timeline: ProgressTimeline
    private let phase: String
    private let unit: String
    private let probe: @Sendable () async -> ProgressReading?

    init(timeline: ProgressTimeline, phase: String, unit: String, probe: @escaping @Sendable () async -> ProgressReading?) {
        let last = LastReading()
        self.last = last
        self.timeline = timeline
        self.phase = phase
        self.unit = unit
        self.probe = probe
        task = Task {
            // The baseline: what was done before sampling began (a resumed run's earlier work) is no throughput.
            if let reading = await probe() { _ = await last.sample(reading, at: await timeline.now, phase: phase, unit: unit, force: false) }
            while (try? await Task.sleep(for: .seconds(await timeline.interval))) != nil {
                guard let reading = await probe() else { return }
                if let sample = await last.sample(reading, at: await timeline.now, phase: phase, unit: unit, force: false) {
                    await timeline.record(sample)
                }
            }
        }
    }

    deinit {
        task.cancel()
    }

    /// Stops sampling and takes a last sample, so that even a phase shorter than one interval has a point.
    public func finish() async {
        task.cancel()
        _ = await task.value
        guard let reading = await probe(),
              let sample = await last.sample(reading, at: await timeline.now, phase: phase, unit: unit, force: true) else { return }
        await timeline.record(sample)
    }
}
