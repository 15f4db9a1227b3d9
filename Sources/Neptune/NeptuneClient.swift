import AWS
import Foundation
import HTTP
import JSON
import Transport
import Failures

/// Where an Amazon Neptune cluster is and how to reach it.
public struct NeptuneConfiguration: Sendable {
    /// Host and port (8182).
    public var endpoint: Endpoint
    /// TLS (Neptune requires it; verified against the system CAs or `caFile`).
    public var tls: TLSConfiguration?
    /// IAM credentials; requests are signed with SigV4 (service `neptune-db`) when set.
    public var credentials: AWSCredentials?
    /// The AWS credential chain; when set, requests are signed with what it supplies (refreshed before expiry)
    /// instead of `credentials`.
    public var credentialProvider: AWSCredentialProvider?
    /// The cluster's region.
    public var region: String
    /// How long connecting may take.
    public var connectTimeout: Duration
    /// How long one request may take.
    public var requestTimeout: Duration
    /// The URL as it may be shown.
    public var displayName: String

    public init(endpoint: Endpoint, tls: TLSConfiguration?, credentials: AWSCredentials?, region: String,
                connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(120), displayName: String,
                credentialProvider: AWSCredentialProvider? = nil) {
        self.credentialProvider = credentialProvider
        self.endpoint = endpoint
        self.tls = tls
        self.credentials = credentials
        self.region = region
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.displayName = displayName
    }
}

/// Why a Neptune request failed; errors carry Neptune's code and detailed message.
public enum NeptuneError: TransientFailure, Sendable, Equatable, CustomStringConvertible {
    /// Neptune answered with an error status.
    case status(Int, code: String, message: String)
    /// No answer.
    case transport(HTTPError)
    /// An answer Neptune does not send.
    case malformed(String)
    /// The AWS credential chain supplied no credentials to sign with.
    case credentials(String)

    public var description: String {
        switch self {
        case .status(let status, let code, let message):
            var text = "Neptune refused the request (HTTP \(status) \(code)): \(message)"
            if status == 403 || code == "AccessDeniedException" {
                text += ". Check the AWS credentials (AWS_ACCESS_KEY_ID, the profile, the task or instance role: `migrate plan` names the source), --region, and that IAM auth is what the cluster expects (--iam)."
            }
            return text
        case .transport(let error): return "Neptune request failed: \(error)"
        case .malformed(let message): return "unexpected answer from Neptune: \(message)"
        case .credentials(let message): return "cannot sign the Neptune request: \(message)"
        }
    }

    /// Whether a retry may succeed: 5xx (concurrent modification, memory, time limits), throttling, lost
    /// connections. Never a 400: the request itself is wrong.
    public var isTransient: Bool {
        switch self {
        case .status(let status, let code, _):
            return status >= 500 || status == 429 || ["ConcurrentModificationException", "ThrottlingException", "TimeLimitExceededException",
                                                       "MemoryLimitExceededException", "ReadOnlyViolationException"].contains(code)
        case .transport(let error): return error.isTransient
        case .malformed, .credentials: return false
        }
    }
}

/// Neptune's openCypher HTTPS endpoint (`POST /openCypher`, form fields `query` and `parameters`), signed with
/// SigV4 when IAM credentials are configured. Belongs to one task.
public final class NeptuneClient {
    public let configuration: NeptuneConfiguration
    private let http: HTTPClient
    private let hostHeader: String

    public init(_ configuration: NeptuneConfiguration) {
        self.configuration = configuration
        self.http = HTTPClient(endpoint: configuration.endpoint, options: ConnectionOptions(
            connectTimeout: configuration.connectTimeout, ioTimeout: configuration.requestTimeout, tls: configuration.tls))
        let defaultPort = configuration.tls == nil ? 80 : 443
        self.hostHeader = configuration.endpoint.port == defaultPort ? configuration.endpoint.host : configuration.endpoint.description
    }

    public func close() async {
        await http.close()
    }

    /// Runs one openCypher query (its own transaction) and returns `results`.
    public func openCypher(_ query: String, parameters: JSONValue = .object([])) async throws(NeptuneError) -> [JSONValue] {
        let parameters = JSONWriter.bytes(parameters)
        var body: [UInt8] = []
        body.reserveCapacity(query.utf8.count + parameters.count * 3 / 2 + 20)
        body += "query=".utf8
        Self.formEncode(query.utf8, into: &body)
        body += "&parameters=".utf8
        Self.formEncode(parameters, into: &body)
        let response = try await send("POST", path: "/openCypher", contentType: "application/x-www-form-urlencoded", body: body)
        guard let results = response["results"]?.array else { throw .malformed("no results in \(JSONWriter.text(response).prefix(200))") }
        return results
    }

    /// RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) as they are, every other byte as `%XX`: a form
    /// field's value, written straight into the body (the JSON parameters of a batch run to megabytes).
    static func formEncode(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: out.append(byte)
            default:
                out.append(0x25)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
    }

    /// Sends a request to any Neptune HTTP endpoint (`/loader`, `/status`) and returns its JSON.
    public func send(_ method: String, path: String, contentType: String? = nil, body: [UInt8] = []) async throws(NeptuneError) -> JSONValue {
        var headers: [(name: String, value: String)] = [("Host", hostHeader)]
        if let contentType { headers.append(("Content-Type", contentType)) }
        var credentials = configuration.credentials
        if let provider = configuration.credentialProvider {
            do {
                credentials = try await provider.credentials()
            } catch {
                throw .credentials(error.description)
            }
        }
        if let credentials {
            let signer = SigV4Signer(credentials: credentials, region: configuration.region, service: "neptune-db")
            let query = path.split(separator: "?", maxSplits: 1).dropFirst().first.map { part in
                part.split(separator: "&").map { item -> (String, String) in
                    let pair = item.split(separator: "=", maxSplits: 1)
                    return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
                }
            } ?? []
            let date = SigV4Signer.timestamp(secondsSince1970: Int64(Date().timeIntervalSince1970))
            headers += signer.signatureHeaders(method: method, path: path, query: query, headers: headers.map { ($0.name, $0.value) },
                                               payload: body, date: date).map { (name: $0.0, value: $0.1) }
        }
        // HTTPRequest adds Host itself.
        let request = HTTPRequest(method: method, path: path, headers: headers.filter { $0.name != "Host" }, body: body)
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch {
            throw .transport(error)
        }
        let parsed = try? JSONParser.parse(response.body)
        guard (200..<300).contains(response.status) else {
            throw .status(response.status, code: parsed?["code"]?.string ?? "Unknown",
                          message: parsed?["detailedMessage"]?.string ?? parsed?["message"]?.string ?? String(response.text.prefix(300)))
        }
        guard let parsed else { throw .malformed("a body that is not JSON: \(response.text.prefix(200))") }
        return parsed
    }
}
