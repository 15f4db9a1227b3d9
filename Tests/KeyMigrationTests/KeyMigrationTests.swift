import Foundation
import MigrationCore
import Testing
@testable import KeyMigration
@testable import RESP

@Suite struct GlobPatternTests {
    @Test(arguments: [
        ("*", "anything", true), ("user:*", "user:1", true), ("user:*", "usr:1", false),
        ("h?llo", "hello", true), ("h?llo", "hllo", false), ("h[ae]llo", "hallo", true), ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true), ("h[a-b]llo", "hcllo", false), ("a\\*b", "a*b", true), ("a\\*b", "axb", false),
        ("*:cache:*", "app:cache:1", true), ("", "", true), ("a*", "", false),
    ])
    func matchesLikeRedis(_ pattern: String, _ key: String, _ expected: Bool) {
        #expect(GlobPattern(pattern).matches(Array(key.utf8)) == expected)
    }

    @Test func matchesBinaryKeys() {
        #expect(GlobPattern("bin:*").matches(Array("bin:".utf8) + [0xFF, 0x00]))
    }

    @Test func filterCombinesIncludeExcludeAndTypes() {
        let filter = KeyFilter(include: [GlobPattern("a:*"), GlobPattern("b:*")], exclude: [GlobPattern("*:tmp")], types: [.hash])
        #expect(filter.admits(Array("a:1".utf8)))
        #expect(filter.admits(Array("b:1".utf8)))
        #expect(!filter.admits(Array("c:1".utf8)))
        #expect(!filter.admits(Array("a:tmp".utf8)))
        #expect(filter.serverSidePattern == nil)
        #expect(filter.admits(type: .hash) && !filter.admits(type: .string))
    }

    @Test func shardsFollowHashSlotsSoHashTagsStayTogether() {
        let filters = (0..<3).map { KeyFilter(shard: Shard("\($0)/3")) }
        func owners(_ key: String) -> [Int] { filters.indices.filter { filters[$0].admits(Array(key.utf8)) } }
        for index in 0..<1000 {
            #expect(owners("key:\(index)").count == 1)
            #expect(owners("{user:\(index)}:profile") == owners("{user:\(index)}:cart"))
        }
        // CLUSTER KEYSLOT foo is 12182, and 12182 mod 3 is 2.
        #expect(owners("foo") == [2])
        #expect(owners("{foo}:anything") == [2])
        // Patterns and the shard both apply.
        let both = KeyFilter(include: [GlobPattern("user:*")], shard: Shard("2/3"))
        #expect(!both.admits(Array("foo".utf8)))
        #expect(KeyFilter().inShard(Array("foo".utf8)))
    }

    @Test func printsKeysLikeRedisCli() {
        #expect([0x61, 0xFF, 0x0A, 0x22].printableKey == "\"a\\xff\\x0a\\\"\"")
    }
}

@Suite struct DatabaseMappingTests {
    @Test func parsesPrefixAndDatabaseRules() throws {
        let mapping = try DatabaseMapping(arguments: ["3:db3:", "4=5", "6=0:six:"])
        #expect(mapping.rule(for: 3) == .init(source: 3, target: 0, prefix: Array("db3:".utf8)))
        #expect(mapping.rule(for: 4) == .init(source: 4, target: 5))
        #expect(mapping.rule(for: 6) == .init(source: 6, target: 0, prefix: Array("six:".utf8)))
        #expect(mapping.rule(for: 9) == .init(source: 9, target: 9))
        #expect(mapping.map(Array("k".utf8), database: 3).key == Array("db3:k".utf8))
    }

    @Test(arguments: ["x:y", "3=", "-1:p", "3=a", "3:"])
    func refusesMalformedRules(_ rule: String) {
        #expect(throws: DatabaseMapping.InvalidMapping.self) { try DatabaseMapping(arguments: [rule]) }
    }

