import BlockingIO
import Foundation

/// How a run shows its progress.
public enum ProgressStyle: Sendable {
    /// A line redrawn in place on standard error (a terminal).
    case terminal
    /// One JSON object a line on standard output (`--json`), for machines.
    case jsonLines
    /// A plain line on standard error every few seconds (logs, CI).
    case periodicLines
    /// Nothing.
    case silent

    /// `.jsonLines` when asked for, otherwise `.terminal` when standard error is a terminal, else `.periodicLines`.
    public static func automatic(json: Bool) -> ProgressStyle {
        if json { return .jsonLines }
        return isatty(STDERR_FILENO) == 1 ? .terminal : .periodicLines
    }

    /// How often progress is shown; `nil` for `.silent`.
    public var refreshInterval: Duration? {
        switch self {
        case .terminal: return .milliseconds(250)
        case .jsonLines: return .seconds(1)
        case .periodicLines: return .seconds(10)
        case .silent: return nil
        }
    }
}

/// Writes status in a ``ProgressStyle``: a line redrawn on a terminal, plain lines, or JSON lines, off the
/// cooperative pool.
public struct ProgressPrinter: Sendable {
    /// The style written.
    public let style: ProgressStyle
    private let output = BlockingQueue(label: "migrate.progress")

    /// A printer for `style`.
    public init(style: ProgressStyle) {
        self.style = style
    }

    /// Shows `line` (terminal and plain styles) or `{"event": event, …payload}` (JSON lines).
    public func show<Payload: Encodable>(line: String, event: String, _ payload: Payload) async {
        switch style {
        case .terminal:
            await write("\r\u{1B}[2K" + line, toStandardError: true)
        case .periodicLines:
            await write(line + "\n", toStandardError: true)
        case .jsonLines:
            await write(JSONLines.encode(event: event, payload) + "\n", toStandardError: false)
        case .silent:
            break
        }
    }

    /// Ends a line redrawn on a terminal, so that what follows starts on a line of its own.
    public func endLine() async {
        if style == .terminal {
            await write("\n", toStandardError: true)
        }
    }

    private func write(_ text: String, toStandardError: Bool) async {
        await output.run {
            let handle = toStandardError ? FileHandle.standardError : FileHandle.standardOutput
            handle.write(Data(text.utf8))
        }
    }
}

/// A snapshot of a run's progress.
public struct ProgressSnapshot: Sendable, Codable, Equatable {
    /// The phase (`redis`, `verify redis`, ...).
    public var phase: String
    /// Units done (keys, vectors, records).
    public var done: Int
    /// The expected total, when known.
    public var total: Int?
    /// The unit's name, plural (`keys`).
    public var unit: String
    /// Bytes moved.
    public var bytes: Int
    /// Seconds since the phase started.
    public var elapsedSeconds: Double
    /// Units per second over the last interval (a moving average).
    public var rate: Double
    /// Seconds left at the current rate, when the total is known.
    public var etaSeconds: Double?
}

