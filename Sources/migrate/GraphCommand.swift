import AWS
import ArgumentParser
import Bolt
import Foundation
import GraphMigration
import MigrationCore
import Neptune
import Transport

/// Source and target options for `migrate graph` and `migrate verify graph`.
struct GraphEndpointOptions: ParsableArguments {
    @Option(name: .customLong("source"), help: ArgumentHelp("bolt://user@host:7687 (Neo4j, Memgraph); bolt+s:// or neo4j+s:// for TLS. Default: $MIGRATE_SOURCE_URI, $NEO4J_URI, $MEMGRAPH_URI.", valueName: "uri"))
    var source: String?
    @Option(name: .customLong("source-user"), help: ArgumentHelp("The source user, if not in the URI (else $NEO4J_USERNAME).", valueName: "name"))
    var sourceUser: String?
    @Option(name: .customLong("source-password-file"), help: ArgumentHelp("Source password file (else $MIGRATE_SOURCE_PASSWORD, $NEO4J_PASSWORD).", valueName: "path"))
    var sourcePasswordFile: String?
    @Option(name: .customLong("source-ca-file"), help: ArgumentHelp("PEM CA for the source's TLS certificate.", valueName: "path"))
    var sourceCAFile: String?
    @Option(name: .customLong("target"), help: ArgumentHelp("https://neptune-cluster:8182 (Neptune openCypher) or bolt://user@host:7687 (Memgraph on EC2, Neo4j). Default: $MIGRATE_TARGET_URI.", valueName: "uri"))
    var target: String?
    @Option(name: .customLong("target-password-file"), help: ArgumentHelp("Bolt target password file (else $MIGRATE_TARGET_PASSWORD).", valueName: "path"))
    var targetPasswordFile: String?
    @Option(name: .customLong("target-ca-file"), help: ArgumentHelp("PEM CA for the target's TLS certificate.", valueName: "path"))
    var targetCAFile: String?
    @Flag(name: .customLong("iam"), help: "Sign Neptune requests with SigV4 (service neptune-db) using the AWS credential chain: environment, web identity (IRSA), AWS_PROFILE, container endpoint (ECS task role, EKS Pod Identity), instance metadata.")
    var iam = false
    @Option(name: .customLong("region"), help: ArgumentHelp("The Neptune cluster's region (default: $AWS_REGION).", valueName: "region"))
    var region: String?
    @Option(name: .customLong("mapping"), help: ArgumentHelp("A graph mapping, e.g. mappings/lightrag-graph.yaml (ids from entity_id, DIRECTED edges keyed by their endpoints).", valueName: "path"))
    var mapping: String?
    @Option(name: .customLong("shard"), help: ArgumentHelp("""
        Handle only shard i of N, e.g. 0/4: the nodes whose target id, and the relationships whose own id, hash to i \
        modulo N. N processes with 0/N … N-1/N cover the graph exactly once, each with its own checkpoint (`migrate graph --help` tells \
        the order of the phases). With a shard, verify compares that shard's nodes and relationships only; \
        the counts and degree histograms are compared by an unsharded verify.
        """, valueName: "i/N"))
    var shard: Shard?

    /// Refuses, before any connection, a file option naming a file that is missing, unreadable or empty.
    func checkFiles() throws {
        for (option, path) in [("--source-password-file", sourcePasswordFile), ("--source-ca-file", sourceCAFile), ("--target-password-file", targetPasswordFile),
                               ("--target-ca-file", targetCAFile), ("--mapping", mapping)] {
            try OptionCheck.readableFile(option, path)
        }
    }