    @Test func refusesDatabasesAClusterCannotHold() throws {
        let identity = DatabaseMapping()
        #expect(throws: DatabaseMapping.InvalidMapping.self) { try identity.validate(sourceDatabases: [0, 3], targetIsCluster: true) }
        try identity.validate(sourceDatabases: [0, 3], targetIsCluster: false)
        try DatabaseMapping(arguments: ["3:db3:"]).validate(sourceDatabases: [0, 3], targetIsCluster: true)
    }

    @Test func refusesDatabasesSharingAPrefix() throws {
        let same = try DatabaseMapping(arguments: ["1=0"])
        #expect(throws: DatabaseMapping.InvalidMapping.self) { try same.validate(sourceDatabases: [0, 1], targetIsCluster: false) }
        let samePrefix = try DatabaseMapping(arguments: ["1:p:", "2:p:"])
        #expect(throws: DatabaseMapping.InvalidMapping.self) { try samePrefix.validate(sourceDatabases: [1, 2], targetIsCluster: true) }
    }

    @Test func findsKeysThatWouldLandAmongAnotherDatabasesKeys() throws {
        let mapping = try DatabaseMapping(arguments: ["3:db3:", "4:a:", "5:a:b:"])
        try mapping.validate(sourceDatabases: [0, 3, 4, 5], targetIsCluster: true)
        #expect(mapping.collision(for: Array("db3:x".utf8), database: 0, sourceDatabases: [0, 3])?.source == 3)
        #expect(mapping.collision(for: Array("user:1".utf8), database: 0, sourceDatabases: [0, 3]) == nil)
        #expect(mapping.collision(for: Array("b:1".utf8), database: 4, sourceDatabases: [4, 5])?.source == 5)
        #expect(mapping.collision(for: Array("x".utf8), database: 3, sourceDatabases: [0, 3]) == nil)
    }

    @Test func findsPrefixesOneOfWhichStartsWithTheOther() throws {
        let mapping = try DatabaseMapping(arguments: ["1:a:", "2:a:b:", "3:c:", "4=5", "6=5:x"])
        let overlaps = mapping.overlaps(sourceDatabases: [0, 1, 2, 3, 4, 6])
        let described = overlaps.map { "\($0.outer.source)>\($0.inner.source):\(String(decoding: $0.remainder, as: UTF8.self))" }
        // Database 0 keeps its names in database 0, so every prefix there starts with its empty one.
        #expect(Set(described) == ["0>1:a:", "0>2:a:b:", "0>3:c:", "1>2:b:", "4>6:x"])
        #expect(mapping.overlaps(sourceDatabases: [1, 3]).isEmpty)
    }

    @Test func prefixPatternsMatchTheirPrefixLiterally() {
        let pattern = GlobPattern(prefix: Array("a*[b]?\\".utf8))
        #expect(pattern.matches(Array("a*[b]?\\tail".utf8)))
        #expect(pattern.matches(Array("a*[b]?\\".utf8)))
        #expect(!pattern.matches(Array("aX[b]?\\tail".utf8)))
        #expect(!pattern.matches(Array("a*b?\\".utf8)))
    }

    @Test func unmapsTargetKeysToTheirSource() throws {
        let mapping = try DatabaseMapping(arguments: ["1:db1:"])
        #expect(mapping.unmap(Array("db1:k".utf8), database: 0, sourceDatabases: [0, 1])! == (1, Array("k".utf8)))
        #expect(mapping.unmap(Array("k".utf8), database: 0, sourceDatabases: [0, 1])! == (0, Array("k".utf8)))
        #expect(mapping.unmap(Array("k".utf8), database: 0, sourceDatabases: [1]) == nil)
    }
}

@Suite struct ValueTests {
    @Test func writesChunksAsTypeCommands() {
        let key = Array("k".utf8)
        let zset = ValueChunk.zset([Array("m".utf8), Array("0.1".utf8)]).writeCommands(key: key, first: true)
        #expect(zset.map(\.name) == ["DEL", "ZADD"])
        #expect(zset[1].arguments == [Array("ZADD".utf8), key, Array("0.1".utf8), Array("m".utf8)])
        #expect(ValueChunk.string([1]).writeCommands(key: key, first: true).map(\.name) == ["SET"])
        #expect(ValueChunk.string([1]).writeCommands(key: key, first: false).map(\.name) == ["APPEND"])
        #expect(ValueChunk.list([[1]]).writeCommands(key: key, first: false).map(\.name) == ["RPUSH"])
        let stream = ValueChunk.stream([StreamEntry(id: Array("1-1".utf8), fields: [[1], [2]])]).writeCommands(key: key, first: true)
        #expect(stream.map(\.name) == ["DEL", "XADD"])
    }

