import Hashing
import JSON

/// A dense, sparse or multi-vector (Qdrant's `multivector_config`: a list of dense vectors).
public enum VectorData: Sendable, Hashable {
    case dense([Float])
    case sparse(indices: [UInt32], values: [Float])
    case multi([[Float]])

    /// The first non-finite component, if any (JSON and Qdrant cannot hold NaN or infinities).
    var firstNonFinite: (index: Int, value: Float)? {
        let values: [Float]
        switch self {
        case .dense(let dense): values = dense
        case .sparse(_, let sparse): values = sparse
        case .multi(let vectors): values = vectors.flatMap { $0 }
        }
        return values.enumerated().first { !$0.element.isFinite }.map { ($0.offset, $0.element) }
    }

    /// Dimensions of a dense vector.
    var dimensions: Int? {
        if case .dense(let values) = self { return values.count }
        return nil
    }
}

/// One point or row on its way from source to target.
public struct VectorRecord: Sendable {
    /// The source key, as text (for messages, checkpoints and resume).
    public var key: [String]
    /// The Qdrant point id.
    public var id: JSONValue
    /// Vectors by target name (`nil` for the unnamed vector).
    public var vectors: [(name: String?, data: VectorData)]
    /// The payload.
    public var payload: [(String, JSONValue)]
    /// The source row's fields in PostgreSQL binary form, for a PostgreSQL target with the same columns.
    public var rawFields: [[UInt8]?]?

    /// Throws when a vector has NaN or an infinity, naming the row and the component.
    func checkFinite() throws(InvalidRecord) {
        for vector in vectors {
            if let (index, value) = vector.data.firstNonFinite {
                throw InvalidRecord(key: key, reason: "vector \(vector.name ?? "(unnamed)") has \(value) at component \(index); Qdrant and JSON accept finite numbers only. Fix or exclude the row.")
            }
        }
    }

