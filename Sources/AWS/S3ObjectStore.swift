import Foundation
import Hashing
import HTTP
import Transport

/// One object in a listing.
public struct S3ObjectSummary: Sendable, Equatable {
    public var key: String
    public var size: Int
}

/// What `HEAD` says of an object.
public struct S3ObjectHead: Sendable, Equatable {
    public var size: Int
    /// `x-amz-checksum-sha256` (a composite checksum's `-N` suffix removed), else the `x-amz-meta-sha256`
    /// `migrate objects` stores; base64.
    public var sha256: String?
}

/// Where an S3 bucket is, how to sign for it, and what every upload adds (SSE-KMS).
public struct S3Location: Sendable {
    public var endpoint: AWSServiceEndpoint
    public var region: String
    public var credentials: AWSCredentialProvider
    /// `aws:kms` server-side encryption with this key id (or `""` for the account's default key), if set.
    public var kmsKeyID: String?

    public init(endpoint: AWSServiceEndpoint, region: String, credentials: AWSCredentialProvider, kmsKeyID: String? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.kmsKeyID = kmsKeyID
    }
}

/// S3 object operations with path-style addressing (`/bucket/key`), SigV4-signed with the credential chain,
/// SHA-256 checksums on every object and part so S3 refuses a body that does not match. Belongs to one task.
public final class S3ObjectStore {
    public let location: S3Location
    private let client: AWSServiceClient

    public init(_ location: S3Location, options: ConnectionOptions = ConnectionOptions()) {
        self.location = location
        self.client = AWSServiceClient(endpoint: location.endpoint, signingName: "s3", region: location.region, options: options)
    }

    public func close() async {
        await client.close()
    }

    /// The URI-encoded path of `key` in `bucket`, `/` kept.
    public static func path(bucket: String, key: String) -> String {
        "/" + SigV4Signer.encode(bucket) + "/" + key.split(separator: "/", omittingEmptySubsequences: false).map { SigV4Signer.encode(String($0)) }.joined(separator: "/")
    }

    /// Base64 of `digest`.
    public static func base64(_ digest: [UInt8]) -> String { Data(digest).base64EncodedString() }

    private func send(_ operation: String, method: String, bucket: String, key: String?, query: [(String, String)] = [],
                      headers: [(String, String)] = [], body: [UInt8] = [], payloadHash: [UInt8]? = nil) async throws(AWSError) -> HTTPResponse {
        let credentials: AWSCredentials
        do {
            credentials = try await location.credentials.credentials()
        } catch {
            throw AWSError(operation: operation, status: 0, code: "NoCredentials", message: error.description)
        }
        let path = key.map { Self.path(bucket: bucket, key: $0) } ?? "/" + SigV4Signer.encode(bucket)
        var all = headers
        all.append(("x-amz-content-sha256", (payloadHash ?? SHA256Hasher.hash(body)).hexString))
        return try await client.send(operation, method: method, path: path, query: query, headers: all, body: body, credentials: credentials)
    }

    private func encryptionHeaders() -> [(String, String)] {
        guard let key = location.kmsKeyID else { return [] }
        return [("x-amz-server-side-encryption", "aws:kms")] + (key.isEmpty ? [] : [("x-amz-server-side-encryption-aws-kms-key-id", key)])
    }

    /// `PutObject` with `x-amz-checksum-sha256` (and the same value as `x-amz-meta-sha256`); returns that checksum.
    @discardableResult
    public func put(bucket: String, key: String, body: [UInt8], contentType: String) async throws(AWSError) -> String {
        let digest = SHA256Hasher.hash(body)
        let checksum = Self.base64(digest)
        _ = try await send("PUT s3://\(bucket)/\(key)", method: "PUT", bucket: bucket, key: key,
                           headers: [("Content-Type", contentType), ("x-amz-checksum-sha256", checksum), ("x-amz-meta-sha256", checksum)] + encryptionHeaders(),
                           body: body, payloadHash: digest)
        return checksum
    }

    /// `CreateMultipartUpload` with the SHA-256 checksum algorithm; returns the upload id.
    public func createMultipartUpload(bucket: String, key: String, contentType: String) async throws(AWSError) -> String {
        let response = try await send("CreateMultipartUpload s3://\(bucket)/\(key)", method: "POST", bucket: bucket, key: key, query: [("uploads", "")],
                                      headers: [("Content-Type", contentType), ("x-amz-checksum-algorithm", "SHA256")] + encryptionHeaders())
        guard let id = XMLText.first("UploadId", in: response.text) else {
            throw AWSError(operation: "CreateMultipartUpload s3://\(bucket)/\(key)", status: response.status, code: "MalformedResponse", message: "no UploadId")
        }
        return id
    }

