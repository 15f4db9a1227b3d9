import Bolt
import Foundation
import JSON
import AWS
import MigrationCore
import Testing
@testable import GraphMigration
@testable import Neptune

@Suite struct PropertyConversionTests {
    let converter = PropertyConverter(policy: PropertyPolicy())

    @Test func keepsLiteralsAndCountsEveryConversion() throws {
        var conversions: [String: Int] = [:]
        #expect(try converter.literal(.string("Größe 知识"), property: "p", conversions: &conversions) == .string("Größe 知识"))
        #expect(try converter.literal(.int(-3), property: "p", conversions: &conversions) == .int(-3))
        #expect(try converter.literal(.float(0.5), property: "p", conversions: &conversions) == .double(0.5))
        #expect(conversions.isEmpty)
        #expect(try converter.literal(.list([.int(1), .string("a")]), property: "p", conversions: &conversions) == .string(#"[1,"a"]"#))
        #expect(try converter.literal(.map([("k", .list([.bool(true)]))]), property: "p", conversions: &conversions) == .string(#"{"k":[true]}"#))
        #expect(conversions == ["list→json": 1, "map→json": 1])
    }

    @Test(arguments: [
        (PackStreamValue.structure(tag: 0x44, fields: [.int(20_759)]), "2026-11-02"),
        (.structure(tag: 0x64, fields: [.int(1_793_534_460), .int(250_000_000)]), "2026-11-01T12:01:00.250000000"),
        (.structure(tag: 0x49, fields: [.int(1_793_534_460), .int(0), .int(3600)]), "2026-11-01T13:01:00+01:00"),
        (.structure(tag: 0x46, fields: [.int(1_793_538_060), .int(0), .int(3600)]), "2026-11-01T13:01:00+01:00"),
        (.structure(tag: 0x69, fields: [.int(1_793_534_460), .int(0), .string("Europe/Berlin")]), "2026-11-01T12:01:00Z[Europe/Berlin]"),
        (.structure(tag: 0x74, fields: [.int(45_296_000_000_001)]), "12:34:56.000000001"),
        (.structure(tag: 0x54, fields: [.int(45_296_000_000_000), .int(-18_000)]), "12:34:56-05:00"),
        (.structure(tag: 0x45, fields: [.int(14), .int(3), .int(7), .int(500)]), "P14M3DT7.000000500S"),
    ] as [(PackStreamValue, String)])
    func temporalValuesBecomeISO8601(_ value: PackStreamValue, _ text: String) throws {
        var conversions: [String: Int] = [:]
        #expect(try converter.literal(value, property: "t", conversions: &conversions) == .string(text))
        #expect(conversions.values.reduce(0, +) == 1)
    }

    @Test func refusesWhatTheMappingRefuses() {
        var policy = PropertyPolicy()
        policy.lists = .refuse
        var conversions: [String: Int] = [:]
        #expect(throws: UnstorableProperty.self) {
            try PropertyConverter(policy: policy).literal(.list([.int(1)]), property: "tags", conversions: &conversions)
        }
    }
}

@Suite struct GraphMappingTests {
    @Test func shippedLightRAGMappingLoads() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let mapping = try GraphMapping.load(repository.appendingPathComponent("mappings/lightrag-graph.yaml").path)
        #expect(mapping.nodes.key == "entity_id")
        #expect(mapping.nodes.scope == .init(labelsExceptProperty: "entity_type"))
        #expect(mapping.relationships.id == .endpoints)
        #expect(mapping.properties.lists == .json)
    }

    @Test func relationshipIDsAreDeterministic() {
        let bySource = GraphMapping()
        #expect(bySource.relationshipID(sourceID: 42, type: "DIRECTED", start: "a", end: "b") == "r42")
        let byEndpoints = GraphMapping(relationships: .init(id: .endpoints))
        let first = byEndpoints.relationshipID(sourceID: 1, type: "DIRECTED", start: "a", end: "b")
        #expect(first == byEndpoints.relationshipID(sourceID: 99, type: "DIRECTED", start: "a", end: "b"))
        #expect(first != byEndpoints.relationshipID(sourceID: 1, type: "DIRECTED", start: "b", end: "a"))
    }

    @Test func readsNodesAndRelationshipsFromBoltStructures() throws {
        let mapping = GraphMapping(nodes: .init(key: "entity_id"))
        let node = try GraphReader.node(.structure(tag: 0x4E, fields: [.int(7), .list([.string("base"), .string("person")]),
                                                                       .map([("entity_id", .string("Alice"))]), .string("4:db:7")]), mapping: mapping)
        #expect(node.id == "Alice")
        #expect(node.labels == ["base", "person"])
        let keyless = try GraphReader.node(.structure(tag: 0x4E, fields: [.int(8), .list([]), .map([])]), mapping: mapping)
        #expect(keyless.id == "n8")
        let relationship = try GraphReader.relationship([.structure(tag: 0x52, fields: [.int(3), .int(7), .int(8), .string("DIRECTED"), .map([("weight", .float(1))])]),
                                                          .string("Alice"), .null], mapping: mapping)
        #expect(relationship.start == "Alice")
        #expect(relationship.end == "n8")
        #expect(relationship.id == "r3")
        #expect(throws: BoltError.self) { try GraphReader.node(.string("x"), mapping: mapping) }
    }
}

