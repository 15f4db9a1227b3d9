import ArgumentParser
import Foundation
import KeyMigration
import Logging
import MigrationCore
import RESP
import ReportHTML
import Transport

/// Connection options for one side (source or target) of a Redis migration.
struct RedisSideOptions {
    var uri: String?
    var passwordFile: String?
    var caFile: String?
    var certFile: String?
    var keyFile: String?
    var serverName: String?
    var insecureSkipVerify: Bool
    var mode: RedisTopologyMode
    var timeouts: TimeoutOptions

    /// Refuses, before any connection, a file option naming a file that is missing, unreadable or empty.
    func checkFiles(role: String) throws {
        _ = try OptionCheck.secret("--\(role)-password-file", path: passwordFile)
        try OptionCheck.readableFile("--\(role)-ca-file", caFile)
        try OptionCheck.readableFile("--\(role)-cert-file", certFile)
        try OptionCheck.readableFile("--\(role)-key-file", keyFile)
        if (certFile == nil) != (keyFile == nil) {
            throw ValidationError("--\(role)-cert-file and --\(role)-key-file go together: give both (the client certificate and its private key)")
        }
    }

    /// Builds the deployment; `role` is `source` or `target`, `fallbackURI` an environment default.
    func deployment(role: String, fallbackURI: String?) throws -> RedisDeployment {
        let environment = CommandEnvironment.current
        guard let text = uri ?? environment["MIGRATE_\(role.uppercased())_URI"] ?? fallbackURI else {
            throw ValidationError("no \(role) given: pass --\(role) redis://host:port (or set MIGRATE_\(role.uppercased())_URI)")
        }
        let parsed: ServiceURI
        do {
            parsed = try ServiceURI(text, defaultPorts: ["redis": 6379, "rediss": 6379, "valkey": 6379, "valkeys": 6379])
        } catch {
            throw ValidationError("--\(role): \(error.description)")
        }
        let tls = parsed.scheme == "rediss" || parsed.scheme == "valkeys"
        guard tls || ["redis", "valkey"].contains(parsed.scheme) else {
            throw ValidationError("--\(role) '\(parsed)' has scheme '\(parsed.scheme)': use redis:// or rediss:// (TLS)")
        }
        if !tls && (caFile != nil || certFile != nil || insecureSkipVerify) {
            throw ValidationError("--\(role)-ca-file/--\(role)-cert-file/--\(role)-insecure-skip-verify need a TLS URI: use rediss://")
        }
        var password = parsed.password
        if let fromFile = try OptionCheck.secret("--\(role)-password-file", path: passwordFile) {
            password = fromFile
        } else if let fromEnvironment = environment["MIGRATE_\(role.uppercased())_PASSWORD"] {
            password = Secret(fromEnvironment)
        }
        var database = 0
        if !parsed.path.isEmpty {
            guard let value = Int(parsed.path), value >= 0 else {
                throw ValidationError("--\(role) '\(parsed)': the path must be a database number, like redis://host:6379/0")
            }
            database = value
        }
        let configuration = RedisConnectionConfiguration(
            endpoint: parsed.endpoint,
            user: parsed.user,
            password: password,
            database: 0,
            options: ConnectionOptions(connectTimeout: .seconds(timeouts.connect), ioTimeout: .seconds(timeouts.io), tls: tls ? TLSConfiguration(
                caFile: caFile, certificateFile: certFile, privateKeyFile: keyFile,
                serverName: serverName, verifyPeer: !insecureSkipVerify
            ) : nil)
        )
        var display = parsed
        display.password = password == nil ? nil : Secret("")
        display.path = database == 0 ? "" : String(database)
        return RedisDeployment(connection: configuration, mode: mode, displayName: display.description)
    }
}