    @Test func decodesReadRepliesByType() throws {
        let reply = RESPValue.array([.array([.bulk(Array("1-0".utf8)), .array([.bulk([102]), .bulk([118])])])])
        #expect(try ValueChunk(reply: reply, type: .stream) == .stream([StreamEntry(id: Array("1-0".utf8), fields: [[102], [118]])]))
        #expect(try ValueChunk(reply: .null, type: .string) == nil)
        #expect(throws: ValueDecodingError.self) { try ValueChunk(reply: .integer(1), type: .list) }
    }

    @Test func digestsIgnoreOrderOnlyWhereRedisDoes() {
        func digest(_ type: RedisType, _ chunks: [ValueChunk]) -> [UInt8] {
            var digest = ValueDigest(type: type)
            chunks.forEach { digest.add($0) }
            return digest.finalize()
        }
        let a = Array("a".utf8), b = Array("b".utf8)
        #expect(digest(.set, [.set([a, b])]) == digest(.set, [.set([b]), .set([a])]))
        #expect(digest(.hash, [.hash([a, b, b, a])]) == digest(.hash, [.hash([b, a, a, b])]))
        #expect(digest(.hash, [.hash([a, b])]) != digest(.hash, [.hash([b, a])]))
        #expect(digest(.list, [.list([a, b])]) != digest(.list, [.list([b, a])]))
        #expect(digest(.string, [.string(a + b)]) == digest(.string, [.string(a), .string(b)]))
        // Scores compare as doubles however the server prints them.
        #expect(digest(.zset, [.zset([a, Array("0.1".utf8)])]) == digest(.zset, [.zset([a, Array("0.10000000000000001".utf8)])]))
        #expect(digest(.zset, [.zset([a, Array("0.1".utf8)])]) != digest(.zset, [.zset([a, Array("0.1000000000000001".utf8)])]))
        #expect(digest(.list, [.list([a])]) != digest(.set, [.set([a])]))
    }

    @Test func checksumRecordsCoverNameTypeValueAndWhetherTheKeyExpires() {
        let key = Array("k".utf8), value = Array(repeating: UInt8(7), count: 32)
        let base = KeyRecord.checksum(database: 0, key: key, type: .string, value: value, expires: false)
        #expect(base != KeyRecord.checksum(database: 1, key: key, type: .string, value: value, expires: false))
        #expect(base != KeyRecord.checksum(database: 0, key: Array("j".utf8), type: .string, value: value, expires: false))
        #expect(base != KeyRecord.checksum(database: 0, key: key, type: .list, value: value, expires: false))
        #expect(base != KeyRecord.checksum(database: 0, key: key, type: .string, value: Array(repeating: 8, count: 32), expires: false))
        #expect(base != KeyRecord.checksum(database: 0, key: key, type: .string, value: value, expires: true))
        #expect(base == KeyRecord.checksum(database: 0, key: key, type: .string, value: value, expires: false))
    }

