import HTTP
import JSON
import Transport
import Failures

/// Where a Qdrant deployment is and how to reach it.
public struct QdrantConfiguration: Sendable {
    /// Host and port (6333 by default).
    public var endpoint: Endpoint
    /// TLS settings for `https://`, `nil` for `http://`.
    public var tls: TLSConfiguration?
    /// Sent as the `api-key` header.
    public var apiKey: Secret?
    /// Timeouts.
    public var connectTimeout: Duration
    /// How long one request may take.
    public var requestTimeout: Duration
    /// The URL as it may be shown.
    public var displayName: String

    /// Creates a configuration.
    public init(endpoint: Endpoint, tls: TLSConfiguration?, apiKey: Secret?, connectTimeout: Duration = .seconds(10),
                requestTimeout: Duration = .seconds(120), displayName: String) {
        self.endpoint = endpoint
        self.tls = tls
        self.apiKey = apiKey
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.displayName = displayName
    }
}

/// Why a Qdrant request failed. HTTP errors carry Qdrant's own message.
public enum QdrantError: TransientFailure, Sendable, Equatable, CustomStringConvertible {
    /// Qdrant answered with an error status.
    case status(Int, message: String, operation: String)
    /// The request did not get an answer.
    case transport(HTTPError, operation: String)
    /// The answer was not what Qdrant sends.
    case malformed(String, operation: String)

    public var description: String {
        switch self {
        case .status(let code, let message, let operation):
            return "Qdrant refused \(operation) (HTTP \(code)): \(message)\(Self.hint(code, message))"
        case .transport(let error, let operation):
            return "Qdrant \(operation) failed: \(error)"
        case .malformed(let message, let operation):
            return "unexpected answer from Qdrant to \(operation): \(message)"
        }
    }

    /// Whether a retry may succeed: timeouts, lost connections, 5xx, 429. Never 4xx.
    public var isTransient: Bool {
        switch self {
        case .status(let code, _, _): return code >= 500 || code == 429
        case .transport(let error, _): return error.isTransient
        case .malformed: return false
        }
    }

    private static func hint(_ code: Int, _ message: String) -> String {
        switch code {
        case 401, 403: return ". Check the API key (QDRANT_API_KEY or --…-api-key-file)."
        case 404: return ". Check the collection name; the target collection is created unless --no-create is given."
        case 413: return ". Lower --batch so one upsert stays under Qdrant's 32 MiB request limit."
        case 400 where message.contains("dimension"): return ". The mapping's vector size must match the collection's."
        default: return ""
        }
    }
}

/// One vector space of a collection.
public struct VectorSpace: Sendable, Hashable {
    /// The vector's name (`nil` for the unnamed default vector).
    public var name: String?
    /// Dimensions (0 for sparse).
    public var size: Int
    /// `Cosine`, `Dot`, `Euclid` or `Manhattan` (empty for sparse).
    public var distance: String
    /// Whether this is a sparse vector.
    public var sparse: Bool

    /// Creates a description.
    public init(name: String?, size: Int, distance: String, sparse: Bool = false) {
        self.name = name
        self.size = size
        self.distance = distance
        self.sparse = sparse
    }
}

/// What `GET /collections/{name}` says about a collection.
public struct CollectionInfo: Sendable {
    /// Dense and sparse vector spaces.
    public var vectors: [VectorSpace]
    /// `config` as Qdrant returned it (params, hnsw_config, optimizer_config, ...).
    public var config: JSONValue
    /// Payload indexes: field → schema.
    public var payloadSchema: [(String, JSONValue)]
    /// Points in the collection (approximate, as Qdrant reports it).
    public var pointsCount: Int?
    /// `green`, `yellow`, `grey` or `red`.
    public var status: String = "green"
}

/// A Qdrant REST client over one kept-alive HTTP connection. Belongs to one task.
public final class QdrantClient {
    /// The deployment.
    public let configuration: QdrantConfiguration
    private let http: HTTPClient

    /// A client for `configuration`; connects on the first request.
    public init(_ configuration: QdrantConfiguration) {
        self.configuration = configuration
        self.http = HTTPClient(endpoint: configuration.endpoint, options: ConnectionOptions(
            connectTimeout: configuration.connectTimeout, ioTimeout: configuration.requestTimeout, tls: configuration.tls))
    }

    /// Closes the connection.
    public func close() async {
        await http.close()
    }

    /// The names of every collection (also checks that the server answers and accepts the API key).
    public func collectionNames() async throws(QdrantError) -> [String] {
        let result = try await request("GET", "/collections", operation: "GET /collections")
        return (result["collections"]?.array ?? []).compactMap { $0["name"]?.string }.sorted()
    }

