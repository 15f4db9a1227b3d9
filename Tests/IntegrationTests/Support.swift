import Foundation
import Logging
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP
import Transport

/// The servers that `scripts/servers.sh start` runs, as its `.run/servers.env` describes them.
enum Servers {
    static let environment = ProcessInfo.processInfo.environment

    /// Integration suites run when `MIGRATE_IT=1` (`.ci/run` and `scripts/test.sh` set it).
    static var enabled: Bool { environment["MIGRATE_IT"] == "1" }

    static func value(_ name: String) -> String {
        guard let value = environment[name] else {
            fatalError("\(name) is not set: run `scripts/servers.sh start` and source .run/servers.env")
        }
        return value
    }

    static var source: String { value("REDIS_SOURCE_URL") }
    static var target: String { value("REDIS_TARGET_URL") }
    static var cluster: String { value("REDIS_CLUSTER_URL") }
    static var tls: String { value("REDIS_TLS_URL") }
    static var tlsCA: String { value("REDIS_TLS_CA") }
    static var otherCA: String { value("REDIS_TLS_OTHER_CA") }
    static var tlsUser: String { value("REDIS_TLS_USER") }
    static var tlsPassword: String { value("REDIS_TLS_PASSWORD") }
    static var auth: String { value("REDIS_AUTH_URL") }
    static var authPassword: String { value("REDIS_AUTH_PASSWORD") }
    static var valkey8: String { value("VALKEY8_URL") }
    static var valkey9: String { value("VALKEY9_URL") }

    static func endpoint(_ url: String) -> Endpoint {
        try! ServiceURI(url, defaultPorts: ["redis": 6379, "rediss": 6379]).endpoint
    }

    /// A deployment for the library API, with optional TLS and credentials.
    static func deployment(_ url: String, user: String? = nil, password: String? = nil, ca: String? = nil) -> RedisDeployment {
        let uri = try! ServiceURI(url, defaultPorts: ["redis": 6379, "rediss": 6379])
        let tls = uri.scheme == "rediss" ? TLSConfiguration(caFile: ca) : nil
        let configuration = RedisConnectionConfiguration(endpoint: uri.endpoint, user: user, password: password.map(Secret.init),
                                                         options: ConnectionOptions(tls: tls))
        return RedisDeployment(connection: configuration, mode: .automatic, displayName: uri.description)
    }

    /// A connected client for fixtures and assertions.
    static func client(_ url: String, database: Int = 0, user: String? = nil, password: String? = nil, ca: String? = nil) async throws -> RedisClient {
        try await deployment(url, user: user, password: password, ca: ca).connect(database: database)
    }
}

extension RedisClient {
    /// Runs a command on the node that owns `key` and fails the test on an error reply.
    @discardableResult
    func must(_ arguments: any RESPArgumentConvertible..., key: [UInt8]? = nil) async throws -> RESPValue {
        let command = RESPCommand(arguments: arguments.map(\.respArgument))
        let routing = key ?? (command.arguments.count > 1 ? command.arguments[1] : nil)
        let reply = try await send(command, key: routing)
        if let message = reply.errorMessage {
            Issue.record("\(command.name) failed: \(message)")
        }
        return reply
    }

    /// FLUSHALL on every primary.
    func flushAll() async throws {
        for (_, reply) in try await sendToPrimaries(RESPCommand("FLUSHALL")) {
            #expect(reply.errorMessage == nil)
        }
    }

    /// The number of keys in the current database, summed over primaries.
    func keyCount() async throws -> Int {
        try await sendToPrimaries(RESPCommand("DBSIZE")).reduce(0) { $0 + Int($1.1.integer ?? 0) }
    }
}

extension RESPArgumentConvertible {
    var bytes: [UInt8] { respArgument }
}

/// Settings for library-level runs: silent progress, small batches so several batches are in flight.
func settings(source: RedisDeployment, target: RedisDeployment, batch: Int = 100, concurrency: Int = 3) -> RedisRunSettings {
    var logger = Logger(label: "integration")
    logger.logLevel = .error
    return RedisRunSettings(source: source, target: target, databases: nil, batchSize: batch, concurrency: concurrency,
                            progressStyle: .silent, logger: logger)
}