    /// Appends the point's JSON (`{"id":…,"vector":…,"payload":…}`) to `out`.
    func writePoint(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"id":"#.utf8)
        JSONWriter.write(id, into: &out)
        out.append(contentsOf: #","vector":"#.utf8)
        if vectors.count == 1, vectors[0].name == nil {
            Self.write(vectors[0].data, into: &out)
        } else {
            out.append(UInt8(ascii: "{"))
            for (index, vector) in vectors.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(vector.name ?? "", into: &out)
                out.append(UInt8(ascii: ":"))
                Self.write(vector.data, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #","payload":"#.utf8)
        JSONWriter.write(.object(payload), into: &out)
        out.append(UInt8(ascii: "}"))
    }

    private static func write(_ data: VectorData, into out: inout [UInt8]) {
        switch data {
        case .dense(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeNumber(value, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .multi(let vectors):
            out.append(UInt8(ascii: "["))
            for (index, vector) in vectors.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(.dense(vector), into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .sparse(let indices, let values):
            out.append(contentsOf: #"{"indices":["#.utf8)
            out.append(contentsOf: indices.map(String.init).joined(separator: ",").utf8)
            out.append(contentsOf: #"],"values":["#.utf8)
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeNumber(value, into: &out)
            }
            out.append(contentsOf: "]}".utf8)
        }
    }

    /// The SHA-256 that checksums add up: over the id, the payload with sorted keys, and the vectors (float32
    /// bits, little-endian) except those named in `approximate`, which Qdrant changes on write (it normalizes
    /// Cosine vectors).
    func checksumDigest(approximate: Set<String?>) -> [UInt8] {
        var hasher = SHA256Hasher()
        hasher.update(UUIDText.canonical(id))
        hasher.update([0])
        hasher.update(JSONWriter.canonical(.object(payload)))
        for vector in vectors.sorted(by: { ($0.name ?? "") < ($1.name ?? "") }) where !approximate.contains(vector.name) {
            hasher.update([0])
            hasher.update(vector.name ?? "")
            hasher.update([0])
            switch vector.data {
            case .dense(let values):
                values.withUnsafeBytes { hasher.update($0) }
            case .multi(let vectors):
                for values in vectors {
                    hasher.update([1])
                    values.withUnsafeBytes { hasher.update($0) }
                }
            case .sparse(let indices, let values):
                for (index, value) in zip(indices, values).sorted(by: { $0.0 < $1.0 }) {
                    Swift.withUnsafeBytes(of: index.littleEndian) { hasher.update($0) }
                    Swift.withUnsafeBytes(of: value.bitPattern.littleEndian) { hasher.update($0) }
                }
            }
        }
        return hasher.finalize()
    }

    /// Why `stored` (read back from the target) is not this record, or `nil` when it is: each payload field
    /// that differs, is missing or is extra, with both values, and the first vector component that differs.
    /// Vectors named in `normalized` are compared after scaling this record's to unit length, as Qdrant stores
    /// Cosine vectors.
    func difference(from stored: VectorRecord, normalized: Set<String?>) -> String? {
        var differences = Self.payloadDifferences(payload, stored.payload)
        if vectors.count != stored.vectors.count { differences.append("has \(stored.vectors.count) vectors, the source \(vectors.count)") }
        for vector in vectors {
            let name = "vector \(vector.name ?? "(unnamed)")"
            guard let theirs = stored.vectors.first(where: { $0.name == vector.name })?.data else {
                differences.append("\(name) is missing")
                continue
            }
            switch (vector.data, theirs) {
            case let (.dense(ours), .dense(stored)):
                if let difference = Self.denseDifference(ours, stored, normalized: normalized.contains(vector.name)) {
                    differences.append("\(name) \(difference)")
                }
            case let (.multi(ours), .multi(stored)):
                guard ours.count == stored.count else {
                    differences.append("\(name) has \(stored.count) vectors, the source \(ours.count)")
                    continue
                }
                if let (index, difference) = zip(ours, stored).enumerated().lazy.compactMap({ item in
                    Self.denseDifference(item.element.0, item.element.1, normalized: normalized.contains(vector.name)).map { (item.offset, $0) }
                }).first {
                    differences.append("\(name)[\(index)] \(difference)")
                }
            case let (.sparse(ourIndices, ourValues), .sparse(storedIndices, storedValues)):
                let ours = Dictionary(zip(ourIndices, ourValues), uniquingKeysWith: { $1 })
                let theirs = Dictionary(zip(storedIndices, storedValues), uniquingKeysWith: { $1 })
                if let index = Set(ours.keys).union(theirs.keys).sorted().first(where: { ours[$0]?.bitPattern != theirs[$0]?.bitPattern }) {
                    differences.append("sparse \(name) differs at index \(index): source \(ours[index].map { "\($0)" } ?? "absent"), target \(theirs[index].map { "\($0)" } ?? "absent")")
                }
            default:
                differences.append("\(name) changed kind")
            }
        }
        return differences.isEmpty ? nil : differences.joined(separator: "; ")
    }

    /// How `stored` differs from `ours` (`has 3 dimensions, the source 4`, `differs at index 2: …`), or `nil`;
    /// `normalized` compares with `ours` scaled to unit length, as Qdrant stores Cosine vectors.
    private static func denseDifference(_ ours: [Float], _ stored: [Float], normalized: Bool) -> String? {
        guard ours.count == stored.count else { return "has \(stored.count) dimensions, the source \(ours.count)" }
        let length = normalized ? ours.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() : 0
        let expected = length > 0 ? ours.map { Double($0) / length } : ours.map(Double.init)
        let tolerance = normalized ? 1e-5 : 0
        guard let index = expected.indices.first(where: { abs(expected[$0] - Double(stored[$0])) > tolerance }) else { return nil }
        return "differs at index \(index): source \(expected[index]), target \(stored[index])"
    }

    /// One line per payload field that differs between `ours` and `theirs`, in field order.
    static func payloadDifferences(_ ours: [(String, JSONValue)], _ theirs: [(String, JSONValue)]) -> [String] {
        let mine = Dictionary(ours, uniquingKeysWith: { $1 })
        let stored = Dictionary(theirs, uniquingKeysWith: { $1 })
        func shown(_ value: JSONValue) -> String {
            let text = JSONWriter.text(value)
            return text.count > 80 ? String(text.prefix(77)) + "…" : text
        }
        return Set(mine.keys).union(stored.keys).sorted().compactMap { field in
            switch (mine[field], stored[field]) {
            case let (ours?, theirs?):
                return JSONWriter.canonical(ours) == JSONWriter.canonical(theirs) ? nil : "payload field `\(field)`: source \(shown(ours)), target \(shown(theirs))"
            case let (ours?, nil): return "payload field `\(field)` is missing on the target (source \(shown(ours)))"
            case let (nil, theirs?): return "payload field `\(field)` is only on the target (\(shown(theirs)))"
            default: return nil
            }
        }
    }
}

/// A row or point that cannot be written, with the reason and the fix.
public struct InvalidRecord: Error, Sendable, CustomStringConvertible {
    /// The source key.
    public var key: [String]
    /// Why.
    public var reason: String

    public var description: String { "row (\(key.joined(separator: ", "))): \(reason)" }
}
