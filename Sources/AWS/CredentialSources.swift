import BlockingIO
import Foundation
import HTTP
import JSON
import Transport

/// Where credentials come from, in the order the AWS SDKs look (see ``AWSCredentialProvider``).
public indirect enum AWSCredentialSource: Sendable, Equatable, CustomStringConvertible {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    case environment
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (IRSA), or a profile's `web_identity_token_file`, through STS
    /// `AssumeRoleWithWebIdentity`.
    case webIdentity(roleARN: String, tokenFile: String, sessionName: String)
    /// A profile's `aws_access_key_id` and `aws_secret_access_key`.
    case profileKeys(profile: String)
    /// A profile's `role_arn`, assumed with STS `AssumeRole` using the credentials of `source`.
    case assumeRole(profile: String, roleARN: String, sessionName: String, externalID: String?, durationSeconds: Int?, source: AWSCredentialSource)
    /// A profile's `credential_process`.
    case process(profile: String, command: String)
    /// The ECS task role or EKS Pod Identity endpoint.
    case container(url: String)
    /// The EC2 instance profile, from instance metadata with IMDSv2 tokens.
    case instanceMetadata(endpoint: String)

    /// Which source, as `migrate plan` shows it: never a secret.
    public var description: String {
        switch self {
        case .environment: return "environment (AWS_ACCESS_KEY_ID)"
        case .webIdentity(let role, let file, _): return "web identity: \(role) (token file \(file))"
        case .profileKeys(let profile): return "profile \(profile) (shared credentials)"
        case .assumeRole(let profile, let role, _, _, _, let source): return "profile \(profile): \(role) assumed with \(source)"
        case .process(let profile, _): return "profile \(profile): credential_process"
        case .container(let url): return "container endpoint \(url)"
        case .instanceMetadata(let endpoint): return "EC2 instance metadata (IMDSv2, \(endpoint))"
        }
    }
}

/// No credentials could be had.
public struct AWSCredentialError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What the credential sources read: the environment and the shared files.
struct CredentialContext: Sendable {
    var environment: [String: String]
    var config: AWSSharedConfig
    var region: String?

    func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
}

