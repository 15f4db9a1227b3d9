import Foundation
import HTTP
import Testing
import Transport
@testable import AWS

@Suite struct SharedConfigTests {
    @Test func profilesComeFromBothFilesTheCredentialsFileWinning() {
        let config = AWSSharedConfig(config: """
            # comment
            [default]
            region = eu-west-1
            [profile dev]
            region = us-east-2   # inline comment
            role_arn = arn:aws:iam::1:role/r
            source_profile = base
            s3 =
              max_concurrent_requests = 20
            [sso-session corp]
            sso_region = us-east-1
            """, credentials: """
            [base]
            aws_access_key_id = AKIABASE
            aws_secret_access_key = base/secret
            [dev]
            region = ap-south-1
            """, profile: "dev")
        #expect(config.selectedProfile == "dev" && config.profileNamedExplicitly)
        #expect(config.profile("default") == ["region": "eu-west-1"])
        #expect(config.selected == ["region": "ap-south-1", "role_arn": "arn:aws:iam::1:role/r", "source_profile": "base", "s3": ""])
        #expect(config.profile("base")?["aws_secret_access_key"] == "base/secret")
        #expect(config.profile("corp") == nil)
    }
}

@Suite struct CredentialChainOrderTests {
    func source(_ environment: [String: String], config: String = "", credentials: String = "") throws(AWSCredentialError) -> AWSCredentialSource? {
        let shared = AWSSharedConfig(config: config, credentials: credentials,
                                     profile: environment["AWS_PROFILE"])
        return try AWSCredentialSource.configured(CredentialContext(environment: environment, config: shared, region: "us-east-1"))
    }

    let keys = "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n"

    @Test func followsTheSDKOrder() throws {
        let all = ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:r",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"]
        #expect(try source(all, credentials: keys) == .environment)
        var rest = all
        rest["AWS_ACCESS_KEY_ID"] = ""  // empty is unset
        #expect(try source(rest, credentials: keys) == .webIdentity(roleARN: "arn:r", tokenFile: "/t", sessionName: "migrate"))
        rest["AWS_ROLE_ARN"] = nil
        #expect(try source(rest, credentials: keys) == .profileKeys(profile: "default"))
        #expect(try source(rest) == .container(url: "http://169.254.170.2/v2/credentials/x"))
        #expect(try source(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds"]) == .container(url: "http://127.0.0.1:9/creds"))
        #expect(try source([:]) == .instanceMetadata(endpoint: "http://169.254.169.254"))
        #expect(try source(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1"]) == .instanceMetadata(endpoint: "http://127.0.0.1:1"))
        #expect(try source(["AWS_EC2_METADATA_DISABLED": "true"]) == nil)
    }

    @Test func profilesAssumeRolesFromSourceProfilesAndRunProcesses() throws {
        let config = """
            [profile app]
            role_arn = arn:aws:iam::1:role/app
            role_session_name = s1
            external_id = ext
            source_profile = middle
            [profile middle]
            role_arn = arn:aws:iam::1:role/middle
            source_profile = base
            [profile tool]
            credential_process = /usr/bin/get-creds --json
            [profile task]
            role_arn = arn:aws:iam::1:role/t
            credential_source = Ec2InstanceMetadata
            [profile loop]
            role_arn = arn:aws:iam::1:role/l
            source_profile = loop2
            [profile loop2]
            role_arn = arn:aws:iam::1:role/l2
            source_profile = loop
            """
        let credentials = "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = s\n"
        #expect(try source(["AWS_PROFILE": "app"], config: config, credentials: credentials) == .assumeRole(
            profile: "app", roleARN: "arn:aws:iam::1:role/app", sessionName: "s1", externalID: "ext", durationSeconds: nil,
            source: .assumeRole(profile: "middle", roleARN: "arn:aws:iam::1:role/middle", sessionName: "migrate", externalID: nil, durationSeconds: nil,
                                source: .profileKeys(profile: "base"))))
        #expect(try source(["AWS_PROFILE": "tool"], config: config) == .process(profile: "tool", command: "/usr/bin/get-creds --json"))
        #expect(try source(["AWS_PROFILE": "task"], config: config) == .assumeRole(
            profile: "task", roleARN: "arn:aws:iam::1:role/t", sessionName: "migrate", externalID: nil, durationSeconds: nil,
            source: .instanceMetadata(endpoint: "http://169.254.169.254")))
        #expect(throws: AWSCredentialError.self) { try source(["AWS_PROFILE": "loop"], config: config) }
        do {
            _ = try source(["AWS_PROFILE": "nope"], config: config)
            Issue.record("a missing named profile was accepted")
        } catch {
            #expect(error.description.contains("'nope', which is in neither"))
        }
    }
}