    @Test func readsStringsFromDumpPayloads() {
        func payload(_ object: [UInt8]) -> [UInt8] { [0x00] + object + [0x0A, 0x00] + Array(repeating: 0xEE, count: 8) }
        #expect(RDBString.value(ofPayload: payload([0x05] + Array("hello".utf8))) == Array("hello".utf8))
        let long = [UInt8](repeating: 0x61, count: 300)
        #expect(RDBString.value(ofPayload: payload([0x41, 0x2C] + long)) == long)
        #expect(RDBString.value(ofPayload: payload([0xC0, 0xF6])) == Array("-10".utf8))
        #expect(RDBString.value(ofPayload: payload([0xC1, 0x39, 0x30])) == Array("12345".utf8))
        #expect(RDBString.value(ofPayload: payload([0xC2, 0x15, 0xCD, 0x5B, 0x07])) == Array("123456789".utf8))
        // LZF: the literal "abc", then 9 bytes copied from 3 back.
        let lzf: [UInt8] = [0x02, 0x61, 0x62, 0x63, 0xE0, 0x00, 0x02]
        #expect(RDBString.value(ofPayload: payload([0xC3, 0x07, 0x0C] + lzf)) == Array("abcabcabcabc".utf8))
        #expect(RDBString.value(ofPayload: payload([0xC3, 0x07, 0x0D] + lzf)) == nil, "a wrong original length is refused")
        #expect(RDBString.value(ofPayload: payload([0x05] + Array("hello!".utf8))) == nil, "bytes left over")
        #expect(RDBString.value(ofPayload: [0x02] + Array(payload([0x01, 0x61]).dropFirst())) == nil, "not a string object")
        #expect(RDBString.value(ofPayload: [0x00, 0x01]) == nil)
    }

    @Test func namesWhereValuesDiffer() {
        func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
        func items(_ texts: String...) -> [[UInt8]] { texts.map(bytes) }
        #expect(ValueDifference.describe(source: .string(bytes("abcdef")), target: .string(bytes("abXdef"))) == "byte 2 (lengths 6 and 6): source \"cdef\", target \"Xdef\"")
        #expect(ValueDifference.describe(source: .string(bytes("abc")), target: .string(bytes("abc"))) == nil)
        #expect(ValueDifference.describe(source: .list(items("a", "b")), target: .list(items("a"))) == "index 1 (lengths 2 and 1): source \"b\", target none")
        #expect(ValueDifference.describe(source: .hash(items("f", "1", "g", "2")), target: .hash(items("g", "2", "f", "9"))) == "field \"f\": source \"1\", target \"9\"")
        #expect(ValueDifference.describe(source: .hash(items("f", "1")), target: .hash(items("f", "1", "x", "2"))) == "field \"x\" only on the target")
        #expect(ValueDifference.describe(source: .set(items("a", "b")), target: .set(items("b"))) == "member \"a\" only on the source")
        #expect(ValueDifference.describe(source: .zset(items("m", "0.1")), target: .zset(items("m", "0.10000000000000001"))) == nil)
        #expect(ValueDifference.describe(source: .zset(items("m", "0.1")), target: .zset(items("m", "0.2"))) == "member \"m\": source score 0.1, target score 0.2")
        let entry = StreamEntry(id: bytes("1-0"), fields: items("f", "v"))
        #expect(ValueDifference.describe(source: .stream([entry]), target: .stream([StreamEntry(id: bytes("1-0"), fields: items("f", "w"))]))
                    == "entry 0 (lengths 1 and 1): source 1-0 \"f v\", target 1-0 \"f w\"")
        let long = String(repeating: "x", count: 100)
        #expect(ValueDifference.describe(source: .string(bytes("a" + long)), target: .string(bytes("b")))?.contains("\"a\(String(repeating: "x", count: 47))\"…") == true)
    }

    @Test func hyperLogLogCacheDoesNotCountAsADifference() {
        func digest(_ bytes: [UInt8]) -> [UInt8] {
            var digest = ValueDigest(type: .string)
            digest.add(.string(bytes))
            return digest.finalize()
        }
        let registers: [UInt8] = Array(repeating: 7, count: 20)
        let stale = Array("HYLL".utf8) + [0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0x80] + registers
        let cached = Array("HYLL".utf8) + [0, 0, 0, 0] + [4, 0, 0, 0, 0, 0, 0, 0] + registers
        #expect(digest(stale) == digest(cached))
        #expect(digest(stale) != digest(Array("HYLL".utf8) + [0, 0, 0, 0] + [4, 0, 0, 0, 0, 0, 0, 0] + registers.dropLast() + [8]))
        // An ordinary string with different bytes at 8-15 still differs.
        #expect(digest(Array("ABCD0000aaaaaaaa".utf8)) != digest(Array("ABCD0000bbbbbbbb".utf8)))
    }

    @Test func recognisesPayloadsTheTargetCannotLoad() {
        #expect(KeyCopyWriter.isIncompatiblePayload("ERR DUMP payload version or checksum are wrong"))
        #expect(KeyCopyWriter.isIncompatiblePayload("ERR Bad data format"))
        #expect(!KeyCopyWriter.isIncompatiblePayload("NOPERM this user has no permissions"))
    }

    @Test func parsesKeyspaceInfo() {
        let info = "# Keyspace\r\ndb0:keys=12,expires=1,avg_ttl=0\r\ndb3:keys=5,expires=0,avg_ttl=0\r\n"
        #expect(KeyspacePlan.parseKeyspace(info).map { [$0.0, $0.1] } == [[0, 12], [3, 5]])
    }
}

