import Failures
import Foundation
import Hashing
import HTTP
import Transport

/// Where S3 is: AWS itself (`https://s3.<region>.amazonaws.com`) or an S3-compatible endpoint.
public struct S3Configuration: Sendable {
    /// The endpoint; requests use path-style addressing (`/bucket/key`).
    public var endpoint: Endpoint
    /// TLS for https endpoints.
    public var tls: TLSConfiguration?
    public var credentials: AWSCredentials
    public var region: String

    public init(endpoint: Endpoint, tls: TLSConfiguration?, credentials: AWSCredentials, region: String) {
        self.endpoint = endpoint
        self.tls = tls
        self.credentials = credentials
        self.region = region
    }

    /// The regional AWS endpoint over HTTPS.
    public static func aws(region: String, credentials: AWSCredentials) -> S3Configuration {
        S3Configuration(endpoint: Endpoint(host: "s3.\(region).amazonaws.com", port: 443), tls: TLSConfiguration(),
                        credentials: credentials, region: region)
    }
}

/// Why an S3 request failed, with S3's own error code and message.
public struct S3Error: TransientFailure, Sendable, CustomStringConvertible {
    public var status: Int
    public var body: String
    public var operation: String

    public var description: String {
        let code = body.firstMatch(of: /<Code>(.*?)<\/Code>/).map { String($0.1) } ?? "HTTP \(status)"
        let message = body.firstMatch(of: /<Message>(.*?)<\/Message>/).map { String($0.1) } ?? String(body.prefix(200))
        return "S3 refused \(operation): \(code): \(message)"
    }

    /// 5xx and throttling are worth retrying.
    public var isTransient: Bool { status >= 500 || status == 429 || body.contains("SlowDown") }
}

/// Uploads objects with SigV4-signed `PUT`s. Belongs to one task.
public final class S3Client {
    public let configuration: S3Configuration
    private let http: HTTPClient
    private let hostHeader: String

    public init(_ configuration: S3Configuration) {
        self.configuration = configuration
        self.http = HTTPClient(endpoint: configuration.endpoint, options: ConnectionOptions(tls: configuration.tls))
        let defaultPort = configuration.tls == nil ? 80 : 443
        self.hostHeader = configuration.endpoint.port == defaultPort ? configuration.endpoint.host : configuration.endpoint.description
    }

    public func close() async {
        await http.close()
    }

    /// `PUT /bucket/key` with `body`.
    public func put(bucket: String, key: String, body: [UInt8], contentType: String = "text/csv") async throws -> Void {
        let path = "/" + SigV4Signer.encode(bucket) + "/" + key.split(separator: "/", omittingEmptySubsequences: false).map { SigV4Signer.encode(String($0)) }.joined(separator: "/")
        var headers: [(String, String)] = [("Host", hostHeader), ("Content-Type", contentType),
                                           ("x-amz-content-sha256", SHA256Hasher.hash(body).hexString)]
        let signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region, service: "s3")
        headers += signer.signatureHeaders(method: "PUT", path: path, query: [], headers: headers, payload: body,
                                           date: SigV4Signer.timestamp(secondsSince1970: Int64(Date().timeIntervalSince1970)))
        let response = try await http.send(HTTPRequest(method: "PUT", path: path, headers: headers.filter { $0.0 != "Host" }.map { (name: $0.0, value: $0.1) }, body: body))
        guard (200..<300).contains(response.status) else {
            throw S3Error(status: response.status, body: response.text, operation: "PUT s3://\(bucket)/\(key)")
        }
    }
}
