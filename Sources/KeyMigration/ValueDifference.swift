import RESP

/// Where two values of one key differ, for `migrate verify redis`'s report: the first differing byte of a
/// string, index of a list, field of a hash, member of a set or sorted set (with both scores), entry of a stream,
/// with both sides' values cut short.
enum ValueDifference {
    /// Bytes of a value shown at most.
    static let shown = 48

    /// The first difference between `source` and `target` (two whole values of the same type), or `nil` when
    /// they are equal element by element.
    static func describe(source: ValueChunk, target: ValueChunk) -> String? {
        switch (source, target) {
        case var (.string(ours), .string(theirs)):
            // A HyperLogLog's cached cardinality is not a difference (as in ``ValueDigest``).
            (ours, theirs) = (ValueDigest.withoutHyperLogLogCache(ours), ValueDigest.withoutHyperLogLogCache(theirs))
            guard let offset = firstDifference(ours, theirs) else { return nil }
            return "byte \(offset) (lengths \(ours.count) and \(theirs.count)): source \(excerpt(ours.dropFirst(offset))), target \(excerpt(theirs.dropFirst(offset)))"
        case let (.list(ours), .list(theirs)):
            guard let index = firstDifference(ours, theirs) else { return nil }
            return "index \(index) (lengths \(ours.count) and \(theirs.count)): source \(element(ours, index)), target \(element(theirs, index))"
        case let (.hash(ours), .hash(theirs)):
            return firstDifference(pairs(ours), pairs(theirs), name: "field") { excerpt($0[...]) }
        case let (.set(ours), .set(theirs)):
            let mine = Set(ours), yours = Set(theirs)
            if let member = ours.first(where: { !yours.contains($0) }) { return "member \(excerpt(member[...])) only on the source" }
            if let member = theirs.first(where: { !mine.contains($0) }) { return "member \(excerpt(member[...])) only on the target" }
            return nil
        case let (.zset(ours), .zset(theirs)):
            return firstDifference(pairs(ours), pairs(theirs), name: "member", equal: { score($0) == score($1) }) { "score \(String(decoding: $0, as: UTF8.self))" }
        case let (.stream(ours), .stream(theirs)):
            guard let index = firstDifference(ours, theirs) else { return nil }
            func entry(_ entries: [StreamEntry]) -> String {
                guard index < entries.count else { return "none" }
                return "\(String(decoding: entries[index].id, as: UTF8.self)) \(excerpt(Array(entries[index].fields.joined(separator: [0x20]))[...]))"
            }
            return "entry \(index) (lengths \(ours.count) and \(theirs.count)): source \(entry(ours)), target \(entry(theirs))"
        default:
            return nil
        }
    }

    private static func firstDifference<T: Equatable>(_ ours: [T], _ theirs: [T]) -> Int? {
        if let index = zip(ours, theirs).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return index }
        return ours.count == theirs.count ? nil : min(ours.count, theirs.count)
    }

    /// The first name (in the source's order, then the target's) that one side lacks or whose values differ.
    private static func firstDifference(
        _ ours: [(name: [UInt8], value: [UInt8])], _ theirs: [(name: [UInt8], value: [UInt8])], name: String,
        equal: ([UInt8], [UInt8]) -> Bool = { $0 == $1 }, show: ([UInt8]) -> String
    ) -> String? {
        let mine = Dictionary(ours.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        let yours = Dictionary(theirs.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        for (key, value) in ours {
            guard let other = yours[key] else { return "\(name) \(excerpt(key[...])) only on the source" }
            if !equal(value, other) { return "\(name) \(excerpt(key[...])): source \(show(value)), target \(show(other))" }
        }
        if let extra = theirs.first(where: { mine[$0.name] == nil }) { return "\(name) \(excerpt(extra.name[...])) only on the target" }
        return nil
    }

    private static func pairs(_ items: [[UInt8]]) -> [(name: [UInt8], value: [UInt8])] {
        stride(from: 0, to: items.count - 1, by: 2).map { (items[$0], items[$0 + 1]) }
    }

    private static func score(_ text: [UInt8]) -> Double? {
        Double(String(decoding: text, as: UTF8.self))
    }

    private static func element(_ items: [[UInt8]], _ index: Int) -> String {
        index < items.count ? excerpt(items[index][...]) : "none"
    }

    /// Up to ``shown`` bytes as printable text, `…` when cut.
    static func excerpt(_ bytes: ArraySlice<UInt8>) -> String {
        Array(bytes.prefix(shown)).printableKey + (bytes.count > shown ? "…" : "")
    }
}
