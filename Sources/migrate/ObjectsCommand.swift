import AWS
import ArgumentParser
import Foundation
import MigrationCore
import ObjectMigration

/// Source, target and transfer options shared by `migrate objects` and `migrate verify objects`.
struct ObjectEndpointOptions: ParsableArguments {
    @Option(name: .customLong("source"), help: ArgumentHelp("The directory to copy (local disk, EFS).", valueName: "dir"))
    var source: String
    @Option(name: .customLong("target"), help: ArgumentHelp("s3://bucket/prefix. The endpoint is AWS's, or $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL (path-style).", valueName: "uri"))
    var target: String
    @Option(name: .customLong("region"), help: ArgumentHelp("The bucket's region (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's).", valueName: "region"))
    var region: String?
    @Option(name: .customLong("include"), help: ArgumentHelp("Only paths matching this glob (repeatable; `*` crosses `/`).", valueName: "glob"))
    var include: [String] = []
    @Option(name: .customLong("exclude"), help: ArgumentHelp("Leave out paths matching this glob (repeatable).", valueName: "glob"))
    var exclude: [String] = []
    @Option(name: .customLong("multipart-threshold"), help: ArgumentHelp("Files of at least this many MiB go up in parts.", valueName: "MiB"))
    var multipartThresholdMiB = 8
    @Option(name: .customLong("part-size"), help: ArgumentHelp("Part size in MiB (5 to 5120). Memory is about concurrency × part size.", valueName: "MiB"))
    var partSizeMiB = 8

    func validate() throws {
        guard target.hasPrefix("s3://"), target.count > 5 else { throw ValidationError("--target '\(target)': use s3://bucket/prefix") }
        guard (5...5120).contains(partSizeMiB) else { throw ValidationError("--part-size must be 5 to 5120 MiB (S3's part limits)") }
        guard multipartThresholdMiB >= 5 else { throw ValidationError("--multipart-threshold must be at least 5 MiB") }
    }

    func settings(run: RunOptions, kmsKeyID: String?) throws -> ObjectRunSettings {
        let path = target.dropFirst(5)
        let bucket = String(path.prefix { $0 != "/" })
        let prefix = String(path.dropFirst(bucket.count).drop { $0 == "/" })
        // The AWS credential chain: environment, web identity (IRSA), profile, container endpoint, instance metadata.
        let provider = AWSCredentialProvider(environment: CommandEnvironment.current)
        guard let region = region ?? provider.region else {
            throw ValidationError("no region for the bucket: pass --region or set AWS_REGION")
        }
        let endpoint: AWSServiceEndpoint
        do {
            endpoint = try AWSServiceEndpoint.resolve(serviceID: "S3", hostPrefix: "s3", region: region, environment: provider.environment, profile: provider.profileSettings)
        } catch {
            throw ValidationError(error.description)
        }
        return ObjectRunSettings(
            sourceDirectory: source.hasSuffix("/") && source.count > 1 ? String(source.dropLast()) : source, bucket: bucket, prefix: prefix,
            location: S3Location(endpoint: endpoint, region: region, credentials: provider, kmsKeyID: kmsKeyID),
            filter: ObjectFilter(include: include, exclude: exclude),
            layout: ObjectLayout(multipartThreshold: multipartThresholdMiB << 20, partSize: partSizeMiB << 20),
            batchSize: run.batch, concurrency: run.concurrency, progressStyle: .automatic(json: run.json), logger: run.logger())
    }
}