@Suite struct NodeIdentityTests {
    static let lightrag = GraphMapping(nodes: .init(key: "entity_id", scope: .init(labelsExceptProperty: "entity_type")), relationships: .init(id: .endpoints))

    static func node(_ id: Int64, _ labels: [String], _ entity: String, type: String = "person") throws -> GraphNode {
        try GraphReader.node(.structure(tag: 0x4E, fields: [.int(id), .list(labels.map { .string($0) }),
                                                             .map([("entity_id", .string(entity)), ("entity_type", .string(type))])]), mapping: lightrag)
    }

    @Test func workspacesSharingEntityNamesGetTheirOwnIDs() throws {
        let a = try Self.node(1, ["ws_a", "person"], "Alice")
        let b = try Self.node(2, ["person", "ws_b"], "Alice")
        #expect(a.id == "ws_a:Alice")
        #expect(b.id == "ws_b:Alice")
        #expect(a.identity.key == "Alice" && a.identity.scope == ["ws_a"])
        // The key property itself is left as it is: the application finds nodes by label and entity_id.
        #expect(a.properties.first { $0.0 == "entity_id" }?.1 == .string("Alice"))
        // Relationships read with the endpoints' identity columns get workspace-specific ids too.
        func edge(_ workspace: String) throws -> GraphRelationship {
            try GraphReader.relationship([.structure(tag: 0x52, fields: [.int(9), .int(1), .int(3), .string("DIRECTED"), .map([])]),
                                          .string("Alice"), .list([.string(workspace), .string("person")]), .string("person"),
                                          .string("Bob"), .list([.string(workspace), .string("concept")]), .string("concept")],
                                         mapping: Self.lightrag)
        }
        let (first, second) = (try edge("ws_a"), try edge("ws_b"))
        #expect((first.start, first.end) == ("ws_a:Alice", "ws_a:Bob"))
        #expect(first.id != second.id)
        #expect(Self.lightrag.identityColumns("a") == ["a.`entity_id`", "labels(a)", "a.`entity_type`"])
    }

    @Test func scopeLabelsAreEscapedSoIDsNeverClash() {
        let listed = GraphMapping.Scope(labels: ["a:b", "c"])
        #expect(listed.of(labels: ["x", "c", "a:b"], property: nil) == ["a:b", "c"])
        let tricky = NodeIdentity(scope: ["a:b"], key: "c")
        let plain = NodeIdentity(scope: ["a"], key: "b:c")
        #expect(tricky.targetID == "a%3Ab:c")
        #expect(plain.targetID == "a:b:c")
        #expect(NodeIdentity(scope: [], key: "x").targetID == ":x")
        #expect(NodeIdentity(scope: nil, key: "n7").targetID == "n7")
    }

