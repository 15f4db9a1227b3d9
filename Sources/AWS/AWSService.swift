import Failures
import Foundation
import HTTP
import JSON
import Transport

/// An AWS service's endpoint: the regional AWS one, or the one `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`
/// or the profile's `endpoint_url` names (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), as in the AWS SDKs.
public struct AWSServiceEndpoint: Sendable, Equatable {
    /// Host and port.
    public var endpoint: Endpoint
    /// TLS for https.
    public var tls: TLSConfiguration?
    /// A path prefix the endpoint URL carried (usually empty), without a trailing `/`.
    public var basePath: String
    /// Whether the endpoint was configured rather than AWS's own.
    public var isCustom: Bool

    /// The endpoint URL as it may be shown.
    public var url: String {
        "\(tls == nil ? "http" : "https")://\(hostHeader)\(basePath)"
    }

    /// The `Host` header for requests.
    public var hostHeader: String {
        let defaultPort = tls == nil ? 80 : 443
        return endpoint.port == defaultPort ? endpoint.host : endpoint.description
    }

    /// The endpoint at `url` (`http://` or `https://`).
    public init(url: String) throws(AWSError) {
        let parsed: ServiceURI
        do {
            parsed = try ServiceURI(url, defaultPorts: ["http": 80, "https": 443])
        } catch {
            throw AWSError(operation: "endpoint \(url)", status: 0, code: "InvalidEndpoint", message: error.description)
        }
        guard parsed.scheme == "http" || parsed.scheme == "https" else {
            throw AWSError(operation: "endpoint \(url)", status: 0, code: "InvalidEndpoint", message: "use http:// or https://")
        }
        endpoint = parsed.endpoint
        tls = parsed.scheme == "https" ? TLSConfiguration() : nil
        let trimmed = parsed.path.hasSuffix("/") ? String(parsed.path.dropLast()) : parsed.path
        basePath = trimmed.isEmpty ? "" : "/" + trimmed
        isCustom = true
    }

    /// The endpoint for `service`: `serviceID` is the SDKs' identifier (`STS`, `SECRETS_MANAGER`, `SSM`, `S3`)
    /// and `hostPrefix` the AWS host's first label (`sts`, `secretsmanager`).
    public static func resolve(serviceID: String, hostPrefix: String, region: String, environment: [String: String],
                               profile: [String: String] = [:]) throws(AWSError) -> AWSServiceEndpoint {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if value("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.lowercased() != "true",
           let url = value("AWS_ENDPOINT_URL_\(serviceID)") ?? value("AWS_ENDPOINT_URL") ?? profile["endpoint_url"] {
            return try AWSServiceEndpoint(url: url)
        }
        var resolved = try AWSServiceEndpoint(url: "https://\(hostPrefix).\(region).amazonaws.com")
        resolved.isCustom = false
        return resolved
    }
}

/// Why an AWS API call failed, with the service's own error code and message.
public struct AWSError: TransientFailure, Sendable, Equatable, CustomStringConvertible {
    /// What was asked, e.g. `STS AssumeRole`.
    public var operation: String
    /// The HTTP status (0 when no answer came).
    public var status: Int
    /// The service's error code (`AccessDenied`, `ResourceNotFoundException`, ...).
    public var code: String
    /// The service's message.
    public var message: String

    public init(operation: String, status: Int, code: String, message: String) {
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String {
        status == 0 ? "\(operation) failed: \(message)" : "\(operation) refused (HTTP \(status) \(code)): \(message)"
    }

    /// 5xx, throttling and lost connections are worth retrying.
    public var isTransient: Bool {
        status >= 500 || status == 429 || (status == 0 && code == "Transport") || code.contains("Throttl") || code == "RequestTimeout"
    }

    /// The error in `response`: XML (`<Code>`, `<Message>`) or JSON (`__type`, `message`).
    static func from(_ response: HTTPResponse, operation: String) -> AWSError {
        let text = response.text
        if let json = try? JSONParser.parse(response.body) {
            let type = json["__type"]?.string ?? json["code"]?.string ?? "HTTP \(response.status)"
            return AWSError(operation: operation, status: response.status, code: String(type.split(separator: "#").last ?? Substring(type)),
                            message: json["message"]?.string ?? json["Message"]?.string ?? String(text.prefix(300)))
        }
        return AWSError(operation: operation, status: response.status, code: XMLText.first("Code", in: text) ?? "HTTP \(response.status)",
                        message: XMLText.first("Message", in: text) ?? String(text.prefix(300)))
    }
}

/// The few XML elements AWS answers carry, read without a full parser (their texts are entity-escaped).
enum XMLText {
    static func first(_ element: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(element)>"), let close = text.range(of: "</\(element)>", range: open.upperBound..<text.endIndex) else { return nil }
        return unescape(String(text[open.upperBound..<close.lowerBound]))
    }

