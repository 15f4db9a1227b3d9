import Foundation

/// Credentials as resolved: the keys, and the source that supplied them.
public struct ResolvedAWSCredentials: Sendable, Equatable {
    public var credentials: AWSCredentials
    public var source: AWSCredentialSource

    /// Which source and when the credentials expire, never a secret: for `migrate plan`.
    public var summary: String {
        guard let expiration = credentials.expiration else { return "\(source), long-lived keys \(credentials.accessKeyID.prefix(4))…" }
        return "\(source), temporary, expire \(SigV4Signer.isoTime(expiration)) (refreshed before)"
    }
}

/// The AWS credential chain, in the order the AWS SDKs use: the environment; web identity (IRSA); the shared
/// config and credentials files with `AWS_PROFILE` (keys, `role_arn` with `source_profile` or
/// `credential_source`, `credential_process`); the ECS / EKS Pod Identity container endpoint; EC2 instance
/// metadata (IMDSv2, unless `AWS_EC2_METADATA_DISABLED=true`).
///
/// Temporary credentials are fetched again before they expire (when less than half their lifetime, at most
/// 10 minutes, is left), so a run of hours keeps signing; concurrent callers share one refresh.
public actor AWSCredentialProvider {
    private let context: CredentialContext
    private let now: @Sendable () -> Int64
    private var source: AWSCredentialSource?
    private var current: (credentials: AWSCredentials, refreshAt: Int64?)?
    private var refreshing: Task<AWSCredentials, any Error>?
    /// How many times credentials were fetched (the first time included).
    public private(set) var fetchCount = 0

    /// The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, or the profile's `region`.
    public nonisolated let region: String?
    /// The selected profile's settings (for `endpoint_url`).
    public nonisolated let profileSettings: [String: String]
    /// The environment the chain reads.
    public nonisolated let environment: [String: String]

    /// A chain reading `environment` and the shared files it points at. `now` is seconds since 1970 (for tests).
    public init(environment: [String: String], now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        let config = AWSSharedConfig(environment: environment)
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? config.selected["region"]
        self.context = CredentialContext(environment: environment, config: config, region: region)
        self.region = region
        self.profileSettings = config.selected
        self.environment = environment
        self.now = now
    }

    /// Credentials valid now, fetched or refreshed as needed.
    public func credentials() async throws(AWSCredentialError) -> AWSCredentials {
        try await resolve().credentials
    }

    /// The credentials and their source.
    public func resolve() async throws(AWSCredentialError) -> ResolvedAWSCredentials {
        let time = now()
        if let current, current.refreshAt.map({ time < $0 }) ?? true, let source {
            return ResolvedAWSCredentials(credentials: current.credentials, source: source)
        }
        do {
            let fresh = try await refresh()
            return ResolvedAWSCredentials(credentials: fresh, source: source!)
        } catch {
            // A failed refresh while the old credentials still work: keep signing with them, try again next time.
            if let current, let source, let expiration = current.credentials.expiration, time < expiration {
                return ResolvedAWSCredentials(credentials: current.credentials, source: source)
            }
            throw error
        }
    }

    private func refresh() async throws(AWSCredentialError) -> AWSCredentials {
        if let refreshing {
            do {
                return try await refreshing.value
            } catch {
                throw error as? AWSCredentialError ?? AWSCredentialError("\(error)")
            }
        }
        let chosen: AWSCredentialSource
        if let source {
            chosen = source
        } else {
            guard let found = try AWSCredentialSource.configured(context) else {
                throw AWSCredentialError("no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, AWS_PROFILE, or run with a task role, IRSA, Pod Identity or an instance profile (instance metadata is off: AWS_EC2_METADATA_DISABLED=true)")
            }
            chosen = found
        }
        let context = self.context
        let task = Task { () async throws -> AWSCredentials in try await chosen.fetch(context) }
        refreshing = task
        defer { refreshing = nil }
        let fetched: AWSCredentials
        do {
            fetched = try await task.value
        } catch {
            let failure = error as? AWSCredentialError ?? AWSCredentialError("\(error)")
            if source == nil, case .instanceMetadata = chosen {
                throw AWSCredentialError("no AWS credentials in the environment, web identity, profile or container endpoint, and instance metadata gave none (\(failure)); set AWS_EC2_METADATA_DISABLED=true off EC2")
            }
            throw failure
        }
        source = chosen
        fetchCount += 1
        let time = now()
        let refreshAt = fetched.expiration.map { expiration in expiration - min(600, max(0, (expiration - time) / 2)) }
        current = (fetched, refreshAt)
        return fetched
    }
}

extension SigV4Signer {
    /// `2026-12-03T16:00:00Z`.
    static func isoTime(_ seconds: Int64) -> String {
        let text = timestamp(secondsSince1970: seconds)
        // yyyyMMddTHHmmssZ → yyyy-MM-ddTHH:mm:ssZ
        let c = Array(text)
        return String(c[0..<4]) + "-" + String(c[4..<6]) + "-" + String(c[6..<8]) + "T" + String(c[9..<11]) + ":" + String(c[11..<13]) + ":" + String(c[13..<15]) + "Z"
    }
}