@Suite struct EndpointTests {
    @Test func serviceEndpointsFollowTheStandardVariables() throws {
        let standard = try AWSServiceEndpoint.resolve(serviceID: "STS", hostPrefix: "sts", region: "eu-west-1", environment: [:])
        #expect(standard.url == "https://sts.eu-west-1.amazonaws.com" && !standard.isCustom)
        let environment = ["AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:6000/base/"]
        #expect(try AWSServiceEndpoint.resolve(serviceID: "STS", hostPrefix: "sts", region: "eu-west-1", environment: environment).url == "http://127.0.0.1:5000")
        let secrets = try AWSServiceEndpoint.resolve(serviceID: "SECRETS_MANAGER", hostPrefix: "secretsmanager", region: "eu-west-1", environment: environment)
        #expect(secrets.url == "http://127.0.0.1:6000/base" && secrets.basePath == "/base" && secrets.tls == nil)
        #expect(try AWSServiceEndpoint.resolve(serviceID: "SSM", hostPrefix: "ssm", region: "r", environment: [:], profile: ["endpoint_url": "https://ssm.local"]).url == "https://ssm.local")
        let ignored = environment.merging(["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"]) { $1 }
        #expect(try AWSServiceEndpoint.resolve(serviceID: "SSM", hostPrefix: "ssm", region: "r", environment: ignored).url == "https://ssm.r.amazonaws.com")
    }

