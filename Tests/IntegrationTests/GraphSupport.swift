import AWS
import Bolt
import Foundation
import GraphMigration
import HTTP
import JSON
import Logging
import Neptune
import Testing
import Transport

/// The graph peers of `scripts/graph/servers.sh`: Bolt stand-ins (Neo4j and Memgraph flavours) and Neptune
/// stand-ins, all on FalkorDB.
enum GraphServers {
    static func bolt(_ flavour: String = "BOLT") -> BoltConfiguration {
        let uri = try! ServiceURI(Servers.value("\(flavour)_URL"), defaultPorts: ["bolt": 7687])
        return BoltConfiguration(endpoint: uri.endpoint, user: Servers.value("\(flavour)_USER"), password: Secret(Servers.value("\(flavour)_PASSWORD")))
    }

    static var credentials: AWSCredentials {
        AWSCredentials(accessKeyID: Servers.value("NEPTUNE_ACCESS_KEY_ID"), secretAccessKey: Secret(Servers.value("NEPTUNE_SECRET_ACCESS_KEY")),
                       sessionToken: Secret(Servers.value("NEPTUNE_SESSION_TOKEN")))
    }

    static func neptune(iam: Bool = false, credentials: AWSCredentials? = nil) -> NeptuneConfiguration {
        let url = Servers.value(iam ? "NEPTUNE_IAM_URL" : "NEPTUNE_URL")
        let uri = try! ServiceURI(url, defaultPorts: ["https": 8182])
        return NeptuneConfiguration(endpoint: uri.endpoint, tls: TLSConfiguration(caFile: Servers.value("GRAPH_CA")),
                                    credentials: iam ? (credentials ?? Self.credentials) : nil, region: Servers.value("NEPTUNE_REGION"),
                                    displayName: url)
    }

    /// Sends an admin request (`/reset`, `/faults`) to a Neptune stand-in.
    static func admin(_ path: String, body: JSONValue = .object([]), iam: Bool = false) async throws {
        let uri = try ServiceURI(Servers.value(iam ? "GRAPH_STANDIN_ADMIN_IAM" : "GRAPH_STANDIN_ADMIN"), defaultPorts: ["https": 8182])
        let client = HTTPClient(endpoint: uri.endpoint, options: ConnectionOptions(tls: TLSConfiguration(caFile: Servers.value("GRAPH_CA"))))
        let response = try await client.send(HTTPRequest(method: "POST", path: path, headers: [("Content-Type", "application/json")], body: JSONWriter.bytes(body)))
        await client.close()
        #expect((200..<300).contains(response.status), "\(path): \(response.text)")
    }

    static func query(_ query: String, parameters: JSONValue = .object([])) async throws -> [JSONValue] {
        let client = NeptuneClient(neptune())
        let results = try await client.openCypher(query, parameters: parameters)
        await client.close()
        return results
    }

    static func count(_ query: String) async throws -> Int {
        Int(try await Self.query(query).first?["c"]?.int ?? -1)
    }

    /// `--source` (the Bolt stand-in, with its user), `--target` (the Neptune stand-in) and the LightRAG mapping, for the CLI.
    static var commandLineEndpoints: [String] {
        ["--source", Servers.value("BOLT_URL").replacingOccurrences(of: "bolt://", with: "bolt://\(Servers.value("BOLT_USER"))@"),
         "--target", Servers.value("NEPTUNE_URL"), "--target-ca-file", Servers.value("GRAPH_CA"), "--mapping", "mappings/lightrag-graph.yaml"]
    }

    /// The CLI's environment for ``commandLineEndpoints``: the source password.
    static var commandLineEnvironment: [String: String] {
        ["MIGRATE_SOURCE_PASSWORD": Servers.value("BOLT_PASSWORD")]
    }

    static func settings(target: GraphStore, mapping: GraphMapping, source: BoltConfiguration = bolt(), batch: Int = 200) -> GraphRunSettings {
        var logger = Logger(label: "integration")
        logger.logLevel = .error
        return GraphRunSettings(source: source, sourceDisplayName: "bolt://\(source.endpoint)", target: target, mapping: mapping,
                                batchSize: batch, concurrency: 3, progressStyle: .silent, logger: logger)
    }

    static func lightragMapping() throws -> GraphMapping {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try GraphMapping.load(repository.appendingPathComponent("mappings/lightrag-graph.yaml").path)
    }