    /// The collection's configuration, or `nil` when it does not exist.
    public func collection(_ name: String) async throws(QdrantError) -> CollectionInfo? {
        let operation = "GET /collections/\(name)"
        let result: JSONValue
        do {
            result = try await request("GET", "/collections/\(Self.escape(name))", operation: operation)
        } catch .status(404, _, _) {
            return nil
        }
        guard let config = result["config"] else { throw .malformed("no config", operation: operation) }
        var spaces: [VectorSpace] = []
        let vectors = config["params"]?["vectors"]
        if let size = vectors?["size"]?.int {
            spaces.append(VectorSpace(name: nil, size: Int(size), distance: vectors?["distance"]?.string ?? ""))
        } else if let named = vectors?.object {
            for (name, space) in named {
                spaces.append(VectorSpace(name: name, size: Int(space["size"]?.int ?? 0), distance: space["distance"]?.string ?? ""))
            }
        }
        for (name, _) in config["params"]?["sparse_vectors"]?.object ?? [] {
            spaces.append(VectorSpace(name: name, size: 0, distance: "", sparse: true))
        }
        return CollectionInfo(vectors: spaces, config: config, payloadSchema: result["payload_schema"]?.object ?? [],
                              pointsCount: result["points_count"]?.int.map(Int.init), status: result["status"]?.string ?? "?")
    }

    /// `GET /cluster`: whether the deployment is a cluster, and its peers.
    public func clusterStatus() async throws(QdrantError) -> ClusterStatus {
        ClusterStatus(parsing: try await request("GET", "/cluster", operation: "GET /cluster"))
    }

    /// `GET /collections/{name}/cluster`: the collection's shards and the state of every replica.
    public func collectionCluster(_ name: String) async throws(QdrantError) -> CollectionClusterInfo {
        CollectionClusterInfo(parsing: try await request("GET", "/collections/\(Self.escape(name))/cluster", operation: "GET /collections/\(name)/cluster"))
    }

    /// `GET /aliases`: every alias and its collection.
    public func aliases() async throws(QdrantError) -> [CollectionAlias] {
        let result = try await request("GET", "/aliases", operation: "GET /aliases")
        return (result["aliases"]?.array ?? []).compactMap { entry in
            guard let alias = entry["alias_name"]?.string, let collection = entry["collection_name"]?.string else { return nil }
            return CollectionAlias(alias: alias, collection: collection)
        }
    }

    /// `POST /collections/aliases` with one `create_alias` action.
    public func createAlias(_ alias: String, collection: String) async throws(QdrantError) {
        let action = JSONValue.object([("create_alias", .object([("collection_name", .string(collection)), ("alias_name", .string(alias))]))])
        _ = try await request("POST", "/collections/aliases", body: JSONWriter.bytes(.object([("actions", .array([action]))])),
                              operation: "create alias \(alias) → \(collection)")
    }

    /// `PUT /collections/{name}` with `body` (vectors, hnsw_config, ...).
    public func createCollection(_ name: String, body: JSONValue) async throws(QdrantError) {
        _ = try await request("PUT", "/collections/\(Self.escape(name))", body: JSONWriter.bytes(body), operation: "create collection \(name)")
    }

    /// `DELETE /collections/{name}`.
    public func deleteCollection(_ name: String) async throws(QdrantError) {
        _ = try await request("DELETE", "/collections/\(Self.escape(name))", operation: "delete collection \(name)")
    }

    /// `PUT /collections/{name}/index`.
    public func createPayloadIndex(_ collection: String, field: String, schema: JSONValue) async throws(QdrantError) {
        let body = JSONValue.object([("field_name", .string(field)), ("field_schema", schema)])
        _ = try await request("PUT", "/collections/\(Self.escape(collection))/index?wait=true", body: JSONWriter.bytes(body),
                              operation: "create payload index \(collection).\(field)")
    }

    /// `PUT /collections/{name}/points?wait=true[&ordering=…]` with a body of `{"points":[…]}` already serialized.
    public func upsert(_ collection: String, body: [UInt8], ordering: WriteOrdering? = nil) async throws(QdrantError) {
        let operation = "upsert into \(collection)"
        let query = "wait=true" + (ordering.map { "&ordering=\($0.rawValue)" } ?? "")
        let result = try await request("PUT", "/collections/\(Self.escape(collection))/points?\(query)", body: body, operation: operation)
        // With wait=true Qdrant answers only once the points are applied: anything but "completed" is no acknowledgement.
        guard result["status"]?.string == "completed" else {
            throw .malformed("the upsert was not acknowledged as completed (status \(result["status"].map(JSONWriter.text) ?? "missing"))", operation: operation)
        }
    }

