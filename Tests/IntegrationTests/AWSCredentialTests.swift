import AWS
import Foundation
import HTTP
import JSON
import Neptune
import Testing
import Transport

/// A Python helper under scripts/standins/aws_metadata, started for one test and killed after it.
struct AWSStandIn {
    let process: Process
    let info: JSONValue

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/standins/aws_metadata")

    /// Starts `script` with `arguments`; it writes its port (or a JSON document) to the file after `fileFlag`.
    static func start(_ script: String, _ arguments: [String], fileFlag: String) async throws -> AWSStandIn {
        let file = NSTemporaryDirectory() + "aws-standin-\(UUID().uuidString)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Servers.value("MIGRATE_VENV") + "/bin/python")
        process.arguments = [directory.appendingPathComponent(script).path] + arguments + [fileFlag, file]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<300 {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), !text.isEmpty {
                let info = try Int(text).map { JSONValue.object([("port", .int(Int64($0)))]) } ?? JSONParser.parse(text)
                return AWSStandIn(process: process, info: info)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(process.processIdentifier, SIGKILL)
        throw AWSCredentialError("\(script) did not start")
    }

    /// The container-endpoint and IMDSv2 stand-in.
    static func metadata(_ arguments: [String] = []) async throws -> AWSStandIn {
        try await start("aws_metadata_standin.py", ["--port", "0"] + arguments, fileFlag: "--port-file")
    }

    /// moto's server with signature checking on (see moto_fixture.py).
    static func moto(_ arguments: [String] = []) async throws -> AWSStandIn {
        try await start("moto_fixture.py", arguments, fileFlag: "--info-file")
    }

    var port: Int { Int(info["port"]!.int!) }
    var url: String { "http://127.0.0.1:\(port)" }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// `GET path` on the stand-in, for its `/stats`.
    func get(_ path: String, headers: [(name: String, value: String)] = [], method: String = "GET") async throws -> HTTPResponse {
        let client = HTTPClient(endpoint: Endpoint(host: "127.0.0.1", port: port), options: ConnectionOptions())
        defer { Task { await client.close() } }
        return try await client.send(HTTPRequest(method: method, path: path, headers: headers))
    }

    /// Lets the next `count` moto actions through unauthenticated, then checks signatures again.
    func allowUnauthenticated(_ count: Int) async throws {
        let client = HTTPClient(endpoint: Endpoint(host: "127.0.0.1", port: port), options: ConnectionOptions())
        defer { Task { await client.close() } }
        let response = try await client.send(HTTPRequest(method: "POST", path: "/moto-api/reset-auth", body: Array(String(count).utf8)))
        #expect(response.status == 200)
    }
}

/// An environment with nothing of the developer's: no keys, no profile files, no instance metadata.
func isolatedAWSEnvironment(_ extra: [String: String]) -> [String: String] {
    ["HOME": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent/config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
     "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": Servers.value("NEPTUNE_REGION")].merging(extra) { $1 }
}

func temporaryFile(_ contents: String) throws -> String {
    let path = NSTemporaryDirectory() + "aws-\(UUID().uuidString)"
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

extension Integration {
    /// The credential chain against loopback stand-ins; Neptune IAM checked by the Neptune stand-in's own
    /// SigV4 verification (botocore's signer), the STS sources by moto's.
    @Suite struct AWSCredentialChain {
        /// `RETURN 1` on the IAM Neptune stand-in, signed with what `provider` supplies.
        func neptuneAccepts(_ provider: AWSCredentialProvider) async throws {
            var configuration = GraphServers.neptune(iam: true)
            configuration.credentials = nil
            configuration.credentialProvider = provider
            let client = NeptuneClient(configuration)
            let results = try await client.openCypher("RETURN 1 AS one")
            await client.close()
            #expect(results.first?["one"]?.int == 1)
        }

        var neptuneKeys: [String] {
            ["--access-key", Servers.value("NEPTUNE_ACCESS_KEY_ID"), "--secret-key", Servers.value("NEPTUNE_SECRET_ACCESS_KEY"),
             "--session-token", Servers.value("NEPTUNE_SESSION_TOKEN")]
        }

        @Test func neptuneIAMSignsWithEachSource() async throws {
            // Environment.
            try await neptuneAccepts(AWSCredentialProvider(environment: isolatedAWSEnvironment([
                "AWS_ACCESS_KEY_ID": Servers.value("NEPTUNE_ACCESS_KEY_ID"), "AWS_SECRET_ACCESS_KEY": Servers.value("NEPTUNE_SECRET_ACCESS_KEY"),
                "AWS_SESSION_TOKEN": Servers.value("NEPTUNE_SESSION_TOKEN")])))
            // A profile's keys and a credential_process.
            let credentials = try temporaryFile("""
                [neptune]
                aws_access_key_id = \(Servers.value("NEPTUNE_ACCESS_KEY_ID"))
                aws_secret_access_key = \(Servers.value("NEPTUNE_SECRET_ACCESS_KEY"))
                aws_session_token = \(Servers.value("NEPTUNE_SESSION_TOKEN"))
                """)
            let json = #"{"Version": 1, "AccessKeyId": "\#(Servers.value("NEPTUNE_ACCESS_KEY_ID"))", "SecretAccessKey": "\#(Servers.value("NEPTUNE_SECRET_ACCESS_KEY"))", "SessionToken": "\#(Servers.value("NEPTUNE_SESSION_TOKEN"))"}"#
            let config = try temporaryFile("[profile tool]\ncredential_process = printf '%s' '\(json)'\n")
            try await neptuneAccepts(AWSCredentialProvider(environment: isolatedAWSEnvironment(["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_PROFILE": "neptune"])))
            try await neptuneAccepts(AWSCredentialProvider(environment: isolatedAWSEnvironment(["AWS_CONFIG_FILE": config, "AWS_PROFILE": "tool"])))

            let metadata = try await AWSStandIn.metadata(neptuneKeys + ["--container-token", "pod-identity-token"])
            defer { metadata.stop() }
            // The EKS Pod Identity form: a full URI and a token file.
            let tokenFile = try temporaryFile("pod-identity-token\n")
            let container = AWSCredentialProvider(environment: isolatedAWSEnvironment([
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": metadata.url + "/v2/credentials/standin", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile]))
            try await neptuneAccepts(container)
            #expect(try await container.resolve().source == .container(url: metadata.url + "/v2/credentials/standin"))
            // The token in a variable; a wrong one is refused with the endpoint's status.
            try await neptuneAccepts(AWSCredentialProvider(environment: isolatedAWSEnvironment([
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": metadata.url + "/v2/credentials/standin", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "pod-identity-token"])))
            let wrong = AWSCredentialProvider(environment: isolatedAWSEnvironment([
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": metadata.url + "/v2/credentials/standin", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "stolen"]))
            do {
                _ = try await wrong.credentials()
                Issue.record("a wrong container token was accepted")
            } catch {
                #expect(error.description.contains("HTTP 401"), "\(error)")
            }
            // IMDSv2 (instance metadata on, pointed at the stand-in).
            var imdsEnvironment = isolatedAWSEnvironment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata.url])
            imdsEnvironment["AWS_EC2_METADATA_DISABLED"] = nil
            let imds = AWSCredentialProvider(environment: imdsEnvironment)
            try await neptuneAccepts(imds)
            #expect(try await imds.resolve().source == .instanceMetadata(endpoint: metadata.url))
            let stats = try JSONParser.parse(try await metadata.get("/stats").body)
            #expect(stats["container"]?.int == 2 && stats["imds"]?.int == 1)
            // The stand-in is IMDSv2-only: no token, 401; no TTL header, 400.
            #expect(try await metadata.get("/latest/meta-data/iam/security-credentials/").status == 401)
            #expect(try await metadata.get("/latest/api/token", method: "PUT").status == 400)
            // Wrong keys from a source are refused by the Neptune stand-in: the check can fail.
            let wrongKeys = AWSCredentialProvider(environment: isolatedAWSEnvironment(["AWS_ACCESS_KEY_ID": Servers.value("NEPTUNE_ACCESS_KEY_ID"),
                "AWS_SECRET_ACCESS_KEY": "wrong", "AWS_SESSION_TOKEN": Servers.value("NEPTUNE_SESSION_TOKEN")]))
            await #expect(throws: NeptuneError.self) { try await neptuneAccepts(wrongKeys) }
        }

        @Test func credentialsThatExpireDuringARunAreRefreshed() async throws {
            // Credentials live 4 s, each issue a new key; the stand-in's /check refuses expired ones.
            let metadata = try await AWSStandIn.metadata(["--lifetime", "4", "--rotate"])
            defer { metadata.stop() }
            var environment = isolatedAWSEnvironment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata.url])
            environment["AWS_EC2_METADATA_DISABLED"] = nil
            let provider = AWSCredentialProvider(environment: environment)
            let client = AWSServiceClient(endpoint: try AWSServiceEndpoint(url: metadata.url), signingName: "execute-api", region: "us-east-1")
            let first = try await provider.credentials()
            var keys: Set<String> = []
            let started = ContinuousClock.now
            var requests = 0
            while ContinuousClock.now - started < .seconds(11) {
                let credentials = try await provider.credentials()
                keys.insert(credentials.accessKeyID)
                _ = try await client.send("check", path: "/check", body: Array("request \(requests)".utf8), credentials: credentials)
                requests += 1
                try await Task.sleep(for: .milliseconds(250))
            }
            // The first credentials have expired by now: the check does refuse them.
            do {
                _ = try await client.send("check", path: "/check", credentials: first)
                Issue.record("expired credentials were accepted")
            } catch {
                #expect(error.message.contains("ExpiredToken"), "\(error)")
            }
            await client.close()
            #expect(keys.count >= 3, "\(keys.count) credentials over 11 s of 4 s credentials")
            #expect(await provider.fetchCount == keys.count)
            let stats = try JSONParser.parse(try await metadata.get("/stats").body)
            #expect(stats["checked"]?.int == Int64(requests) && stats["refused"]?.int == 1)
        }

        @Test func stsSourcesAreSignedAsMotoChecks() async throws {
            let moto = try await AWSStandIn.moto()
            defer { moto.stop() }
            let accessKey = moto.info["access_key"]!.string!
            let secretKey = moto.info["secret_key"]!.string!
            let role = moto.info["role_arn"]!.string!
            // role_arn + source_profile: AssumeRole signed with the base profile's keys.
            let credentials = try temporaryFile("[base]\naws_access_key_id = \(accessKey)\naws_secret_access_key = \(secretKey)\n[bad]\naws_access_key_id = \(accessKey)\naws_secret_access_key = wrong\n")
            let config = try temporaryFile("[profile app]\nrole_arn = \(role)\nsource_profile = base\nrole_session_name = migrate-it\n[profile badapp]\nrole_arn = \(role)\nsource_profile = bad\n")
            let files = ["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_ENDPOINT_URL": moto.url]
            let assumed = AWSCredentialProvider(environment: isolatedAWSEnvironment(files.merging(["AWS_PROFILE": "app"]) { $1 }))
            let resolved = try await assumed.resolve()
            #expect(resolved.credentials.accessKeyID.hasPrefix("ASIA") && resolved.credentials.sessionToken != nil && resolved.credentials.expiration != nil)
            #expect(resolved.summary.contains("profile app: \(role) assumed with profile base") && !resolved.summary.contains(resolved.credentials.secretAccessKey.reveal()))
            // The assumed credentials sign SSM and Secrets Manager calls moto verifies.
            let secrets = AWSSecretResolver(provider: assumed)
            #expect(try await secrets.resolve("${ssm:/migrate/pg-password}").reveal() == "ssm-s3cret")
            #expect(try await secrets.resolve("u:${secretsmanager:migrate/redis:password}@${secretsmanager:migrate/plain}").reveal() == "u:sm-json-s3cret@sm-plain-s3cret")
            // A wrong base secret: moto refuses the AssumeRole signature.
            let bad = AWSCredentialProvider(environment: isolatedAWSEnvironment(files.merging(["AWS_PROFILE": "badapp"]) { $1 }))
            do {
                _ = try await bad.credentials()
                Issue.record("a wrongly signed AssumeRole was accepted")
            } catch {
                #expect(error.description.contains("SignatureDoesNotMatch") || error.description.contains("InvalidClientTokenId"), "\(error)")
            }
            // Web identity (IRSA). Real STS takes AssumeRoleWithWebIdentity unsigned; moto's checking wants a
            // signature there, so exactly that one action is let through.
            let token = try temporaryFile("eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl\n")
            let webIdentity = AWSCredentialProvider(environment: isolatedAWSEnvironment([
                "AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ROLE_ARN": role, "AWS_ROLE_SESSION_NAME": "irsa", "AWS_ENDPOINT_URL": moto.url]))
            try await moto.allowUnauthenticated(1)
            let fromToken = try await webIdentity.resolve()
            #expect(fromToken.source == .webIdentity(roleARN: role, tokenFile: token, sessionName: "irsa"))
            #expect(try await AWSSecretResolver(provider: webIdentity).resolve("${secretsmanager:migrate/plain}").reveal() == "sm-plain-s3cret")
            // A missing secret is an error naming the reference, not a value.
            do {
                _ = try await secrets.resolve("${secretsmanager:migrate/missing}")
                Issue.record("a missing secret resolved")
            } catch {
                #expect(error.description.contains("${secretsmanager:migrate/missing}") && error.code == "ResourceNotFoundException", "\(error)")
            }
            do {
                _ = try await secrets.resolve("${secretsmanager:migrate/redis:nokey}")
                Issue.record("a missing JSON key resolved")
            } catch {
                #expect(error.code == "NoSuchKey" && !error.description.contains("sm-json-s3cret"), "\(error)")
            }
        }
    }
}

extension Integration {
    /// `migrate plan` with the credential chain and AWS secrets, as a run inside AWS would have them.
    @Suite struct AWSPlan {
        @Test func planNamesTheCredentialSourceAndResolvesSecretsWithoutShowingThem() async throws {
            let directory = checkpointDirectory()
            // Neptune IAM with a container endpoint (ECS task role) that issues the Neptune stand-in's keys.
            let metadata = try await AWSStandIn.metadata(["--access-key", Servers.value("NEPTUNE_ACCESS_KEY_ID"), "--secret-key", Servers.value("NEPTUNE_SECRET_ACCESS_KEY"),
                                                          "--session-token", Servers.value("NEPTUNE_SESSION_TOKEN"), "--lifetime", "900"])
            defer { metadata.stop() }
            let iamConfiguration = directory + "/iam.yaml"
            try """
                checkpoint-dir: \(directory)/checkpoints
                graph:
                  source: \(Servers.value("BOLT_URL"))
                  source-user: \(Servers.value("BOLT_USER"))
                  source-password: ${BOLT_PASSWORD}
                  target: \(Servers.value("NEPTUNE_IAM_URL"))
                  target-ca-file: \(Servers.value("GRAPH_CA"))
                  iam: true
                """.write(toFile: iamConfiguration, atomically: true, encoding: .utf8)
            let taskRole = isolatedAWSEnvironment(["AWS_CONTAINER_CREDENTIALS_FULL_URI": metadata.url + "/v2/credentials/standin",
                                                   "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": ""])
            let plan = try await CLI.run(["plan", "--config", iamConfiguration], environment: taskRole)
            #expect(plan.status == 0, "\(plan.output)")
            #expect(plan.stdout.contains("AWS credentials") && plan.stdout.contains("container endpoint \(metadata.url)/v2/credentials/standin, temporary, expire"), "\(plan.stdout)")
            #expect(!plan.output.contains(Servers.value("NEPTUNE_SECRET_ACCESS_KEY")) && !plan.output.contains(Servers.value("NEPTUNE_SESSION_TOKEN")))

            // Passwords from Secrets Manager and SSM (moto, signatures checked), resolved when the phase runs.
            let moto = try await AWSStandIn.moto(["--secret", "migrate/redis-auth=" + Servers.authPassword,
                                                  "--parameter", "/migrate/bolt-password=" + Servers.value("BOLT_PASSWORD")])
            defer { moto.stop() }
            let secretsConfiguration = directory + "/secrets.yaml"
            try """
                checkpoint-dir: \(directory)/checkpoints
                keys:
                  source: \(Servers.source)
                  target: \(Servers.auth)
                  target-password: ${secretsmanager:migrate/redis-auth}
                graph:
                  source: \(Servers.value("BOLT_URL"))
                  source-user: \(Servers.value("BOLT_USER"))
                  source-password: ${ssm:/migrate/bolt-password}
                  target: \(Servers.value("NEPTUNE_URL"))
                  target-ca-file: \(Servers.value("GRAPH_CA"))
                """.write(toFile: secretsConfiguration, atomically: true, encoding: .utf8)
            let motoUser = isolatedAWSEnvironment(["AWS_ACCESS_KEY_ID": moto.info["access_key"]!.string!, "AWS_SECRET_ACCESS_KEY": moto.info["secret_key"]!.string!,
                                                   "AWS_SESSION_TOKEN": "", "AWS_ENDPOINT_URL": moto.url, "BOLT_PASSWORD": "", "AWS_PROFILE": ""])
            let resolved = try await CLI.run(["plan", "--config", secretsConfiguration, "--json"], environment: motoUser)
            #expect(resolved.status == 0, "\(resolved.output)")
            #expect(!resolved.output.contains(Servers.authPassword) && !resolved.output.contains(Servers.value("BOLT_PASSWORD")))
            // A secret that does not exist is the phase's problem, named by its reference.
            try String(contentsOfFile: secretsConfiguration, encoding: .utf8).replacingOccurrences(of: "migrate/redis-auth", with: "migrate/nope")
                .write(toFile: secretsConfiguration, atomically: true, encoding: .utf8)
            let missing = try await CLI.run(["plan", "--config", secretsConfiguration], environment: motoUser)
            #expect(missing.status == 2, "\(missing.output)")
            #expect(missing.stdout.contains("keys: 1 PROBLEM") && missing.stdout.contains("${secretsmanager:migrate/nope}") && missing.stdout.contains("ResourceNotFoundException"), "\(missing.stdout)")
        }
    }
}