    /// `UploadPart` with the part's `x-amz-checksum-sha256`; returns the ETag. `digest` is the part's SHA-256.
    public func uploadPart(bucket: String, key: String, uploadID: String, number: Int, body: [UInt8], digest: [UInt8]) async throws(AWSError) -> String {
        let response = try await send("UploadPart \(number) s3://\(bucket)/\(key)", method: "PUT", bucket: bucket, key: key,
                                      query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                      headers: [("x-amz-checksum-sha256", Self.base64(digest))], body: body, payloadHash: digest)
        return response.header("ETag") ?? ""
    }

    /// `CompleteMultipartUpload` from the parts' numbers, ETags and SHA-256 digests.
    public func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [(etag: String, digest: [UInt8])]) async throws(AWSError) {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for (index, part) in parts.enumerated() {
            let etag = part.etag.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(etag)</ETag><ChecksumSHA256>\(Self.base64(part.digest))</ChecksumSHA256></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let response = try await send("CompleteMultipartUpload s3://\(bucket)/\(key)", method: "POST", bucket: bucket, key: key,
                                      query: [("uploadId", uploadID)], headers: [("Content-Type", "application/xml")], body: Array(xml.utf8))
        // S3 may answer 200 with an error document.
        if response.text.contains("<Error>") {
            throw AWSError(operation: "CompleteMultipartUpload s3://\(bucket)/\(key)", status: response.status,
                           code: XMLText.first("Code", in: response.text) ?? "InternalError", message: XMLText.first("Message", in: response.text) ?? "")
        }
    }

    /// `AbortMultipartUpload`.
    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws(AWSError) {
        _ = try await send("AbortMultipartUpload s3://\(bucket)/\(key)", method: "DELETE", bucket: bucket, key: key, query: [("uploadId", uploadID)])
    }

    /// Unfinished multipart uploads under `prefix`: key and upload id.
    public func multipartUploads(bucket: String, prefix: String) async throws(AWSError) -> [(key: String, uploadID: String)] {
        var result: [(key: String, uploadID: String)] = []
        var markers: [(String, String)] = []
        while true {
            let response = try await send("ListMultipartUploads s3://\(bucket)/\(prefix)", method: "GET", bucket: bucket, key: nil,
                                          query: [("uploads", ""), ("prefix", prefix)] + markers)
            let text = response.text
            for upload in XMLText.all("Upload", in: text) {
                if let key = XMLText.first("Key", in: upload), let id = XMLText.first("UploadId", in: upload) { result.append((key, id)) }
            }
            guard XMLText.first("IsTruncated", in: text) == "true", let key = XMLText.first("NextKeyMarker", in: text) else { return result }
            markers = [("key-marker", key), ("upload-id-marker", XMLText.first("NextUploadIdMarker", in: text) ?? "")]
        }
    }

    /// Every object under `prefix` (ListObjectsV2, paginated).
    public func list(bucket: String, prefix: String) async throws(AWSError) -> [S3ObjectSummary] {
        var result: [S3ObjectSummary] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send("ListObjectsV2 s3://\(bucket)/\(prefix)", method: "GET", bucket: bucket, key: nil, query: query)
            let text = response.text
            for item in XMLText.all("Contents", in: text) {
                if let key = XMLText.first("Key", in: item), let size = XMLText.first("Size", in: item).flatMap(Int.init) {
                    result.append(S3ObjectSummary(key: key, size: size))
                }
            }
            token = XMLText.first("IsTruncated", in: text) == "true" ? XMLText.first("NextContinuationToken", in: text) : nil
        } while token != nil
        return result
    }

    /// `HEAD` with checksum mode on; `nil` when there is no such object.
    public func head(bucket: String, key: String) async throws(AWSError) -> S3ObjectHead? {
        let response: HTTPResponse
        do {
            response = try await send("HEAD s3://\(bucket)/\(key)", method: "HEAD", bucket: bucket, key: key, headers: [("x-amz-checksum-mode", "ENABLED")])
        } catch where error.status == 404 {
            return nil
        }
        let checksum = response.header("x-amz-checksum-sha256").map { String($0.prefix { $0 != "-" }) } ?? response.header("x-amz-meta-sha256")
        return S3ObjectHead(size: response.header("Content-Length").flatMap(Int.init) ?? 0, sha256: checksum)
    }
}
