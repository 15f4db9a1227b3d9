/// A field in a mapping or configuration file that its reader does not know: a typo that would otherwise be
/// ignored and silently change what a run does.
public struct UnknownFieldError: Error, Sendable, CustomStringConvertible {
    /// The misspelt field, as written.
    public var field: String
    /// Where it stands (`databases[1]`), empty at the top level.
    public var path: String
    /// The fields that are allowed there.
    public var allowed: [String]

    public var description: String {
        let place = path.isEmpty ? "" : " in \(path)"
        let hint = closestMatch(to: field, in: allowed).map { "did you mean `\($0)`? " } ?? ""
        return "unknown field `\(field)`\(place): \(hint)Allowed here: \(allowed.sorted().joined(separator: ", "))."
    }
}

/// The name among `candidates` nearest to `name` by edit distance, when it is near enough to be a typo
/// (at most two edits, and fewer than half the name's letters).
public func closestMatch(to name: String, in candidates: some Sequence<String>) -> String? {
    let lowered = name.lowercased()
    var best: (name: String, distance: Int)?
    for candidate in candidates {
        let distance = editDistance(lowered, candidate.lowercased())
        if distance < (best?.distance ?? .max) { best = (candidate, distance) }
    }
    guard let best, best.distance <= min(2, max(1, lowered.count / 2)) else { return nil }
    return best.name
}

/// Levenshtein distance over characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

extension Decoder {
    /// Throws ``UnknownFieldError`` when the object being decoded has a field not in `allowed`; call it first
    /// in `init(from:)` of a type read from a user's file.
    public func rejectUnknownFields(_ allowed: [String]) throws {
        let container = try self.container(keyedBy: AnyFieldKey.self)
        let known = Set(allowed)
        if let unknown = container.allKeys.first(where: { !known.contains($0.stringValue) }) {
            let path = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            throw UnknownFieldError(field: unknown.stringValue, path: path.hasPrefix(".") ? String(path.dropFirst()) : path, allowed: allowed)
        }
    }
}

/// Any field name, for listing the fields an object has.
private struct AnyFieldKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