/// `migrate objects`.
struct ObjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objects",
        abstract: "Copy a directory tree (local disk, EFS) into an S3 bucket and prefix, with a checksum S3 checks on every object.",
        discussion: """
            Every regular file becomes one object (key: the prefix plus the path below --source), with its content \
            type from the extension. Files under --multipart-threshold go up with one PUT, bigger ones in parts of \
            --part-size; each body and part carries x-amz-checksum-sha256, so S3 refuses a corrupted upload. Files \
            that cannot be read (permissions, vanished or changed mid-run, FIFOs and devices, symlink loops) are \
            refused and listed in the dead-letter file; the rest goes on (exit 4).

            After a crash or kill -9, --resume continues after the last acknowledged batch; objects already in the \
            bucket with the same size and checksum are not sent again, and unfinished multipart uploads under the \
            prefix are aborted before the first write. Credentials come from the AWS credential chain (task role, \
            IRSA, Pod Identity, instance profile, AWS_PROFILE, environment).

            Example:
              migrate objects --source /mnt/efs/uploads --target s3://app-uploads/uploads/ --concurrency 16
            """
    )

    @OptionGroup(title: "Source and target") var endpoints: ObjectEndpointOptions
    @OptionGroup(title: "Run") var run: RunOptions
    @OptionGroup(title: "Run") var throttle: ThrottleOptions

    @Option(name: .customLong("sse-kms-key-id"), help: ArgumentHelp("Encrypt every object with SSE-KMS under this key (ARN, id or alias; \"\" for the bucket's default aws/s3 key).", valueName: "key"))
    var kmsKeyID: String?
    @Flag(name: .customLong("resume"), help: "Continue the unfinished run with the same source, target and options.")
    var resume = false
    @Flag(name: .customLong("fresh"), help: "Discard an unfinished run's checkpoint and start over.")
    var fresh = false
    @Option(name: .customLong("checkpoint-dir"), help: ArgumentHelp("Where checkpoints and the dead-letter file are kept.", valueName: "path"))
    var checkpointDirectory = ".migrate"

    func validate() throws {
        if resume && fresh { throw ValidationError("--resume and --fresh exclude each other") }
    }

    func run() async throws {
        try await run.finish(with: try await CommandErrors.reporting { try await execute() })
    }

    func execute() async throws -> MigrationReport {
        let settings = try endpoints.settings(run: run, kmsKeyID: kmsKeyID)
        return try await Interruption.run {
            let migration = try await ObjectMigration.prepare(settings)
            return try await migration.run(checkpointDirectory: checkpointDirectory, resumePolicy: resume ? .resume : fresh ? .fresh : .refuseUnfinished,
                                           rateLimit: throttle.rate)
        }
    }
}

extension ObjectsCommand {
    /// `migrate plan`: the files and bytes to copy, what cannot be copied, what the prefix holds, and where the
    /// credentials come from. Writes nothing.
    func inventory(sampleSize: Int) async throws -> PhasePlan {
        let settings = try endpoints.settings(run: run, kmsKeyID: kmsKeyID)
        var plan = PhasePlan(phase: "objects", source: settings.sourceDirectory, target: settings.targetDisplay, unit: "objects")
        await plan.addCredentials(from: settings.location.credentials)
        do {
            let entries = try await DirectoryWalk.entries(settings.sourceDirectory, filter: settings.filter)
            let refused = entries.filter { $0.refusal != nil }
            plan.records = entries.count
            let bytes = entries.reduce(0) { $0 + $1.size }
            let parts = entries.filter { settings.layout.isMultipart($0.size) }.count
            plan.facts.append(["files", "\(Format.count(entries.count - refused.count)), \(Format.count(bytes)) bytes, \(Format.count(parts)) in multipart uploads"])
            for entry in refused.prefix(20) {
                plan.notes.append("\(entry.path) will be refused: \(entry.refusal!)")
            }
        } catch {
            plan.problems.append("source: \(error)")
        }
        let store = S3ObjectStore(settings.location)
        do {
            let objects = try await store.list(bucket: settings.bucket, prefix: settings.prefix)
            plan.facts.append(["target holds", "\(Format.count(objects.count)) objects under \(settings.targetDisplay)"])
            let unfinished = try await store.multipartUploads(bucket: settings.bucket, prefix: settings.prefix)
            if !unfinished.isEmpty { plan.notes.append("\(unfinished.count) unfinished multipart upload(s) under the prefix will be aborted") }
        } catch {
            plan.problems.append("target: \(error)")
        }
        await store.close()
        return plan
    }
}

/// `migrate verify objects`.
struct VerifyObjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objects",
        abstract: "List the directory and the bucket prefix and compare names, sizes and SHA-256 checksums (exit 3 on any difference)."
    )

    @OptionGroup(title: "Source and target") var endpoints: ObjectEndpointOptions
    @OptionGroup(title: "Run") var run: RunOptions

    func run() async throws {
        try await run.finish(with: try await CommandErrors.reporting { try await execute() })
    }

    func execute() async throws -> MigrationReport {
        let verification = ObjectVerification(settings: try endpoints.settings(run: run, kmsKeyID: nil))
        return try await Interruption.run { try await verification.run() }
    }
}
