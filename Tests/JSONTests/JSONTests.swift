import Testing
@testable import JSON

@Suite struct JSONTests {
    @Test func parsesEveryKindAndKeepsIntegersApart() throws {
        let value = try JSONParser.parse(#"{"a":1,"b":-2.5,"c":[true,false,null],"d":"x\"y\\z\u00e9\ud83d\ude80","e":{},"big":9007199254740993}"#)
        #expect(value["a"] == .int(1))
        #expect(value["b"] == .double(-2.5))
        #expect(value["c"] == .array([.bool(true), .bool(false), .null]))
        #expect(value["d"]?.string == "x\"y\\zé🚀")
        #expect(value["e"] == .object([]))
        #expect(value["big"] == .int(9_007_199_254_740_993))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\"}", "NaN", "[Infinity]", "\"\u{01}\"", "01x", "{} {}", "\"\\ud800\""])
    func refusesInvalidJSON(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func writesWhatItParses() throws {
        let text = #"{"k":[1,2.5,"a\nb",{"z":null}],"t":true}"#
        #expect(JSONWriter.text(try JSONParser.parse(text)) == text)
        #expect(JSONWriter.text(.string("\u{1}\t")) == #""\u0001\t""#)
    }

    @Test func canonicalFormSortsKeysAndNormalisesIntegralDoubles() {
        let first = JSONValue.object([("b", .double(2)), ("a", .array([.int(1)]))])
        let second = JSONValue.object([("a", .array([.double(1)])), ("b", .int(2))])
        #expect(JSONWriter.canonical(first) == JSONWriter.canonical(second))
        #expect(String(decoding: JSONWriter.canonical(first), as: UTF8.self) == #"{"a":[1],"b":2}"#)
        #expect(JSONWriter.canonical(.double(0.5)) != JSONWriter.canonical(.double(0.25)))
    }

    @Test func floatsAreWrittenInTheirShortestExactForm() {
        var out: [UInt8] = []
        JSONWriter.writeNumber(Float(0.1), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "0.1")
        #expect(Float(String(decoding: out, as: UTF8.self)) == Float(0.1))
    }
}
