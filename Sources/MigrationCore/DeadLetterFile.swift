import BlockingIO
import Foundation

/// The records a target refused, one JSON object per line with the record and the target's reason; appended
/// off the cooperative pool. One file per phase, beside its checkpoint; a new (not resumed) run starts it empty.
public actor DeadLetterFile {
    /// The file.
    public let path: String
    /// Lines appended by this process.
    public private(set) var count = 0
    private let queue = BlockingQueue(label: "migrate.dead-letter")

    /// A file at `path`; it is created with its directory on the first append.
    public init(path: String) {
        self.path = path
    }

    /// Appends `lines` (each one JSON object, without its newline) and syncs them to disk.
    public func append(lines: [String]) async throws {
        guard !lines.isEmpty else { return }
        let text = lines.map { $0 + "\n" }.joined()
        let path = self.path
        try await queue.run {
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: path) {
                FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
        }
        count += lines.count
    }

    /// The file's first `limit` lines (all of them when it is shorter); none when there is no file.
    public func firstLines(_ limit: Int) async throws -> [String] {
        let path = self.path
        return try await queue.run {
            guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
            defer { try? handle.close() }
            var lines: [String] = []
            var buffer = Data()
            while lines.count < limit {
                let chunk = try handle.read(upToCount: 1 << 16) ?? Data()
                buffer.append(chunk)
                while lines.count < limit, let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
                if chunk.isEmpty {
                    if !buffer.isEmpty && lines.count < limit { lines.append(String(decoding: buffer, as: UTF8.self)) }
                    break
                }
            }
            return lines
        }
    }

    /// Removes the file left by an earlier run, so a new run lists only its own refusals.
    public func clear() async throws {
        let path = self.path
        try await queue.run {
            if FileManager.default.fileExists(atPath: path) {
                try FileManager.default.removeItem(atPath: path)
            }
        }
        count = 0
    }
}
