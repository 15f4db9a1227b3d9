import ArgumentParser
import KeyMigration
import MigrationCore

/// `migrate redis`.
struct RedisCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "Copy keys from Redis, Valkey or DragonflyDB into another deployment (ElastiCache: cluster mode, TLS, RBAC).",
        discussion: """
            Keys travel by DUMP + RESTORE … REPLACE ABSTTL (exact values, absolute expiry), falling back per key \
            to a type-based copy when the target cannot load the payload (e.g. Valkey 9 → Valkey 8). Keys over \
            --big-key-bytes are copied in chunks, so memory stays bounded. A cluster source is scanned per primary; \
            a cluster target is written per slot owner, following MOVED/ASK.

            Example:
              MIGRATE_TARGET_PASSWORD=… migrate redis --source redis://old:6379 \\
                --target rediss://migrator@cfg.cache.amazonaws.com:6379 --db-map 1:db1: --report report.json

            With --live the run keeps the target in step until cutover: it subscribes to the source's keyspace \
            notifications before the copy, applies each changed key after it, reconciles every \
            --reconcile-interval seconds, and on SIGINT/SIGTERM applies what is pending, reconciles a last time \
            and exits 0 when source and target are equal.
            """
    )

    @OptionGroup(title: "Source") var source: SourceOptions
    @OptionGroup(title: "Target") var target: TargetOptions
    @OptionGroup(title: "Keys") var selection: KeySelectionOptions
    @OptionGroup(title: "Run") var run: RunOptions
    @OptionGroup(title: "Run") var throttle: ThrottleOptions
    @OptionGroup(title: "Timeouts") var timeouts: TimeoutOptions
    @OptionGroup(title: "Source") var health: SourceHealthOptions
    @OptionGroup(title: "Live sync until cutover") var live: LiveOptions

    @Option(name: .customLong("mode"), help: "dump (DUMP/RESTORE with per-key fallback) or struct (type-based copy of every key).")
    var mode: RedisCopyOptions.Mode = .dump
    @Option(name: .customLong("big-key-bytes"), help: "Keys using more memory than this are copied in chunks.")
    var bigKeyBytes = 16 << 20
    @Flag(name: .customLong("dry-run"), help: "Read and count everything, write nothing.")
    var dryRun = false
    @Flag(name: .customLong("resume"), help: "Continue the unfinished run with the same source, target and options from its checkpoint.")
    var resume = false
    @Flag(name: .customLong("fresh"), help: "Discard an unfinished run's checkpoint and start over.")
    var fresh = false
    @Option(name: .customLong("checkpoint-dir"), help: ArgumentHelp("Where checkpoints are kept.", valueName: "path"))
    var checkpointDirectory = ".migrate"
    @Flag(name: .customLong("skip-refused"), help: "List keys the target refuses in the report and go on, instead of stopping.")
    var skipRefused = false

    func validate() throws {
        if resume && fresh { throw ValidationError("--resume and --fresh exclude each other") }
        try OptionCheck.writableDirectory("--checkpoint-dir", checkpointDirectory)
        try OptionCheck.number("--big-key-bytes", bigKeyBytes, in: 1024...Int.max, example: 16 << 20)
        if live.enabled && dryRun { throw ValidationError("--live and --dry-run exclude each other") }
    }

    func run() async throws {
        try await run.finish(facts: await ReportOutput.facts(of: self, wanted: run.wantsReportFile)) { try await execute() }
    }

    func execute() async throws -> MigrationReport {
        let migration = RedisMigration(
            settings: try settings(), options: try copyOptions(), rateLimit: throttle.rate, checkpointDirectory: checkpointDirectory,
            resumePolicy: resume ? .resume : fresh ? .fresh : .refuseUnfinished
        )
        guard live.enabled else { return try await Interruption.run { try await migration.run() } }
        let stop = StopRequest()
        let signals = SignalHandlers(stop: stop)
        defer { signals.cancel() }
        return try await LiveSync(migration: migration, options: live.options).run(stop: stop)
    }

    func inventory(sampleSize: Int) async throws -> PhasePlan {
        await RedisInventory(settings: try settings(), options: try copyOptions(), sampleSize: sampleSize).take()
    }

    private func settings() throws -> RedisRunSettings {
        health.apply(to: try run.redisSettings(source: source, target: target, selection: selection, timeouts: timeouts))
    }

    private func copyOptions() throws -> RedisCopyOptions {
        var options = RedisCopyOptions()
        options.mode = mode
        options.filter = selection.filter
        options.mapping = try selection.mapping()
        options.bigKeyBytes = bigKeyBytes
        options.dryRun = dryRun
        options.skipRefused = skipRefused
        return options
    }
}

/// `migrate verify redis`.
struct VerifyRedisCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "Compare keys in both directions: missing, extra, type, expiry and value (exit 3 on any difference).",
        discussion: """
            Values are compared by digests computed on this machine in batches: ordered for strings, lists and \
            streams, order-insensitive for hashes, sets and sorted sets (scores compared as doubles).
            """
    )

    @OptionGroup(title: "Source") var source: SourceOptions
    @OptionGroup(title: "Target") var target: TargetOptions
    @OptionGroup(title: "Keys") var selection: KeySelectionOptions
    @OptionGroup(title: "Run") var run: RunOptions
    @OptionGroup(title: "Timeouts") var timeouts: TimeoutOptions
    @OptionGroup(title: "Source") var health: SourceHealthOptions

    @Option(name: .customLong("sample"), help: ArgumentHelp("Compare this many random keys in each direction instead of all.", valueName: "n"))
    var sample: Int?
    @Option(name: .customLong("ttl-tolerance-ms"), help: "How far expiry times may differ.")
    var ttlTolerance: Int64 = 1000
    @Option(name: .customLong("big-key-bytes"), help: "Keys using more memory than this are read in chunks.")
    var bigKeyBytes = 16 << 20

    func validate() throws {
        if let sample { try OptionCheck.number("--sample", sample, in: 1...Int.max, example: 10_000) }
        if ttlTolerance < 0 { throw OptionCheck.failure("--ttl-tolerance-ms", String(ttlTolerance), "cannot be negative", fix: "for example --ttl-tolerance-ms 1000") }
        try OptionCheck.number("--big-key-bytes", bigKeyBytes, in: 1024...Int.max, example: 16 << 20)
    }

    func run() async throws {
        try await run.finish { try await execute() }
    }

    func execute() async throws -> MigrationReport {
        let settings = health.apply(to: try run.redisSettings(source: source, target: target, selection: selection, timeouts: timeouts))
        var options = RedisVerifyOptions()
        options.filter = selection.filter
        options.mapping = try selection.mapping()
        options.ttlToleranceMilliseconds = ttlTolerance
        options.sample = sample
        options.bigKeyBytes = bigKeyBytes
        let verification = RedisVerification(settings: settings, options: options)
        return try await Interruption.run { try await verification.run() }
    }
}