extension AWSCredentialSource {
    /// The first configured source, decided without the network except for the instance-metadata fallback,
    /// which is tried last unless `AWS_EC2_METADATA_DISABLED=true`.
    static func configured(_ context: CredentialContext) throws(AWSCredentialError) -> AWSCredentialSource? {
        if context.value("AWS_ACCESS_KEY_ID") != nil && context.value("AWS_SECRET_ACCESS_KEY") != nil { return .environment }
        if let tokenFile = context.value("AWS_WEB_IDENTITY_TOKEN_FILE"), let role = context.value("AWS_ROLE_ARN") {
            return .webIdentity(roleARN: role, tokenFile: tokenFile, sessionName: context.value("AWS_ROLE_SESSION_NAME") ?? defaultSessionName)
        }
        let config = context.config
        if config.profile(config.selectedProfile) != nil {
            if let source = try fromProfile(config.selectedProfile, context, visited: []) { return source }
        } else if config.profileNamedExplicitly {
            throw AWSCredentialError("AWS_PROFILE names the profile '\(config.selectedProfile)', which is in neither the config nor the credentials file")
        }
        if let relative = context.value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return .container(url: "http://169.254.170.2" + (relative.hasPrefix("/") ? relative : "/" + relative))
        }
        if let full = context.value("AWS_CONTAINER_CREDENTIALS_FULL_URI") { return .container(url: full) }
        if context.value("AWS_EC2_METADATA_DISABLED")?.lowercased() == "true" { return nil }
        return .instanceMetadata(endpoint: context.value("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? "http://169.254.169.254")
    }

    static let defaultSessionName = "migrate"

    /// A profile's credentials: a role (from a source profile, a credential source or a web identity token),
    /// a credential process, or keys.
    private static func fromProfile(_ name: String, _ context: CredentialContext, visited: [String]) throws(AWSCredentialError) -> AWSCredentialSource? {
        guard let settings = context.config.profile(name) else {
            throw AWSCredentialError("profile '\(visited.last ?? name)' names source_profile '\(name)', which does not exist")
        }
        if let role = settings["role_arn"] {
            let sessionName = settings["role_session_name"] ?? defaultSessionName
            let base: AWSCredentialSource
            if let tokenFile = settings["web_identity_token_file"] {
                return .webIdentity(roleARN: role, tokenFile: tokenFile, sessionName: sessionName)
            } else if let sourceProfile = settings["source_profile"] {
                guard !visited.contains(sourceProfile) || (sourceProfile == name && settings["aws_access_key_id"] != nil) else {
                    throw AWSCredentialError("profile '\(name)': source_profile chain loops through \((visited + [name, sourceProfile]).joined(separator: " → "))")
                }
                if sourceProfile == name {
                    base = .profileKeys(profile: name)
                } else {
                    guard let found = try fromProfile(sourceProfile, context, visited: visited + [name]) else {
                        throw AWSCredentialError("profile '\(name)': source_profile '\(sourceProfile)' has no credentials")
                    }
                    base = found
                }
            } else if let credentialSource = settings["credential_source"] {
                switch credentialSource {
                case "Environment": base = .environment
                case "EcsContainer":
                    guard case .container(let url)? = try configured(CredentialContext(
                        environment: context.environment.filter { !$0.key.hasPrefix("AWS_ACCESS_KEY") && $0.key != "AWS_SECRET_ACCESS_KEY" && $0.key != "AWS_WEB_IDENTITY_TOKEN_FILE" },
                        config: AWSSharedConfig(config: "", credentials: "", profile: nil), region: context.region)) else {
                        throw AWSCredentialError("profile '\(name)': credential_source EcsContainer but no AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI")
                    }
                    base = .container(url: url)
                case "Ec2InstanceMetadata": base = .instanceMetadata(endpoint: context.value("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? "http://169.254.169.254")
                default: throw AWSCredentialError("profile '\(name)': credential_source '\(credentialSource)' (use Environment, EcsContainer or Ec2InstanceMetadata)")
                }
            } else {
                throw AWSCredentialError("profile '\(name)' has role_arn but neither source_profile, credential_source nor web_identity_token_file")
            }
            return .assumeRole(profile: name, roleARN: role, sessionName: sessionName, externalID: settings["external_id"],
                               durationSeconds: settings["duration_seconds"].flatMap { Int($0) }, source: base)
        }
        if let command = settings["credential_process"] { return .process(profile: name, command: command) }
        if settings["aws_access_key_id"] != nil && settings["aws_secret_access_key"] != nil { return .profileKeys(profile: name) }
        return nil
    }

    /// Fetches credentials from this source.
    func fetch(_ context: CredentialContext) async throws(AWSCredentialError) -> AWSCredentials {
        switch self {
        case .environment:
            guard let found = AWSCredentials.fromEnvironment(context.environment) else { throw AWSCredentialError("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set") }
            return found
        case .profileKeys(let profile):
            let settings = context.config.profile(profile) ?? [:]
            guard let key = settings["aws_access_key_id"], let secret = settings["aws_secret_access_key"] else {
                throw AWSCredentialError("profile '\(profile)' has no aws_access_key_id/aws_secret_access_key")
            }
            return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: settings["aws_session_token"].map(Secret.init))
        case .webIdentity(let role, let tokenFile, let sessionName):
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw AWSCredentialError("web identity: cannot read the token file \(tokenFile)")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return try await STS.assumeRole(
                context, action: "AssumeRoleWithWebIdentity",
                fields: [("RoleArn", role), ("RoleSessionName", sessionName), ("WebIdentityToken", token)], signedWith: nil)
        case .assumeRole(_, let role, let sessionName, let externalID, let duration, let source):
            let base = try await source.fetch(context)
            var fields = [("RoleArn", role), ("RoleSessionName", sessionName)]
            if let externalID { fields.append(("ExternalId", externalID)) }
            if let duration { fields.append(("DurationSeconds", String(duration))) }
            return try await STS.assumeRole(context, action: "AssumeRole", fields: fields, signedWith: base)
        case .process(let profile, let command):
            return try await CredentialProcess.run(command, profile: profile)
        case .container(let url):
            return try await ContainerCredentials.fetch(url: url, context)
        case .instanceMetadata(let endpoint):
            return try await InstanceMetadata.fetch(endpoint: endpoint, context)
        }
    }
}

/// ISO 8601 times as AWS sends them (`2026-12-03T16:00:00Z`, with or without fractional seconds).
enum ISOTime {
    static func seconds(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970) }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) }
    }
}