    /// The ids among `ids` that `collection` holds (`POST /collections/{name}/points` without payload or vectors).
    public func heldIDs(_ collection: String, ids: [JSONValue]) async throws(QdrantError) -> [JSONValue] {
        let body = JSONValue.object([("ids", .array(ids)), ("with_payload", .bool(false)), ("with_vector", .bool(false))])
        let operation = "retrieve ids from \(collection)"
        let result = try await request("POST", "/collections/\(Self.escape(collection))/points", body: JSONWriter.bytes(body), operation: operation)
        guard let points = result.array else { throw .malformed("no points", operation: operation) }
        return points.compactMap { $0["id"] }
    }

    /// `POST /collections/{name}/points/scroll`: one page in id order, and the offset of the next.
    public func scroll(_ collection: String, limit: Int, offset: JSONValue?, filter: JSONValue? = nil, withVectors: Bool = true)
        async throws(QdrantError) -> (points: [JSONValue], next: JSONValue?) {
        var body: [(String, JSONValue)] = [("limit", .int(Int64(limit))), ("with_payload", .bool(true)), ("with_vector", .bool(withVectors))]
        if let offset, !offset.isNull { body.append(("offset", offset)) }
        if let filter { body.append(("filter", filter)) }
        let operation = "scroll \(collection)"
        let result = try await request("POST", "/collections/\(Self.escape(collection))/points/scroll",
                                       body: JSONWriter.bytes(.object(body)), operation: operation)
        guard let points = result["points"]?.array else { throw .malformed("no points", operation: operation) }
        let next = result["next_page_offset"]
        return (points, next.flatMap { $0.isNull ? nil : $0 })
    }

    /// `POST /collections/{name}/points`: the points with these ids that exist, with vectors and payload.
    public func retrieve(_ collection: String, ids: [JSONValue]) async throws(QdrantError) -> [JSONValue] {
        let body = JSONValue.object([("ids", .array(ids)), ("with_payload", .bool(true)), ("with_vector", .bool(true))])
        let operation = "retrieve from \(collection)"
        let result = try await request("POST", "/collections/\(Self.escape(collection))/points", body: JSONWriter.bytes(body), operation: operation)
        guard let points = result.array else { throw .malformed("no points", operation: operation) }
        return points
    }

    /// `POST /collections/{name}/points/delete?wait=true` by ids.
    public func delete(_ collection: String, ids: [JSONValue]) async throws(QdrantError) {
        let body = JSONValue.object([("points", .array(ids))])
        _ = try await request("POST", "/collections/\(Self.escape(collection))/points/delete?wait=true", body: JSONWriter.bytes(body),
                              operation: "delete points from \(collection)")
    }

    /// `POST /collections/{name}/points/count` with `exact: true`.
    public func count(_ collection: String, filter: JSONValue? = nil) async throws(QdrantError) -> Int {
        var body: [(String, JSONValue)] = [("exact", .bool(true))]
        if let filter { body.append(("filter", filter)) }
        let operation = "count \(collection)"
        let result = try await request("POST", "/collections/\(Self.escape(collection))/points/count",
                                       body: JSONWriter.bytes(.object(body)), operation: operation)
        guard let count = result["count"]?.int else { throw .malformed("no count", operation: operation) }
        return Int(count)
    }

    /// `POST /collections/{name}/points/query`: the ids and scores of the nearest points to `vector`.
    public func nearest(_ collection: String, vector: [Float], using: String?, limit: Int, filter: JSONValue? = nil) async throws(QdrantError) -> [(id: JSONValue, score: Double)] {
        var body: [(String, JSONValue)] = [("query", .array(vector.map { .double(Double($0)) })), ("limit", .int(Int64(limit))),
                                           ("with_payload", .bool(false))]
        if let using { body.append(("using", .string(using))) }
        if let filter { body.append(("filter", filter)) }
        let operation = "query \(collection)"
        let result = try await request("POST", "/collections/\(Self.escape(collection))/points/query",
                                       body: JSONWriter.bytes(.object(body)), operation: operation)
        guard let points = result["points"]?.array else { throw .malformed("no points", operation: operation) }
        return points.compactMap { point in point["id"].map { ($0, point["score"]?.double ?? 0) } }
    }

    /// Sends one request and returns the `result` member of Qdrant's envelope.
    private func request(_ method: String, _ path: String, body: [UInt8] = [], operation: String) async throws(QdrantError) -> JSONValue {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
        if let key = configuration.apiKey { headers.append(("api-key", key.reveal())) }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: method, path: path, headers: headers, body: body))
        } catch {
            throw .transport(error, operation: operation)
        }
        let parsed = try? JSONParser.parse(response.body)
        guard (200..<300).contains(response.status) else {
            let message = parsed?["status"]?["error"]?.string ?? String(response.text.prefix(300))
            throw .status(response.status, message: message, operation: operation)
        }
        guard let parsed else { throw .malformed("body is not JSON", operation: operation) }
        return parsed["result"] ?? .null
    }

    private static func escape(_ name: String) -> String {
        var out = ""
        for byte in name.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || [0x2D, 0x2E, 0x5F, 0x7E].contains(byte) {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