/// `--source …` options.
struct SourceOptions: ParsableArguments {
    @Option(name: .customLong("source"), help: ArgumentHelp("Source URI: redis://[user@]host:port or rediss:// for TLS. Default: $MIGRATE_SOURCE_URI, then $REDIS_URI.", valueName: "uri"))
    var uri: String?
    @Option(name: .customLong("source-password-file"), help: ArgumentHelp("Read the source password from this file (else $MIGRATE_SOURCE_PASSWORD, else the URI).", valueName: "path"))
    var passwordFile: String?
    @Option(name: .customLong("source-ca-file"), help: ArgumentHelp("PEM CA bundle that signed the source's certificate (default: the system's).", valueName: "path"))
    var caFile: String?
    @Option(name: .customLong("source-cert-file"), help: ArgumentHelp("PEM client certificate for the source.", valueName: "path"))
    var certFile: String?
    @Option(name: .customLong("source-key-file"), help: ArgumentHelp("PEM private key for --source-cert-file.", valueName: "path"))
    var keyFile: String?
    @Option(name: .customLong("source-tls-server-name"), help: ArgumentHelp("Name to send as SNI and check on the source's certificate.", valueName: "name"))
    var serverName: String?
    @Flag(name: .customLong("source-insecure-skip-verify"), help: "Do not verify the source's TLS certificate (unsafe).")
    var insecureSkipVerify = false
    @Option(name: .customLong("source-topology"), help: "standalone, cluster, or auto (ask the server).")
    var mode: RedisTopologyMode = .automatic

    func validate() throws {
        try sideOptions(TimeoutOptions()).checkFiles(role: "source")
    }

    func deployment(_ timeouts: TimeoutOptions) throws -> RedisDeployment {
        try sideOptions(timeouts).deployment(role: "source", fallbackURI: CommandEnvironment.current["REDIS_URI"])
    }

    private func sideOptions(_ timeouts: TimeoutOptions) -> RedisSideOptions {
        RedisSideOptions(uri: uri, passwordFile: passwordFile, caFile: caFile, certFile: certFile, keyFile: keyFile,
                         serverName: serverName, insecureSkipVerify: insecureSkipVerify, mode: mode, timeouts: timeouts)
    }
}

/// `--target …` options.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("target"), help: ArgumentHelp("Target URI, e.g. rediss://user@cfg.cache.amazonaws.com:6379. Default: $MIGRATE_TARGET_URI.", valueName: "uri"))
    var uri: String?
    @Option(name: .customLong("target-password-file"), help: ArgumentHelp("Read the target password from this file (else $MIGRATE_TARGET_PASSWORD, else the URI).", valueName: "path"))
    var passwordFile: String?
    @Option(name: .customLong("target-ca-file"), help: ArgumentHelp("PEM CA bundle that signed the target's certificate (default: the system's).", valueName: "path"))
    var caFile: String?
    @Option(name: .customLong("target-cert-file"), help: ArgumentHelp("PEM client certificate for the target.", valueName: "path"))
    var certFile: String?
    @Option(name: .customLong("target-key-file"), help: ArgumentHelp("PEM private key for --target-cert-file.", valueName: "path"))
    var keyFile: String?
    @Option(name: .customLong("target-tls-server-name"), help: ArgumentHelp("Name to send as SNI and check on the target's certificate.", valueName: "name"))
    var serverName: String?
    @Flag(name: .customLong("target-insecure-skip-verify"), help: "Do not verify the target's TLS certificate (unsafe).")
    var insecureSkipVerify = false
    @Option(name: .customLong("target-topology"), help: "standalone, cluster, or auto (ask the server).")
    var mode: RedisTopologyMode = .automatic

    func validate() throws {
        try sideOptions(TimeoutOptions()).checkFiles(role: "target")
    }

    func deployment(_ timeouts: TimeoutOptions) throws -> RedisDeployment {
        try sideOptions(timeouts).deployment(role: "target", fallbackURI: nil)
    }

    private func sideOptions(_ timeouts: TimeoutOptions) -> RedisSideOptions {
        RedisSideOptions(uri: uri, passwordFile: passwordFile, caFile: caFile, certFile: certFile, keyFile: keyFile,
                         serverName: serverName, insecureSkipVerify: insecureSkipVerify, mode: mode, timeouts: timeouts)
    }
}

