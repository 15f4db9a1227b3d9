import Chronology
import Hashing
import Transport

/// AWS credentials: long-lived keys, or temporary ones with a session token and an expiry.
public struct AWSCredentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: Secret
    public var sessionToken: Secret?
    /// When temporary credentials stop working, in seconds since 1970; `nil` for long-lived keys.
    public var expiration: Int64?

    public init(accessKeyID: String, secretAccessKey: Secret, sessionToken: Secret? = nil, expiration: Int64? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    /// The credentials in `environment`, if the key id and secret are both there.
    public static func fromEnvironment(_ environment: [String: String]) -> AWSCredentials? {
        // An empty variable (`AWS_ACCESS_KEY_ID=` in a .env) is as good as none.
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let key = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") else { return nil }
        return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: value("AWS_SESSION_TOKEN").map(Secret.init))
    }
}

/// AWS Signature Version 4 for one request, computed exactly as botocore's `SigV4Auth` computes it.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    /// `neptune-db`, `s3`, ...
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to add to a request: `X-Amz-Date`, `X-Amz-Security-Token` (with a session token),
    /// `Authorization`. `headers` must include `Host`; every header given is signed.
    ///
    /// - Parameters:
    ///   - path: the request path, already URI-encoded as sent.
    ///   - query: decoded query items.
    ///   - date: the signing time in UTC as `yyyyMMdd'T'HHmmss'Z'`.
    ///   - payloadHash: the payload's SHA-256 in hex when the caller has it already (S3's `x-amz-content-sha256`).
    public func signatureHeaders(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                                 payload: [UInt8], date: String, payloadHash: String? = nil) -> [(String, String)] {
        var signed = headers.map { ($0.0.lowercased(), Self.trim($0.1)) }
        signed.append(("x-amz-date", date))
        var added = [("X-Amz-Date", date)]
        if let token = credentials.sessionToken {
            signed.append(("x-amz-security-token", token.reveal()))
            added.append(("X-Amz-Security-Token", token.reveal()))
        }
        signed.sort { $0.0 < $1.0 }
        let signedNames = signed.map(\.0).joined(separator: ";")
        let canonicalQuery = query.map { (Self.encode($0.0), Self.encode($0.1)) }.sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonicalRequest = [
            method, Self.normalizedPath(path), canonicalQuery,
            signed.map { "\($0.0):\($0.1)\n" }.joined(), signedNames, payloadHash ?? SHA256Hasher.hash(payload).hexString,
        ].joined(separator: "\n")
        let day = String(date.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", date, scope, SHA256Hasher.hash(Array(canonicalRequest.utf8)).hexString].joined(separator: "\n")
        var key = Array("AWS4\(credentials.secretAccessKey.reveal())".utf8)
        for part in [day, region, service, "aws4_request"] {
            key = HMACSHA256.authenticationCode(for: Array(part.utf8), key: key)
        }
        let signature = HMACSHA256.authenticationCode(for: Array(stringToSign.utf8), key: key).hexString
        added.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"))
        return added
    }

    /// RFC 3986 percent-encoding of everything but unreserved characters.
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || [0x2D, 0x2E, 0x5F, 0x7E].contains(byte) {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// The time as SigV4 wants it: `yyyyMMdd'T'HHmmss'Z'`.
    public static func timestamp(secondsSince1970: Int64) -> String {
        String(CivilTime.isoDateTime(secondsSince1970: secondsSince1970).filter { $0 != "-" && $0 != ":" }) + "Z"
    }

    private static func trim(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// botocore normalizes the path (removes dot segments) and encodes it once more, keeping `/`.
    private static func normalizedPath(_ path: String) -> String {
        let pathOnly = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        guard !pathOnly.isEmpty else { return "/" }
        return pathOnly.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            Self.encode(ServiceURI.percentDecode(segment))
        }.joined(separator: "/")
    }
}