    func settings(run: RunOptions, timeouts: TimeoutOptions) throws -> GraphRunSettings {
        let environment = CommandEnvironment.current
        guard let sourceText = source ?? environment["MIGRATE_SOURCE_URI"] ?? environment["NEO4J_URI"] ?? environment["MEMGRAPH_URI"] else {
            throw ValidationError("no source given: pass --source bolt://user@host:7687 (or set MIGRATE_SOURCE_URI / NEO4J_URI)")
        }
        guard let targetText = target ?? environment["MIGRATE_TARGET_URI"] else {
            throw ValidationError("no target given: pass --target https://your-neptune-cluster:8182 or --target bolt://host:7687")
        }
        let (sourceConfiguration, sourceDisplay) = try bolt(sourceText, role: "source", passwordFile: sourcePasswordFile, caFile: sourceCAFile,
                                                            fallbackUser: sourceUser ?? environment["NEO4J_USERNAME"], fallbackPassword: environment["NEO4J_PASSWORD"], timeouts: timeouts)
        let target: GraphStore
        let parsedTarget = try parse(targetText, role: "target")
        if parsedTarget.scheme == "https" || parsedTarget.scheme == "http" {
            // The AWS credential chain (environment, web identity, profile, container endpoint, instance metadata).
            let provider = iam ? AWSCredentialProvider(environment: environment) : nil
            guard let region = region ?? provider?.region ?? (iam ? nil : "us-east-1") else {
                throw ValidationError("--iam needs the cluster's region: pass --region or set AWS_REGION (or the profile's region)")
            }
            var display = parsedTarget
            display.password = nil
            target = .neptune(NeptuneConfiguration(
                endpoint: parsedTarget.endpoint, tls: parsedTarget.scheme == "https" ? TLSConfiguration(caFile: targetCAFile) : nil,
                credentials: nil, region: region, connectTimeout: .seconds(timeouts.connect), requestTimeout: .seconds(timeouts.io),
                displayName: display.description + (iam ? " (IAM)" : ""), credentialProvider: provider))
        } else {
            let (configuration, display) = try bolt(targetText, role: "target", passwordFile: targetPasswordFile, caFile: targetCAFile,
                                                    fallbackUser: nil, fallbackPassword: nil, timeouts: timeouts)
            target = .bolt(configuration, displayName: display)
        }
        var graphMapping = GraphMapping()
        if let mapping {
            do {
                graphMapping = try GraphMapping.load(mapping)
            } catch {
                throw ValidationError(error.description)
            }
        }
        return GraphRunSettings(source: sourceConfiguration, sourceDisplayName: sourceDisplay, target: target, mapping: graphMapping,
                                batchSize: run.batch, concurrency: run.concurrency, progressStyle: .automatic(json: run.json), logger: run.logger(),
                                shard: shard)
    }

    private func parse(_ text: String, role: String) throws -> ServiceURI {
        do {
            return try ServiceURI(text, defaultPorts: ["bolt": 7687, "bolt+s": 7687, "bolt+ssc": 7687, "neo4j": 7687, "neo4j+s": 7687,
                                                       "neo4j+ssc": 7687, "https": 8182, "http": 8182])
        } catch {
            throw ValidationError("--\(role): \(error.description)")
        }
    }

    private func bolt(_ text: String, role: String, passwordFile: String?, caFile: String?, fallbackUser: String?, fallbackPassword: String?,
                      timeouts: TimeoutOptions) throws -> (BoltConfiguration, String) {
        let parsed = try parse(text, role: role)
        guard parsed.scheme.hasPrefix("bolt") || parsed.scheme.hasPrefix("neo4j") else {
            throw ValidationError("--\(role) '\(parsed)': use bolt:// (or bolt+s://, neo4j+s://)")
        }
        let environment = CommandEnvironment.current
        var password = parsed.password
        if let fromFile = try OptionCheck.secret("--\(role)-password-file", path: passwordFile) {
            password = fromFile
        } else if let value = environment["MIGRATE_\(role.uppercased())_PASSWORD"] ?? fallbackPassword {
            password = Secret(value)
        }
        let tls: TLSConfiguration? = parsed.scheme.hasSuffix("+s") ? TLSConfiguration(caFile: caFile)
            : parsed.scheme.hasSuffix("+ssc") ? TLSConfiguration(verifyPeer: false) : nil
        var display = parsed
        display.user = parsed.user ?? fallbackUser
        display.password = password == nil ? nil : Secret("")
        let configuration = BoltConfiguration(
            endpoint: parsed.endpoint, user: display.user, password: password,
            database: parsed.path.isEmpty ? nil : parsed.path,
            options: ConnectionOptions(connectTimeout: .seconds(timeouts.connect), ioTimeout: .seconds(timeouts.io), tls: tls))
        return (configuration, display.description)
    }
}