    /// The texts of every `<element>` in order.
    static func all(_ element: String, in text: String) -> [String] {
        var result: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(element)>"), let close = rest.range(of: "</\(element)>", range: open.upperBound..<rest.endIndex) {
            result.append(unescape(String(rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return result
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}

/// A client for one AWS service endpoint that signs its requests with SigV4. Belongs to one task.
public final class AWSServiceClient {
    /// Where requests go.
    public let endpoint: AWSServiceEndpoint
    /// The signing name (`sts`, `secretsmanager`, `ssm`, `s3`).
    public let signingName: String
    /// The signing region.
    public let region: String
    private let http: HTTPClient

    public init(endpoint: AWSServiceEndpoint, signingName: String, region: String, options: ConnectionOptions = ConnectionOptions()) {
        self.endpoint = endpoint
        self.signingName = signingName
        self.region = region
        var options = options
        options.tls = endpoint.tls
        self.http = HTTPClient(endpoint: endpoint.endpoint, options: options)
    }

    public func close() async {
        await http.close()
    }

    /// Sends a request, signed with `credentials` (unsigned when `nil`), and returns a 2xx answer; other
    /// statuses throw the service's error. `path` is below the endpoint's base path, encoded as sent.
    public func send(_ operation: String, method: String = "POST", path: String = "/", query: [(String, String)] = [],
                     headers: [(String, String)] = [], body: [UInt8] = [], credentials: AWSCredentials?) async throws(AWSError) -> HTTPResponse {
        let fullPath = endpoint.basePath + path
        let queryText = query.map { SigV4Signer.encode($0.0) + "=" + SigV4Signer.encode($0.1) }.joined(separator: "&")
        let target = queryText.isEmpty ? fullPath : fullPath + "?" + queryText
        var signed = [("Host", endpoint.hostHeader)] + headers
        if let credentials {
            // S3 sends the payload hash as x-amz-content-sha256: signing reuses it rather than hashing again.
            let declared = signed.first { $0.0.lowercased() == "x-amz-content-sha256" }?.1
            let signer = SigV4Signer(credentials: credentials, region: region, service: signingName)
            signed += signer.signatureHeaders(method: method, path: fullPath, query: query, headers: signed, payload: body,
                                              date: SigV4Signer.timestamp(secondsSince1970: Int64(Date().timeIntervalSince1970)), payloadHash: declared)
        }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: method, path: target, headers: signed.dropFirst().map { (name: $0.0, value: $0.1) }, body: body))
        } catch {
            throw AWSError(operation: operation, status: 0, code: error.isTransient ? "Transport" : "Connection", message: "\(endpoint.url): \(error)")
        }
        guard (200..<300).contains(response.status) else { throw AWSError.from(response, operation: operation) }
        return response
    }

    /// Calls an operation of an AWS JSON 1.1 protocol service (Secrets Manager, SSM): `POST /` with
    /// `X-Amz-Target: <targetPrefix>.<action>` and a JSON body; returns the JSON answer.
    public func callJSON(targetPrefix: String, action: String, _ parameters: JSONValue, credentials: AWSCredentials,
                         operation: String) async throws(AWSError) -> JSONValue {
        let response = try await send(operation, headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "\(targetPrefix).\(action)")],
                                      body: JSONWriter.bytes(parameters), credentials: credentials)
        do {
            return try JSONParser.parse(response.body)
        } catch {
            throw AWSError(operation: operation, status: response.status, code: "MalformedResponse", message: "not JSON: \(response.text.prefix(200))")
        }
    }
}

/// `application/x-www-form-urlencoded` text of `fields`, as the AWS query protocol (STS) takes it.
func formEncoded(_ fields: [(String, String)]) -> [UInt8] {
    Array(fields.map { SigV4Signer.encode($0.0) + "=" + SigV4Signer.encode($0.1) }.joined(separator: "&").utf8)
}
