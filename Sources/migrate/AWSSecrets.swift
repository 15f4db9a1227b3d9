import AWS

/// AWS secrets named in a phase's secret options (`${secretsmanager:NAME[:json-key]}`, `${ssm:/path}`).
enum AWSSecrets {
    /// `secrets` with their AWS references replaced by the values, fetched with the credential chain of the
    /// command environment. Values without references are returned as they are, without touching AWS.
    static func resolve(_ secrets: [String: String]) async throws -> [String: String] {
        guard secrets.values.contains(where: AWSSecretReference.occurs) else { return secrets }
        let resolver = AWSSecretResolver(provider: AWSCredentialProvider(environment: CommandEnvironment.current))
        var resolved = secrets
        for (name, value) in secrets where AWSSecretReference.occurs(in: value) {
            resolved[name] = try await resolver.resolve(value).reveal()
        }
        return resolved
    }
}