/// Counts work as it completes and shows it in the chosen ``ProgressStyle``.
public actor ProgressReporter {
    private let phase: String
    private let unit: String
    private let style: ProgressStyle
    private var total: Int?
    private var done = 0
    private var bytes = 0
    private let started = ContinuousClock.now
    private var lastTick = ContinuousClock.now
    private var lastDone = 0
    private var smoothedRate: Double = 0
    private var ticker: Task<Void, Never>?
    private var sampler: ProgressSampler?
    private let printer: ProgressPrinter

    /// A reporter for `phase`, counting `unit`s out of `total` (when known).
    public init(phase: String, unit: String, total: Int?, style: ProgressStyle) {
        self.phase = phase
        self.unit = unit
        self.total = total
        self.style = style
        self.printer = ProgressPrinter(style: style)
    }

    /// Starts showing progress periodically, and sampling it into the run's ``ProgressTimeline`` if it keeps one.
    public func start() {
        sampler = ProgressTimeline.follow(phase: phase, unit: unit) { [weak self] in await self?.reading() }
        guard let interval = style.refreshInterval else { return }
        ticker = Task { [weak self] in
            while (try? await Task.sleep(for: interval)) != nil {
                await self?.show()
            }
        }
    }

    /// Records `units` more done and `bytes` more moved.
    public func advance(_ units: Int, bytes: Int = 0) {
        done += units
        self.bytes += bytes
    }

    /// Sets the counts outright (after resuming from a checkpoint).
    public func restore(done: Int, bytes: Int) {
        self.done = done
        self.bytes = bytes
        self.lastDone = done
    }

    /// Updates the expected total.
    public func setTotal(_ total: Int?) {
        self.total = total
    }

    /// Stops the ticker and shows the final state.
    public func finish() async {
        ticker?.cancel()
        ticker = nil
        await sampler?.finish()
        sampler = nil
        guard style != .silent else { return }
        await show()
        await printer.endLine()
    }

    private func reading() -> ProgressReading {
        ProgressReading(done: done, bytes: bytes)
    }

    /// The current state.
    public func snapshot() -> ProgressSnapshot {
        let elapsed = (ContinuousClock.now - started).inSeconds
        let rate = smoothedRate > 0 ? smoothedRate : (elapsed > 0 ? Double(done) / elapsed : 0)
        var eta: Double?
        if let total, rate > 0 { eta = max(0, Double(total - done) / rate) }
        return ProgressSnapshot(phase: phase, done: done, total: total, unit: unit, bytes: bytes,
                                elapsedSeconds: elapsed, rate: rate, etaSeconds: eta)
    }

    private func show() async {
        let now = ContinuousClock.now
        let interval = (now - lastTick).inSeconds
        if interval > 0 {
            let instant = Double(done - lastDone) / interval
            smoothedRate = smoothedRate == 0 ? instant : 0.7 * smoothedRate + 0.3 * instant
        }
        lastTick = now
        lastDone = done
        let state = snapshot()
        await printer.show(line: Self.line(state), event: "progress", state)
    }

    /// `redis  412,000 / 1,000,000 keys  41.2%  85,300 keys/s  3.1 MB  ETA 0:07`.
    static func line(_ state: ProgressSnapshot) -> String {
        var parts = ["\(state.phase)"]
        if let total = state.total, total > 0 {
            let percent = min(100, Double(state.done) * 100 / Double(total))
            parts.append("\(Format.count(state.done)) / \(Format.count(total)) \(state.unit)")
            parts.append(String(format: "%.1f%%", percent))
        } else {
            parts.append("\(Format.count(state.done)) \(state.unit)")
        }
        parts.append("\(Format.count(Int(state.rate.rounded()))) \(state.unit)/s")
        if state.bytes > 0 { parts.append(Format.bytes(state.bytes)) }
        if let eta = state.etaSeconds { parts.append("ETA \(Format.duration(eta))") }
        parts.append("elapsed \(Format.duration(state.elapsedSeconds))")
        return parts.joined(separator: "  ")
    }
}

/// Human formats for counts, sizes and durations.
public enum Format {
    /// `1234567` as `1,234,567`.
    public static func count(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return value < 0 ? "-" + out : out
    }

    /// Bytes as `12.3 MB`.
    public static func bytes(_ value: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1000 && unit < units.count - 1 {
            amount /= 1000
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: "%.1f %@", amount, units[unit])
    }

    /// Seconds as `1:02:03` or `2:03`.
    public static func duration(_ seconds: Double) -> String {
        // A rate that decayed toward zero (a source busy for minutes before its first record) gives ETAs past Int.
        guard seconds.isFinite, seconds < 1e12 else { return "?" }
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }
}

/// One-line JSON events (`{"event":"progress",...}`) for `--json`.
public enum JSONLines {
    /// `payload`'s fields with `"event": event` added, on one line.
    public static func encode<T: Encodable>(event: String, _ payload: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        guard let body = try? encoder.encode(payload), var text = String(data: body, encoding: .utf8) else {
            return "{\"event\":\"\(event)\"}"
        }
        if text.hasPrefix("{") && text.count > 2 {
            text.insert(contentsOf: "\"event\":\"\(event)\",", at: text.index(after: text.startIndex))
        } else {
            text = "{\"event\":\"\(event)\"}"
        }
        return text
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