/// `migrate graph`.
struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Copy a Neo4j or Memgraph graph over Bolt into Amazon Neptune (openCypher over HTTPS, optional IAM) or another Bolt server.",
        discussion: """
            Nodes are read in internal-id order without APOC, then relationships; both are written with \
            UNWIND … MERGE on deterministic ids (`~id` on Neptune), so a rerun adds nothing and --resume continues \
            after a crash. Neptune stores simple literals only: lists and maps become JSON text (or are refused, \
            per the mapping), temporal values ISO 8601 strings; every conversion is counted in the report. A batch \
            Neptune refuses (HTTP 400) is split until the refused records are found; they go to a dead-letter file \
            named in the report and the rest lands. 5xx answers are retried with backoff.

            Shards (--shard i/N): start all N processes together. Each writes its nodes, then its relationships, \
            whose endpoints may be nodes of another shard. A relationship is written with MATCH on both endpoint \
            ids and MERGE on its own id, so while an endpoint is missing it writes nothing; the shard then waits, \
            sending those rows again every second for up to 10 minutes, and MERGE keeps each relationship single. \
            Endpoints are never created as placeholders: on Neptune the owning shard's MERGE with labels would not \
            match a placeholder and would try a second vertex with the same ~id. If a shard gives up waiting it \
            stops with its checkpoint: once every shard has finished its nodes, rerun it with --resume. With \
            --export-csv, every shard may write to the same directory (file names do not collide); start the bulk \
            loader once, after the last shard, so --loader-role-arn is refused with --shard.

            Example:
              AWS_REGION=us-east-1 migrate graph --source bolt://neo4j@old-graph:7687 \\
                --target https://rag.cluster-xyz.us-east-1.neptune.amazonaws.com:8182 --iam \\
                --mapping mappings/lightrag-graph.yaml
            """
    )

    @OptionGroup(title: "Source and target") var endpoints: GraphEndpointOptions
    @OptionGroup(title: "Run") var run: RunOptions
    @OptionGroup(title: "Run") var throttle: ThrottleOptions
    @OptionGroup(title: "Timeouts") var timeouts: TimeoutOptions

    @Flag(name: .customLong("resume"), help: "Continue the unfinished run with the same source, target and mapping.")
    var resume = false
    @Flag(name: .customLong("fresh"), help: "Discard an unfinished run's checkpoint and start over.")
    var fresh = false
    @Option(name: .customLong("checkpoint-dir"), help: ArgumentHelp("Where checkpoints and the dead-letter file are kept.", valueName: "path"))
    var checkpointDirectory = ".migrate"

    @Option(name: .customLong("export-csv"), help: ArgumentHelp("Write Neptune bulk-load openCypher CSV files here instead of writing to the target.", valueName: "dir"))
    var exportDirectory: String?
    @Option(name: .customLong("s3"), help: ArgumentHelp("Upload the CSV files to s3://bucket/prefix (SigV4, AWS_* credentials).", valueName: "uri"))
    var s3: String?
    @Option(name: .customLong("s3-endpoint"), help: ArgumentHelp("An S3-compatible endpoint instead of s3.<region>.amazonaws.com.", valueName: "url"))
    var s3Endpoint: String?
    @Option(name: .customLong("loader-role-arn"), help: ArgumentHelp("Start Neptune's bulk loader on the uploaded files with this IAM role, and wait for it.", valueName: "arn"))
    var loaderRoleARN: String?

    func validate() throws {
        if resume && fresh { throw ValidationError("--resume and --fresh exclude each other") }
        try OptionCheck.writableDirectory("--checkpoint-dir", checkpointDirectory)
        try endpoints.checkFiles()
        if s3 != nil && exportDirectory == nil { throw ValidationError("--s3 uploads the files of --export-csv: give --export-csv DIR too") }
        if loaderRoleARN != nil && s3 == nil { throw ValidationError("--loader-role-arn loads the files uploaded with --s3: give --s3 s3://bucket/prefix too") }
        if loaderRoleARN != nil && endpoints.shard != nil {
            throw ValidationError("--loader-role-arn with --shard would load before the other shards' files exist: export and upload every shard, then start the loader once")
        }
    }

    /// The bulk export asked for, if any.
    private func export() throws -> BulkExport? {
        guard let exportDirectory else { return nil }
        var upload: (configuration: S3Configuration, bucket: String, prefix: String)?
        if let s3 {
            guard s3.hasPrefix("s3://") else { throw ValidationError("--s3 '\(s3)': use s3://bucket/prefix") }
            let path = s3.dropFirst(5)
            let bucket = String(path.prefix { $0 != "/" })
            let prefix = String(path.dropFirst(bucket.count).drop { $0 == "/" })
            let environment = CommandEnvironment.current
            guard let credentials = AWSCredentials.fromEnvironment(environment) else {
                throw ValidationError("--s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)")
            }
            guard let region = endpoints.region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] else {
                throw ValidationError("--s3 needs a region: pass --region or set AWS_REGION")
            }
            var configuration = S3Configuration.aws(region: region, credentials: credentials)
            if let s3Endpoint {
                let uri: ServiceURI
                do {
                    uri = try ServiceURI(s3Endpoint, defaultPorts: ["http": 80, "https": 443])
                } catch {
                    throw ValidationError("--s3-endpoint: \(error.description)")
                }
                configuration = S3Configuration(endpoint: uri.endpoint, tls: uri.scheme == "https" ? TLSConfiguration() : nil,
                                                credentials: credentials, region: region)
            }
            upload = (configuration, bucket, prefix)
        }
        return BulkExport(directory: exportDirectory, s3: upload, loaderRoleARN: loaderRoleARN)
    }

    func run() async throws {
        try await run.finish(facts: await ReportOutput.facts(of: self, wanted: run.wantsReportFile)) { try await execute() }
    }

    func execute() async throws -> MigrationReport {
        let migration = GraphMigration(settings: try settings(), checkpointDirectory: checkpointDirectory,
                                       resumePolicy: resume ? .resume : fresh ? .fresh : .refuseUnfinished, rateLimit: throttle.rate)
        return try await Interruption.run { try await migration.run() }
    }

    func inventory(sampleSize: Int) async throws -> PhasePlan {
        var settings = try settings()
        settings.batchSize = min(settings.batchSize, sampleSize)
        var plan = await GraphInventory(settings: settings).take()
        if case .neptune(let neptune) = settings.target, let provider = neptune.credentialProvider {
            await plan.addCredentials(from: provider)
        }
        return plan
    }

    private func settings() throws -> GraphRunSettings {
        var settings = try endpoints.settings(run: run, timeouts: timeouts)
        settings.export = try export()
        return settings
    }
}

/// `migrate verify graph`.
struct VerifyGraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Compare counts per label set and type, degree histograms, and every node and relationship (exit 3 on any difference)."
    )

    @OptionGroup(title: "Source and target") var endpoints: GraphEndpointOptions
    @OptionGroup(title: "Run") var run: RunOptions
    @OptionGroup(title: "Timeouts") var timeouts: TimeoutOptions

    func run() async throws {
        try await run.finish { try await execute() }
    }

    func execute() async throws -> MigrationReport {
        let verification = GraphVerification(settings: try endpoints.settings(run: run, timeouts: timeouts))
        return try await Interruption.run { try await verification.run() }
    }
}
