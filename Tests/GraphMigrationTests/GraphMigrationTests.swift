import Bolt
import Foundation
import JSON
import Testing
@testable import GraphMigration

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