    @Test(arguments: [
        ("nodes: {scope: {labels-except-property: entity_type}}", "needs nodes.key"),
        ("nodes: {key: entity_id, scope: {}}", "exactly one of"),
        ("nodes: {key: entity_id, scope: {labels: [a], labels-except-property: entity_type}}", "exactly one of"),
        ("nodes: {key: entity_id, scope: {labels-except-propery: entity_type}}", "did you mean `labels-except-property`"),
        ("nodes: {key: entity_id}\nrelationship: {id: endpoints}", "did you mean `relationships`"),
    ])
    func badScopesAreRefusedWithTheFix(_ yaml: String, _ message: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("graph-mapping-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try GraphMapping.load(path)
            Issue.record("\(yaml) was accepted")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }
}

@Suite struct GraphVerificationTests {
    @Test func aDifferenceNamesThePropertyAndBothValues() {
        let long = String(repeating: "x", count: 100)
        let source = ComparedRecord.node(labels: ["ws_a", "person"], properties: [("description", .string(long)), ("rank", .int(1)), ("gone", .bool(true))])
        let target = ComparedRecord.node(labels: ["person", "ws_a"], properties: [("description", .string("changed")), ("rank", .int(1)), ("new", .null)])
        #expect(source.differences(from: target) == [
            "property description: source \"\(String(repeating: "x", count: 59))…, target \"changed\"",
            "property gone: source true, target (none)",
        ])
        let moved = ComparedRecord.relationship(type: "DIRECTED", start: "ws_a:A", end: "ws_a:B", properties: [])
        #expect(moved.differences(from: .relationship(type: "DIRECTED", start: "ws_a:A", end: "ws_b:B", properties: [])) == ["end: source ws_a:B, target ws_b:B"])
    }

    @Test func degreesAreComparedInNumericOrderAndScopesPerWorkspace() {
        let mapping = NodeIdentityTests.lightrag
        var source = GraphSummary()
        for degree in [1, 10, 11, 2, 20, 3] { source.degrees[degree] = degree }
        source.addNodes(labels: ["ws_a", "person"], property: "person", count: 3, mapping: mapping)
        source.addNodes(labels: ["ws_b", "person"], property: "person", count: 2, mapping: mapping)
        var target = source
        target.scopeNodes["ws_b"] = 1
        let comparisons = source.comparisons(with: target)
        #expect(comparisons.filter { $0.kind == "degree" }.map(\.value) == ["1", "2", "3", "10", "11", "20"])
        #expect(comparisons.filter { $0.kind == "nodes in scope" } == [
            .init(kind: "nodes in scope", value: "ws_a", source: 3, target: 3), .init(kind: "nodes in scope", value: "ws_b", source: 2, target: 1),
        ])
    }
}

@Suite struct BulkLoadCSVTests {
    @Test func writesTypedHeadersAndQuotesWhatNeedsIt() {
        let text = CSVExportWriter.csv(fixedColumns: [":ID", ":LABEL"], rows: [
            (["Alice", "base;person"], [("age", .int(30)), ("note", .string("says \"hi\", twice"))]),
            (["Bob", "base"], [("age", .double(4.5)), ("vip", .bool(true))]),
            (["C,1", "base"], [("age", .string("unknown"))]),
        ])
        #expect(text == """
            :ID,:LABEL,age:String,note:String,vip:Bool
            Alice,base;person,30,"says ""hi"", twice",
            Bob,base,4.5,,true
            "C,1",base,unknown,,

            """)
        let numbers = CSVExportWriter.csv(fixedColumns: [":ID", ":START_ID", ":END_ID", ":TYPE"], rows: [
            (["r1", "a", "b", "DIRECTED"], [("weight", .int(1))]), (["r2", "b", "a", "DIRECTED"], [("weight", .double(0.5))]),
        ])
        #expect(numbers.hasPrefix(":ID,:START_ID,:END_ID,:TYPE,weight:Double\nr1,a,b,DIRECTED,1\n"))
    }
}

@Suite struct GraphScaleUnitTests {
    /// The form body Neptune gets is byte for byte what RFC 3986 encoding of the text gives.
    @Test func formEncodingKeepsUnreservedCharactersAndEscapesTheRest() {
        let text = #"UNWIND $rows AS row {"id":"Größe 知识 ~a-b_c.d","w":1.5} %&=+/"#
        var out: [UInt8] = []
        NeptuneClient.formEncode(text.utf8, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == SigV4Signer.encode(text))
    }

    /// Four shards cut a sample into consecutive ranges that cover every id once.
    @Test func shardRangesCoverEveryIDOnce() {
        let sample: [Int64] = Array(stride(from: 0, to: 1_000, by: 10))
        let ranges = (0..<4).map { ShardRange.cut(sample, shard: Shard("\($0)/4")!) }
        #expect(ranges.first?.after == -1)
        #expect(ranges.last?.through == Int64.max)
        for (earlier, later) in zip(ranges, ranges.dropFirst()) { #expect(earlier.through == later.after) }
        #expect(ranges.map { $0.through - $0.after }.dropLast().allSatisfy { $0 == 250 })
        // No sample (an empty graph): the first shard takes everything.
        #expect(ShardRange.cut([], shard: Shard("0/4")!) == .all)
        #expect(ShardRange.cut([], shard: Shard("2/4")!).after == Int64.max)
    }
}