/// `--rate`: a ceiling on throughput, shared by every writer of a run.
struct ThrottleOptions: ParsableArguments {
    @Option(name: .customLong("rate"), help: ArgumentHelp("At most this many keys, rows or records per second (to spare a source still in production).", valueName: "n"))
    var rate: Int?

    func validate() throws {
        if let rate { try OptionCheck.number("--rate", rate, in: 1...Int.max, example: 5000) }
    }
}

/// Whether a source replica that lags or lost its primary may be read.
struct SourceHealthOptions: ParsableArguments {
    @Flag(name: .customLong("allow-stale-replica"), help: "Read a source replica even when its link to its primary is down or lags more than --max-replica-lag.")
    var allowStaleReplica = false
    @Option(name: .customLong("max-replica-lag"), help: ArgumentHelp("The most seconds a source replica may be behind its primary (master_last_io_seconds_ago).", valueName: "seconds"))
    var maxReplicaLag = 60

    func validate() throws {
        try OptionCheck.number("--max-replica-lag", maxReplicaLag, in: 0...Int.max, example: 60)
    }

    func apply(to settings: RedisRunSettings) -> RedisRunSettings {
        var settings = settings
        settings.allowStaleReplica = allowStaleReplica
        settings.maxReplicaLagSeconds = maxReplicaLag
        return settings
    }
}

/// How long connecting and each read or write may take, for both sides.
struct TimeoutOptions: ParsableArguments {
    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp("Seconds allowed for DNS, TCP connect and the TLS handshake.", valueName: "seconds"))
    var connect = 10
    @Option(name: .customLong("io-timeout"), help: ArgumentHelp("Seconds one read or write may block before the connection counts as lost.", valueName: "seconds"))
    var io = 60

    func validate() throws {
        try OptionCheck.number("--connect-timeout", connect, in: 1...3600, example: 10)
        try OptionCheck.number("--io-timeout", io, in: 1...86_400, example: 60)
    }
}

/// Which keys, and how they map, for both `migrate redis` and `migrate verify redis`.
struct KeySelectionOptions: ParsableArguments {
    @Option(name: .customLong("match"), help: ArgumentHelp("Only keys matching this glob (repeat for several; any may match).", valueName: "pattern"))
    var include: [String] = []
    @Option(name: .customLong("exclude"), help: ArgumentHelp("Skip keys matching this glob (repeatable).", valueName: "pattern"))
    var exclude: [String] = []
    @Option(name: .customLong("type"), help: ArgumentHelp("Only keys of this type: string, list, hash, set, zset, stream, other (repeatable).", valueName: "type"))
    var types: [RedisType] = []
    @Option(name: .customLong("db"), help: ArgumentHelp("Only this source database (repeatable; default: every database with keys).", valueName: "n"))
    var databases: [Int] = []
    @Option(name: .customLong("db-map"), help: ArgumentHelp("Move source database SRC: SRC:PREFIX (into db 0 under PREFIX), SRC=DST, or SRC=DST:PREFIX. Repeatable.", valueName: "rule"))
    var databaseMap: [String] = []
    @Option(name: .customLong("mapping"), help: ArgumentHelp("A database mapping file (see mappings/redis-databases.yaml); replaces --db-map.", valueName: "path"))
    var mappingFile: String?
    @Option(name: .customLong("shard"), help: ArgumentHelp("""
        Handle only the keys whose hash slot (CRC16 of the key or its {hash tag}) modulo N is i, e.g. 0/4: N processes \
        with 0/N … N-1/N cover the source exactly once, each with its own checkpoint. With a shard, verify compares \
        the shard's source keys and the target keys whose source-side name (without a --db-map prefix) is in the shard.
        """, valueName: "i/N"))
    var shard: Shard?