/// Credentials in the JSON the container endpoint, instance metadata and `credential_process` answer with.
func credentials(fromJSON json: JSONValue, origin: String) throws(AWSCredentialError) -> AWSCredentials {
    guard let key = json["AccessKeyId"]?.string, let secret = json["SecretAccessKey"]?.string else {
        throw AWSCredentialError("\(origin): the answer has no AccessKeyId/SecretAccessKey")
    }
    var expiration: Int64?
    if let text = json["Expiration"]?.string {
        guard let parsed = ISOTime.seconds(text) else { throw AWSCredentialError("\(origin): Expiration '\(text)' is not an ISO 8601 time") }
        expiration = parsed
    }
    let token = json["Token"]?.string ?? json["SessionToken"]?.string
    return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: token.map(Secret.init), expiration: expiration)
}

/// STS `AssumeRole` and `AssumeRoleWithWebIdentity` (query protocol, XML answers).
enum STS {
    static func assumeRole(_ context: CredentialContext, action: String, fields: [(String, String)],
                           signedWith base: AWSCredentials?) async throws(AWSCredentialError) -> AWSCredentials {
        let region = context.region ?? "us-east-1"
        let client: AWSServiceClient
        do {
            let endpoint = try AWSServiceEndpoint.resolve(serviceID: "STS", hostPrefix: "sts", region: region, environment: context.environment,
                                                          profile: context.config.selected)
            client = AWSServiceClient(endpoint: endpoint, signingName: "sts", region: region,
                                      options: ConnectionOptions(connectTimeout: .seconds(10), ioTimeout: .seconds(30)))
        } catch {
            throw AWSCredentialError(error.description)
        }
        let body = formEncoded([("Action", action), ("Version", "2011-06-15")] + fields)
        let response: HTTPResponse
        do {
            response = try await client.send("STS \(action)", headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                                             body: body, credentials: base)
            await client.close()
        } catch {
            await client.close()
            throw AWSCredentialError(error.description)
        }
        let text = response.text
        guard let key = XMLText.first("AccessKeyId", in: text), let secret = XMLText.first("SecretAccessKey", in: text),
              let token = XMLText.first("SessionToken", in: text) else {
            throw AWSCredentialError("STS \(action): no Credentials in the answer")
        }
        return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: Secret(token),
                              expiration: XMLText.first("Expiration", in: text).flatMap(ISOTime.seconds))
    }
}

/// A profile's `credential_process`: a command that prints `{"Version": 1, "AccessKeyId", ...}`.
enum CredentialProcess {
    private static let queue = BlockingQueue(label: "migrate.aws.credential-process")

    static func run(_ command: String, profile: String) async throws(AWSCredentialError) -> AWSCredentials {
        let result: Result<(Int32, [UInt8]), AWSCredentialError> = await queue.run {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            let output = Pipe()
            process.standardOutput = output
            do {
                try process.run()
            } catch {
                return .failure(AWSCredentialError("profile '\(profile)': credential_process could not start: \(error)"))
            }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return .success((process.terminationStatus, Array(data)))
        }
        let (status, output) = try result.get()
        guard status == 0 else { throw AWSCredentialError("profile '\(profile)': credential_process exited with status \(status)") }
        let json: JSONValue
        do {
            json = try JSONParser.parse(output)
        } catch {
            throw AWSCredentialError("profile '\(profile)': credential_process printed no JSON: \(error)")
        }
        guard json["Version"]?.int == 1 else { throw AWSCredentialError("profile '\(profile)': credential_process answered without \"Version\": 1") }
        return try credentials(fromJSON: json, origin: "profile '\(profile)' credential_process")
    }
}