@Suite struct MappingFileTests {
    @Test func shippedDatabaseMappingLoads() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let mapping = try DatabaseMapping(yamlFile: repository.appendingPathComponent("mappings/redis-databases.yaml").path)
        #expect(mapping.rule(for: 0) == .init(source: 0, target: 0))
        #expect(mapping.rule(for: 1) == .init(source: 1, target: 0, prefix: Array("db1:".utf8)))
        try mapping.validate(sourceDatabases: [0, 1, 2], targetIsCluster: true)
        #expect(mapping.required == [0])
    }

    private func mappingFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "mapping-\(UUID().uuidString).yaml"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func misspeltFieldsAreErrorsWithTheFieldTheyResemble() throws {
        let entry = try mappingFile("databases:\n  0: {}\n  1: {prefx: \"db1:\"}\n")
        let error = #expect(throws: DatabaseMapping.InvalidMapping.self) { try DatabaseMapping(yamlFile: entry) }
        #expect(error?.description.contains("unknown field `prefx`") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("did you mean `prefix`?") == true, "\(error?.description ?? "")")
        let top = try mappingFile("database:\n  1: {prefix: \"db1:\"}\n")
        let topError = #expect(throws: DatabaseMapping.InvalidMapping.self) { try DatabaseMapping(yamlFile: top) }
        #expect(topError?.description.contains("did you mean `databases`?") == true, "\(topError?.description ?? "")")
        let optional = try DatabaseMapping(yamlFile: try mappingFile("databases:\n  1: {prefix: \"db1:\", optional: true}\n  2: {db: 3}\n"))
        #expect(optional.required == [2])
        #expect(optional.rule(for: 2) == .init(source: 2, target: 3))
    }

    @Test func entriesForDatabasesWithoutKeysAreErrorsUnlessOptional() throws {
        let mapping = DatabaseMapping(rules: [.init(source: 3, target: 0, prefix: Array("db3:".utf8)), .init(source: 4, target: 0, prefix: [1])],
                                      required: [3])
        let error = #expect(throws: DatabaseMapping.InvalidMapping.self) {
            try mapping.checkRequired(keysPerDatabase: [0: 10, 2: 5], selected: nil)
        }
        #expect(error?.description.contains("source database 3, which holds no keys (databases with keys: 0, 2)") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("optional: true") == true)
        try mapping.checkRequired(keysPerDatabase: [0: 10, 3: 1], selected: nil)
        // A run that does not read database 3 (--db 0) does not need it.
        try mapping.checkRequired(keysPerDatabase: [0: 10], selected: [0])
    }

    @Test func brokenMappingFilesNameTheProblem() throws {
        let path = NSTemporaryDirectory() + "bad-mapping-\(UUID().uuidString).yaml"
        try Data("databases:\n  one: {prefix: 1:}\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatabaseMapping.InvalidMapping.self) { try DatabaseMapping(yamlFile: path) }
        #expect(throws: DatabaseMapping.InvalidMapping.self) { try DatabaseMapping(yamlFile: "/nonexistent.yaml") }
    }
}