    func validate() throws {
        try OptionCheck.readableFile("--mapping", mappingFile)
        for database in databases { try OptionCheck.number("--db", database, in: 0...Int(Int32.max), example: 0) }
    }

    var filter: KeyFilter {
        KeyFilter(include: include.map(GlobPattern.init), exclude: exclude.map(GlobPattern.init), types: Set(types), shard: shard)
    }

    func mapping() throws -> DatabaseMapping {
        do {
            if let mappingFile {
                guard databaseMap.isEmpty else { throw ValidationError("give either --mapping or --db-map, not both") }
                return try DatabaseMapping(yamlFile: mappingFile)
            }
            return try DatabaseMapping(arguments: databaseMap)
        } catch let error as DatabaseMapping.InvalidMapping {
            throw ValidationError(error.description)
        }
    }
}

/// Batching, concurrency and output.
struct RunOptions: ParsableArguments {
    @Option(name: .customLong("batch"), help: "Keys per batch (SCAN COUNT and pipeline depth).")
    var batch = 1000
    @Option(name: .customLong("concurrency"), help: "Batches written at once, each over its own connections.")
    var concurrency = 4
    @Flag(name: .customLong("json"), help: "Write progress and the final report as JSON lines on standard output.")
    var json = false
    @Option(name: .customLong("report"), help: ArgumentHelp("Also write the final report as JSON to this file.", valueName: "path"))
    var reportFile: String?
    @Option(name: .customLong("report-html"), help: ArgumentHelp("Also write the report as one self-contained HTML page to this file.", valueName: "path"))
    var reportHTML: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .warning

    func validate() throws {
        try OptionCheck.number("--batch", batch, in: 1...100_000, example: 1000)
        try OptionCheck.number("--concurrency", concurrency, in: 1...256, example: 4)
        try OptionCheck.writableFile("--report", reportFile)
        try OptionCheck.writableFile("--report-html", reportHTML)
    }

    func logger() -> Logger {
        var logger = Logger(label: "migrate") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = logLevel
        return logger
    }

    /// The settings of a Redis copy or verification.
    func redisSettings(source: SourceOptions, target: TargetOptions, selection: KeySelectionOptions, timeouts: TimeoutOptions) throws -> RedisRunSettings {
        RedisRunSettings(
            source: try source.deployment(timeouts),
            target: try target.deployment(timeouts),
            databases: selection.databases.isEmpty ? nil : selection.databases,
            batchSize: batch,
            concurrency: concurrency,
            progressStyle: .automatic(json: json),
            logger: logger()
        )
    }

    /// Runs `body` (a command's work) keeping a timeline, then finishes with its report; `facts` describe
    /// source and target for the report files.
    func finish(facts: [[String]] = [], _ body: () async throws -> MigrationReport) async throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        try await finish(with: try await CommandErrors.reporting {
            try await ReportOutput.recording(arguments: arguments, facts: facts, body)
        })
    }

    /// Whether a report file is asked for (`--report` or `--report-html`).
    var wantsReportFile: Bool { reportFile != nil || reportHTML != nil }

    /// Prints the report (text, or a JSON line with `--json`), writes `--report` and `--report-html`, and maps
    /// the outcome to an exit code.
    func finish(with report: MigrationReport) async throws {
        if json {
            print(JSONLines.encode(event: "report", report))
        } else {
            print(report.rendered(), terminator: "")
        }
        if let reportFile {
            try await report.write(toPath: reportFile)
        }
        if let reportHTML {
            try await ReportFile.write(text: ReportPage.render(report), toPath: reportHTML)
        }
        try ExitCodes.check(report.outcome)
    }
}

extension RedisTopologyMode: ExpressibleByArgument {}
extension Shard: ExpressibleByArgument {
    /// Parses `--shard i/N`.
    public init?(argument: String) {
        self.init(argument)
    }
}
extension RedisType: ExpressibleByArgument {}
extension RedisCopyOptions.Mode: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
