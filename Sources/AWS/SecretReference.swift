import JSON
import Transport

/// A configuration value kept in AWS: `${secretsmanager:NAME}`, `${secretsmanager:NAME:json-key}` (one field of a
/// JSON secret) or `${ssm:/path}` (a parameter, SecureString decrypted). NAME may be a secret's ARN.
public enum AWSSecretReference: Sendable, Hashable, CustomStringConvertible {
    case secretsManager(name: String, jsonKey: String?)
    case parameter(name: String)

    /// The reference as written (never the value).
    public var description: String {
        switch self {
        case .secretsManager(let name, let key): return "${secretsmanager:\(name)\(key.map { ":" + $0 } ?? "")}"
        case .parameter(let name): return "${ssm:\(name)}"
        }
    }

    /// The reference inside `${…}` (`secretsmanager:…`, `ssm:…`), or `nil` for other text.
    public init?(inner: Substring) {
        if inner.hasPrefix("secretsmanager:") {
            let rest = inner.dropFirst("secretsmanager:".count)
            var name = rest
            var key: Substring?
            // An ARN (arn:aws:secretsmanager:region:account:secret:name) has six colons of its own.
            let ownColons = rest.hasPrefix("arn:") ? 6 : 0
            var seen = 0
            for index in rest.indices where rest[index] == ":" {
                if seen == ownColons {
                    name = rest[..<index]
                    key = rest[rest.index(after: index)...]
                    break
                }
                seen += 1
            }
            guard !name.isEmpty, key?.isEmpty != true else { return nil }
            self = .secretsManager(name: String(name), jsonKey: key.map(String.init))
        } else if inner.hasPrefix("ssm:") {
            let name = inner.dropFirst("ssm:".count)
            guard !name.isEmpty else { return nil }
            self = .parameter(name: String(name))
        } else {
            return nil
        }
    }

    /// Whether `text` holds at least one reference.
    public static func occurs(in text: String) -> Bool {
        text.contains("${secretsmanager:") || text.contains("${ssm:")
    }
}

/// Resolves ``AWSSecretReference``s with the credential chain's credentials (Secrets Manager `GetSecretValue`,
/// SSM `GetParameter` with decryption), each reference fetched once per resolver. Values are ``Secret``s;
/// errors name the reference, never a value.
public actor AWSSecretResolver {
    private let provider: AWSCredentialProvider
    private var cache: [AWSSecretReference: String] = [:]

    public init(provider: AWSCredentialProvider) {
        self.provider = provider
    }

    /// `text` with every `${secretsmanager:…}` and `${ssm:…}` replaced by its value; other text stays.
    public func resolve(_ text: String) async throws(AWSError) -> Secret {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}"),
                  let reference = AWSSecretReference(inner: rest[start.upperBound..<end]) else {
                result += rest[start]
                rest = rest[start.upperBound...]
                continue
            }
            result += try await value(of: reference)
            rest = rest[rest.index(after: end)...]
        }
        return Secret(result + rest)
    }

    private func value(of reference: AWSSecretReference) async throws(AWSError) -> String {
        if let cached = cache[reference] { return cached }
        let credentials: AWSCredentials
        do {
            credentials = try await provider.credentials()
        } catch {
            throw AWSError(operation: "resolving \(reference)", status: 0, code: "NoCredentials", message: error.description)
        }
        guard let region = provider.region else {
            throw AWSError(operation: "resolving \(reference)", status: 0, code: "NoRegion", message: "set AWS_REGION (or the profile's region)")
        }
        let value: String
        switch reference {
        case .secretsManager(let name, let key):
            let answer = try await call(serviceID: "SECRETS_MANAGER", host: "secretsmanager", target: "secretsmanager", action: "GetSecretValue",
                                        .object([("SecretId", .string(name))]), region: region, credentials: credentials, reference: reference)
            guard let text = answer["SecretString"]?.string else {
                throw AWSError(operation: "resolving \(reference)", status: 200, code: "NoSecretString", message: "the secret holds binary data, not text")
            }
            if let key {
                guard let json = try? JSONParser.parse(text), case .object = json else {
                    throw AWSError(operation: "resolving \(reference)", status: 200, code: "NotJSON", message: "the secret is not a JSON object, so it has no key '\(key)'")
                }
                guard let field = json[key] else {
                    throw AWSError(operation: "resolving \(reference)", status: 200, code: "NoSuchKey", message: "the secret's JSON has no key '\(key)'")
                }
                value = field.string ?? JSONWriter.text(field)
            } else {
                value = text
            }
        case .parameter(let name):
            let answer = try await call(serviceID: "SSM", host: "ssm", target: "AmazonSSM", action: "GetParameter",
                                        .object([("Name", .string(name)), ("WithDecryption", .bool(true))]), region: region,
                                        credentials: credentials, reference: reference)
            guard let text = answer["Parameter"]?["Value"]?.string else {
                throw AWSError(operation: "resolving \(reference)", status: 200, code: "MalformedResponse", message: "no Parameter.Value in the answer")
            }
            value = text
        }
        cache[reference] = value
        return value
    }

    private func call(serviceID: String, host: String, target: String, action: String, _ parameters: JSONValue, region: String,
                      credentials: AWSCredentials, reference: AWSSecretReference) async throws(AWSError) -> JSONValue {
        let endpoint = try AWSServiceEndpoint.resolve(serviceID: serviceID, hostPrefix: host, region: region, environment: provider.environment,
                                                      profile: provider.profileSettings)
        let client = AWSServiceClient(endpoint: endpoint, signingName: host, region: region)
        do {
            let answer = try await client.callJSON(targetPrefix: target, action: action, parameters, credentials: credentials,
                                                   operation: "resolving \(reference) (\(action))")
            await client.close()
            return answer
        } catch {
            await client.close()
            throw error
        }
    }
}