    @Test func answersAndTimesAreRead() {
        #expect(ISOTime.seconds("2015-08-30T12:36:00Z") == 1_440_938_160)
        #expect(ISOTime.seconds("2015-08-30T12:36:00.123Z") == 1_440_938_160)
        #expect(SigV4Signer.isoTime(1_440_938_160) == "2015-08-30T12:36:00Z")
        func response(_ status: Int, _ body: String) -> HTTPResponse {
            var parser = HTTPResponseParser()
            parser.feed(Array("HTTP/1.1 \(status) X\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
            return try! parser.response()!
        }
        let error = AWSError.from(response(400, #"{"__type":"com.amazon#ResourceNotFoundException","Message":"no such"}"#), operation: "op")
        #expect(error.code == "ResourceNotFoundException" && error.message == "no such")
        let xml = AWSError.from(response(403, "<Error><Code>AccessDenied</Code><Message>a &amp; b</Message></Error>"), operation: "op")
        #expect(xml.code == "AccessDenied" && xml.message == "a & b")
    }
}

@Suite struct SecretReferenceTests {
    @Test func referencesAreParsedWithARNsAndJSONKeys() {
        #expect(AWSSecretReference(inner: "secretsmanager:prod/redis") == .secretsManager(name: "prod/redis", jsonKey: nil))
        #expect(AWSSecretReference(inner: "secretsmanager:prod/redis:password") == .secretsManager(name: "prod/redis", jsonKey: "password"))
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/redis-AbCdEf"
        #expect(AWSSecretReference(inner: Substring("secretsmanager:" + arn)) == .secretsManager(name: arn, jsonKey: nil))
        #expect(AWSSecretReference(inner: Substring("secretsmanager:" + arn + ":user")) == .secretsManager(name: arn, jsonKey: "user"))
        #expect(AWSSecretReference(inner: "ssm:/prod/pg") == .parameter(name: "/prod/pg"))
        #expect(AWSSecretReference(inner: "secretsmanager:") == nil)
        #expect(AWSSecretReference(inner: "secretsmanager:a:") == nil)
        #expect(AWSSecretReference(inner: "source:X") == nil)
        #expect(AWSSecretReference.occurs(in: "a${ssm:/x}b") && !AWSSecretReference.occurs(in: "${source:X}"))
    }
}

/// A `credential_process` that prints credentials expiring `lifetime` seconds after the fake clock's time,
/// with a new key each run (the run count is kept in a file).
@Suite struct CredentialRefreshTests {
    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int64
        init(_ value: Int64) { self.value = value }
        var now: Int64 { lock.withLock { value } }
        func advance(_ seconds: Int64) { lock.withLock { value += seconds } }
    }

    func processProfile(lifetimeFrom start: Int64, lifetime: Int64, failAfter: Int? = nil) throws -> [String: String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let counter = directory.appendingPathComponent("count").path
        let script = directory.appendingPathComponent("creds.sh").path
        // The expiry follows the run count: run n expires at start + n * lifetime.
        try """
            #!/bin/sh
            n=$(($(cat \(counter) 2>/dev/null || echo 0) + 1)); echo $n > \(counter)
            \(failAfter.map { "[ $n -gt \($0) ] && exit 7" } ?? "")
            exp=$(date -u -d @$((\(start) + n * \(lifetime))) +%Y-%m-%dT%H:%M:%SZ)
            printf '{"Version": 1, "AccessKeyId": "AKIAPROC%s", "SecretAccessKey": "proc-secret-%s", "SessionToken": "tok%s", "Expiration": "%s"}' $n $n $n $exp
            """.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        try "[profile tool]\ncredential_process = \(script)\nregion = eu-central-1\n".write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        return ["AWS_CONFIG_FILE": directory.appendingPathComponent("config").path, "AWS_SHARED_CREDENTIALS_FILE": directory.appendingPathComponent("none").path,
                "AWS_PROFILE": "tool", "HOME": directory.path]
    }

    @Test func temporaryCredentialsAreFetchedAgainBeforeTheyExpire() async throws {
        let start: Int64 = 1_800_000_000
        let clock = Clock(start)
        let provider = AWSCredentialProvider(environment: try processProfile(lifetimeFrom: start, lifetime: 1200), now: { clock.now })
        #expect(provider.region == "eu-central-1")
        let first = try await provider.resolve()
        #expect(first.credentials.accessKeyID == "AKIAPROC1" && first.credentials.expiration == start + 1200)
        guard case .process(let profile, _) = first.source else { Issue.record("source \(first.source)"); return }
        #expect(profile == "tool")
        #expect(first.summary.contains("credential_process") && first.summary.contains("expire 2027-01-15T08:20:00Z"))
        #expect(!first.summary.contains("proc-secret"))
        clock.advance(500)  // 700 s left: more than the 600 s margin
        #expect(try await provider.credentials().accessKeyID == "AKIAPROC1")
        clock.advance(150)  // 550 s left: refreshed
        #expect(try await provider.credentials().accessKeyID == "AKIAPROC2")
        // Many callers at once share one refresh.
        clock.advance(2000)
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try await provider.credentials().accessKeyID } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(keys == ["AKIAPROC3"])
        #expect(await provider.fetchCount == 3)
    }

    @Test func aFailedRefreshKeepsValidCredentialsAndFailsOnceTheyExpire() async throws {
        let start: Int64 = 1_800_000_000
        let clock = Clock(start)
        let provider = AWSCredentialProvider(environment: try processProfile(lifetimeFrom: start, lifetime: 1200, failAfter: 1), now: { clock.now })
        #expect(try await provider.credentials().accessKeyID == "AKIAPROC1")
        clock.advance(1000)  // refresh due, the process fails, the old credentials still work
        #expect(try await provider.credentials().accessKeyID == "AKIAPROC1")
        clock.advance(300)  // expired
        await #expect(throws: AWSCredentialError.self) { try await provider.credentials() }
    }

    @Test func noSourceSaysWhatWasTried() async {
        let provider = AWSCredentialProvider(environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"])
        do {
            _ = try await provider.credentials()
            Issue.record("credentials from nowhere")
        } catch {
            #expect(error.description.contains("AWS_WEB_IDENTITY_TOKEN_FILE") && error.description.contains("AWS_EC2_METADATA_DISABLED=true"))
        }
    }

    @Test func instanceMetadataGivesUpQuicklyWhenNothingAnswers() async {
        // A closed loopback port: the 1 s budget, not a long TCP timeout.
        let provider = AWSCredentialProvider(environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"])
        let started = ContinuousClock.now
        await #expect(throws: AWSCredentialError.self) { try await provider.credentials() }
        #expect(ContinuousClock.now - started < .seconds(3))
    }
}