/// A fresh checkpoint directory.
func checkpointDirectory() -> String {
    let path = NSTemporaryDirectory() + "migrate-it-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Copies `source` to `target` and asserts success.
@discardableResult
func migrate(_ source: RedisDeployment, _ target: RedisDeployment, options: RedisCopyOptions = .init(), batch: Int = 100) async throws -> MigrationReport {
    let migration = RedisMigration(settings: settings(source: source, target: target, batch: batch), options: options,
                                   rateLimit: nil, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh)
    let report = try await migration.run()
    #expect(report.outcome == .succeeded, "\(report.rendered())")
    return report
}

/// Verifies `source` against `target`.
func verify(_ source: RedisDeployment, _ target: RedisDeployment, options: RedisVerifyOptions = .init()) async throws -> MigrationReport {
    try await RedisVerification(settings: settings(source: source, target: target), options: options).run()
}

/// Runs the `migrate` executable built next to the test bundle.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: String { stdout + stderr }
    }

    static var executable: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // `swift test` may run the bundle from inside `…xctest/…` on some platforms.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("migrate").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("migrate").path
    }

    /// Starts the CLI with `arguments` and extra environment; the caller waits or kills. `launcher` (a program and
    /// its arguments, e.g. `setpriv` to drop privileges) starts the CLI instead of running it directly.
    static func start(_ arguments: [String], environment: [String: String] = [:], launcher: [String] = []) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        let command = launcher + [executable] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// Starts the CLI with standard output and error going to `log`.out and `log`.err: nothing to drain, so the
    /// caller's tasks stay free to time a kill or to run other processes alongside.
    static func start(_ arguments: [String], environment: [String: String] = [:], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for suffix in [".out", ".err"] {
            _ = FileManager.default.createFile(atPath: log + suffix, contents: nil)
        }
        process.standardOutput = FileHandle(forWritingAtPath: log + ".out")
        process.standardError = FileHandle(forWritingAtPath: log + ".err")
        try process.run()
        return process
    }

    /// Runs several CLI processes at once (the shards of a run) and waits for every one.
    static func runTogether(_ runs: [[String]], environment: [String: String] = [:]) async throws -> [Result] {
        let directory = checkpointDirectory()
        let processes = try runs.indices.map { try start(runs[$0], environment: environment, log: "\(directory)/run\($0)") }
        while processes.contains(where: \.isRunning) {
            try await Task.sleep(for: .milliseconds(20))
        }
        return processes.indices.map { index in
            func text(_ suffix: String) -> String {
                String(decoding: FileManager.default.contents(atPath: "\(directory)/run\(index)\(suffix)") ?? Data(), as: UTF8.self)
            }
            return Result(status: processes[index].terminationStatus, stdout: text(".out"), stderr: text(".err"))
        }
    }

    /// Runs the CLI to completion.
    static func run(_ arguments: [String], environment: [String: String] = [:], launcher: [String] = []) async throws -> Result {
        let (process, out, err) = try start(arguments, environment: environment, launcher: launcher)
        // Drain both pipes while the process runs so a full pipe cannot block it.
        async let stdout = Task.detached { out.fileHandleForReading.readDataToEndOfFile() }.value
        async let stderr = Task.detached { err.fileHandleForReading.readDataToEndOfFile() }.value
        let (outData, errData) = await (stdout, stderr)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Waits until a checkpoint in `directory` records progress beyond `after` (the sum of its counters) and returns it.
func waitForProgress(checkpointDirectory directory: String, after: Int = 0, timeout: Duration = .seconds(30)) async throws -> Int {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let progress = checkpointProgress(directory), progress > after { return progress }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw CheckpointError.unreadable(path: directory, reason: "no progress within \(timeout)")
}

/// The progress of the unfinished checkpoint in `directory` (the sum of its counters), if there is one.
func checkpointProgress(_ directory: String) -> Int? {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    for file in files where file.hasSuffix(".json") && !file.hasSuffix(".tmp") {
        guard let data = FileManager.default.contents(atPath: directory + "/" + file),
              let checkpoint = try? JSONDecoder.reports.decode(Checkpoint.self, from: data), !checkpoint.finished else { continue }
        return checkpoint.tally.counts.values.reduce(0, +)
    }
    return nil
}

/// Kills `process` with SIGKILL as soon as a checkpoint in `directory` records more progress than `after`
/// (the sum of every partition's counters); returns the progress seen, or `nil` when the process ended first.
func killAfterProgress(_ process: Process, checkpointDirectory directory: String, after: Int = 0, timeout: Duration = .seconds(30)) async throws -> Int? {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline {
        if let progress = checkpointProgress(directory), progress > after {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return progress
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    process.waitUntilExit()
    return nil
}