    /// Replaces the source graph with a LightRAG-shaped one: `nodes` entities (labels `base` + entity type, some
    /// also `vip`), lists on every fifth node, a date on every third, and DIRECTED edges i→i+1 and i→i+7.
    @discardableResult
    static func fillLightRAG(_ configuration: BoltConfiguration, nodes: Int) async throws -> (nodes: Int, relationships: Int) {
        try await clear(configuration)
        let connection = try await BoltConnection.connect(configuration)
        // The relationship fixture finds its endpoints by entity_id.
        _ = try? await connection.query("CREATE INDEX FOR (n:base) ON (n.entity_id)")
        let types = ["person", "organization", "concept"]
        for (index, type) in types.enumerated() {
            var rows: [PackStreamValue] = []
            for i in stride(from: index, to: nodes, by: types.count) {
                var properties: [(String, PackStreamValue)] = [
                    ("entity_id", .string(entityID(i))), ("entity_type", .string(type)),
                    ("description", .string("Entity \(i) – a \(type) in the graph. «Ünïcödé» 🚀")),
                    ("source_id", .string("chunk-\(i)<SEP>chunk-\(i + 1)")), ("file_path", .string("docs/\(i).md")),
                    ("created_at", .int(1_793_534_460 + Int64(i))), ("rank", .float(Double(i) / 8)),
                ]
                if i % 5 == 0 { properties.append(("tags", .list([.string("a"), .string("b\(i)")]))) }
                if i % 3 == 0 { properties.append(("seen", .structure(tag: 0x44, fields: [.int(20_759 + Int64(i))]))) }
                rows.append(.map([("props", .map(properties))]))
            }
            _ = try await connection.query("UNWIND $rows AS row CREATE (n:base:\(type)) SET n += row.props", parameters: [("rows", .list(rows))])
        }
        _ = try await connection.query("MATCH (n:base) WHERE n.created_at % 10 = 0 SET n:vip")
        var edges: [PackStreamValue] = []
        for i in 0..<nodes {
            for step in [1, 7] where i + step < nodes {
                edges.append(.map([("from", .string(entityID(i))), ("to", .string(entityID(i + step))), ("props", .map([
                    ("weight", .float(Double(step) + 0.5)), ("description", .string("\(i) relates to \(i + step)")),
                    ("keywords", .string("k\(step)")), ("source_id", .string("chunk-\(i)")), ("file_path", .string("docs/\(i).md")),
                    ("created_at", .int(1_793_534_460)),
                ]))]))
            }
        }
        for start in stride(from: 0, to: edges.count, by: 500) {
            _ = try await connection.query("""
                UNWIND $rows AS row MATCH (a:base {entity_id: row.from}), (b:base {entity_id: row.to}) CREATE (a)-[r:DIRECTED]->(b) SET r += row.props
                """, parameters: [("rows", .list(Array(edges[start..<min(start + 500, edges.count)])))])
        }
        await connection.close()
        return (nodes, edges.count)
    }

    static func entityID(_ index: Int) -> String { "Entity \(index) ✓ 知识" }

    /// The `~id` the LightRAG mapping gives entity `index` of ``fillLightRAG(_:nodes:)``: its workspace labels
    /// (`base`, and `vip` on every tenth) and its entity_id.
    static func targetID(_ index: Int) -> String { (index % 10 == 0 ? "base,vip:" : "base:") + entityID(index) }

    /// Empties a Bolt graph.
    static func clear(_ configuration: BoltConfiguration) async throws {
        let connection = try await BoltConnection.connect(configuration)
        _ = try await connection.query("MATCH (n) DETACH DELETE n")
        await connection.close()
    }

    /// Replaces the source graph with LightRAG nodes of several workspaces that share entity names: in each
    /// workspace `entities` persons `E0`, `E1`, … (descriptions and DIRECTED weights differ per workspace) and
    /// edges E(i) → E(i+1).
    @discardableResult
    static func fillWorkspaces(_ configuration: BoltConfiguration, _ workspaces: [String], entities: Int) async throws -> (nodes: Int, relationships: Int) {
        try await clear(configuration)
        let connection = try await BoltConnection.connect(configuration)
        for (number, workspace) in workspaces.enumerated() {
            let rows: [PackStreamValue] = (0..<entities).map { i in
                .map([("props", .map([("entity_id", .string("E\(i)")), ("entity_type", .string("person")),
                                      ("description", .string("E\(i) of \(workspace)"))]))])
            }
            _ = try await connection.query("UNWIND $rows AS row CREATE (n:`\(workspace)`:person) SET n += row.props", parameters: [("rows", .list(rows))])
            let edges: [PackStreamValue] = (0..<(entities - 1)).map { i in
                .map([("from", .string("E\(i)")), ("to", .string("E\(i + 1)")), ("weight", .float(Double(number) + Double(i) / 10))])
            }
            _ = try await connection.query("""
                UNWIND $rows AS row MATCH (a:`\(workspace)` {entity_id: row.from}), (b:`\(workspace)` {entity_id: row.to}) \
                CREATE (a)-[:DIRECTED {weight: row.weight, description: row.from + '->' + row.to}]->(b)
                """, parameters: [("rows", .list(edges))])
        }
        await connection.close()
        return (workspaces.count * entities, workspaces.count * (entities - 1))
    }
}