/// The ECS task-role / EKS Pod Identity endpoint: `GET` with the `Authorization` token from
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read each time: EKS rotates it) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
enum ContainerCredentials {
    /// Hosts plain http may use, as in the SDKs: loopback, the ECS and the EKS Pod Identity agent addresses.
    static let plainHTTPHosts: Set<String> = ["127.0.0.1", "localhost", "::1", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"]

    static func fetch(url: String, _ context: CredentialContext) async throws(AWSCredentialError) -> AWSCredentials {
        let endpoint: AWSServiceEndpoint
        do {
            endpoint = try AWSServiceEndpoint(url: url)
        } catch {
            throw AWSCredentialError("container endpoint: \(error)")
        }
        if endpoint.tls == nil && !plainHTTPHosts.contains(endpoint.endpoint.host) && !endpoint.endpoint.host.hasPrefix("127.") {
            throw AWSCredentialError("AWS_CONTAINER_CREDENTIALS_FULL_URI \(url): plain http only to loopback or 169.254.170.2/169.254.170.23; use https")
        }
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let file = context.value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            guard let data = FileManager.default.contents(atPath: file) else { throw AWSCredentialError("container endpoint: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file)") }
            headers.append(("Authorization", String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        } else if let token = context.value("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            headers.append(("Authorization", token))
        }
        let client = HTTPClient(endpoint: endpoint.endpoint, options: ConnectionOptions(connectTimeout: .seconds(2), ioTimeout: .seconds(5), tls: endpoint.tls))
        defer { Task { await client.close() } }
        let response: HTTPResponse
        do {
            response = try await client.send(HTTPRequest(method: "GET", path: endpoint.basePath.isEmpty ? "/" : endpoint.basePath, headers: headers))
        } catch {
            throw AWSCredentialError("container endpoint \(url): \(error)")
        }
        guard response.status == 200 else {
            throw AWSCredentialError("container endpoint \(url) answered HTTP \(response.status): \(response.text.prefix(200))")
        }
        do {
            return try credentials(fromJSON: try JSONParser.parse(response.body), origin: "container endpoint \(url)")
        } catch let error as AWSCredentialError {
            throw error
        } catch {
            throw AWSCredentialError("container endpoint \(url): not JSON: \(error)")
        }
    }
}

/// EC2 instance metadata with IMDSv2: `PUT /latest/api/token` (TTL header) for a session token, then the role
/// name and its credentials under `/latest/meta-data/iam/security-credentials/`. One attempt with a 1 s timeout
/// by default (`AWS_METADATA_SERVICE_TIMEOUT`, `AWS_METADATA_SERVICE_NUM_ATTEMPTS`), so a laptop is not kept waiting.
enum InstanceMetadata {
    static func fetch(endpoint url: String, _ context: CredentialContext) async throws(AWSCredentialError) -> AWSCredentials {
        let endpoint: AWSServiceEndpoint
        do {
            endpoint = try AWSServiceEndpoint(url: url)
        } catch {
            throw AWSCredentialError("AWS_EC2_METADATA_SERVICE_ENDPOINT: \(error)")
        }
        let timeout = context.value("AWS_METADATA_SERVICE_TIMEOUT").flatMap(Int.init) ?? 1
        let attempts = max(1, context.value("AWS_METADATA_SERVICE_NUM_ATTEMPTS").flatMap(Int.init) ?? 1)
        var lastError = AWSCredentialError("instance metadata: no attempt")
        for _ in 0..<attempts {
            do {
                return try await attempt(endpoint, timeout: timeout)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private static func attempt(_ endpoint: AWSServiceEndpoint, timeout: Int) async throws(AWSCredentialError) -> AWSCredentials {
        let client = HTTPClient(endpoint: endpoint.endpoint, options: ConnectionOptions(connectTimeout: .seconds(timeout), ioTimeout: .seconds(timeout), tls: endpoint.tls))
        defer { Task { await client.close() } }
        func get(_ path: String, _ headers: [(name: String, value: String)], method: String = "GET") async throws(AWSCredentialError) -> String {
            let response: HTTPResponse
            do {
                response = try await client.send(HTTPRequest(method: method, path: endpoint.basePath + path, headers: headers))
            } catch {
                throw AWSCredentialError("instance metadata \(endpoint.url): \(error)")
            }
            guard response.status == 200 else {
                throw AWSCredentialError("instance metadata \(method) \(path) answered HTTP \(response.status)")
            }
            return response.text
        }
        let token = try await get("/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], method: "PUT")
        let auth = [(name: "X-aws-ec2-metadata-token", value: token)]
        let roles = try await get("/latest/meta-data/iam/security-credentials/", auth)
        guard let role = roles.split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }), !role.isEmpty else {
            throw AWSCredentialError("instance metadata: the instance has no IAM role (no instance profile)")
        }
        let document = try await get("/latest/meta-data/iam/security-credentials/" + SigV4Signer.encode(role), auth)
        let json: JSONValue
        do {
            json = try JSONParser.parse(document)
        } catch {
            throw AWSCredentialError("instance metadata: role \(role): not JSON")
        }
        if let code = json["Code"]?.string, code != "Success" {
            throw AWSCredentialError("instance metadata: role \(role): \(code) \(json["Message"]?.string ?? "")")
        }
        return try credentials(fromJSON: json, origin: "instance metadata role \(role)")
    }
}
