/// A Redis glob pattern (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes), matched exactly as Redis' `stringmatchlen`
/// matches it, over bytes.
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern's bytes.
    public let pattern: [UInt8]

    /// Creates a pattern from its text.
    public init(_ text: String) {
        pattern = Array(text.utf8)
    }

    /// The pattern matching exactly the names that start with `prefix` (its `*`, `?`, `[`, `]` and `\` escaped).
    public init(prefix: [UInt8]) {
        var escaped: [UInt8] = []
        escaped.reserveCapacity(prefix.count + 1)
        for byte in prefix {
            if Array("*?[]\\".utf8).contains(byte) { escaped.append(UInt8(ascii: "\\")) }
            escaped.append(byte)
        }
        pattern = escaped + [UInt8(ascii: "*")]
    }

    public var description: String { String(decoding: pattern, as: UTF8.self) }

    /// Whether `key` matches.
    public func matches(_ key: [UInt8]) -> Bool {
        pattern.withUnsafeBufferPointer { p in
            key.withUnsafeBufferPointer { k in
                Self.match(p[...], k[...])
            }
        }
    }

    private static func match(_ pattern: Slice<UnsafeBufferPointer<UInt8>>, _ string: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        var p = pattern.startIndex
        var s = string.startIndex
        let pEnd = pattern.endIndex
        let sEnd = string.endIndex
        while p < pEnd {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                while p + 1 < pEnd && pattern[p + 1] == UInt8(ascii: "*") { p += 1 }
                if p + 1 == pEnd { return true }
                var start = s
                while start <= sEnd {
                    if match(pattern[(p + 1)...], string[start...]) { return true }
                    start += 1
                }
                return false
            case UInt8(ascii: "?"):
                if s == sEnd { return false }
                s += 1
            case UInt8(ascii: "["):
                if s == sEnd { return false }
                p += 1
                let negate = p < pEnd && pattern[p] == UInt8(ascii: "^")
                if negate { p += 1 }
                var matched = false
                while p < pEnd && pattern[p] != UInt8(ascii: "]") {
                    if pattern[p] == UInt8(ascii: "\\") && p + 1 < pEnd {
                        p += 1
                        if pattern[p] == string[s] { matched = true }
                    } else if p + 2 < pEnd && pattern[p + 1] == UInt8(ascii: "-") && pattern[p + 2] != UInt8(ascii: "]") {
                        var low = pattern[p]
                        var high = pattern[p + 2]
                        if low > high { swap(&low, &high) }
                        if string[s] >= low && string[s] <= high { matched = true }
                        p += 2
                    } else if pattern[p] == string[s] {
                        matched = true
                    }
                    p += 1
                }
                if negate { matched.toggle() }
                if !matched { return false }
                if p == pEnd { return false }
                s += 1
            case UInt8(ascii: "\\") where p + 1 < pEnd:
                p += 1
                if s == sEnd || pattern[p] != string[s] { return false }
                s += 1
            default:
                if s == sEnd || pattern[p] != string[s] { return false }
                s += 1
            }
            p += 1
        }
        return s == sEnd
    }
}
