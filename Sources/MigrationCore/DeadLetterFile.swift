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
