import BlockingIO
import Foundation
import MigrationCore
import RESP

/// The big keys being written under a staging name (``StagingKey``), with how many of their source chunks the
/// target acknowledged. Kept beside the checkpoint (`…-staging.log`, rewritten atomically after every chunk), so a
/// run killed in the middle of a big key continues it from its last acknowledged chunk, and a staging key a crash
/// left behind is found, removed, and listed in the report.
actor StagingLog {
    /// One big key in flight.
    struct Entry: Codable, Sendable, Equatable {
        /// The target database and the key's name there.
        var database: Int
        var keyHex: String
        /// The key as text, for the report.
        var key: String
        var stagingHex: String
        var type: String
        /// Source chunks (as the reader cuts them) the target acknowledged.
        var sourceChunks: Int
        /// The staging key's length after them: string bytes or list elements.
        var length: Int
        /// Value bytes and chunk pieces written.
        var bytes: Int
        var pieces: Int

        var id: String { "\(database)/\(keyHex)" }
    }

    /// The file, or `nil` when nothing is kept (a dry run, a live sync).
    let path: String?
    private var entries: [String: Entry]
    /// Keys continued from an earlier run's chunk, and the chunk: for the report.
    private var resumed: [(String, Int)] = []
    private let queue = BlockingQueue(label: "migrate.staging-log")

    /// The log at `path`; entries are kept for resuming only when `resumable` (`--resume`), else they are only
    /// cleaned up at the end.
    init(path: String?, resumable: Bool) {
        self.path = path
        var loaded: [String: Entry] = [:]
        if let path, let data = FileManager.default.contents(atPath: path), let list = try? JSONDecoder().decode([Entry].self, from: data) {
            loaded = Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        }
        self.entries = loaded
        self.resumable = resumable
        self.leftover = Set(loaded.keys)
    }

    private let resumable: Bool
    /// Entries of an earlier run not yet taken up by this one.
    private var leftover: Set<String>

    /// The acknowledged progress of a key, if an earlier run left some that may be resumed.
    func progress(of id: String) -> Entry? {
        leftover.remove(id)
        return resumable ? entries[id] : nil
    }

    /// Notes that `key` continues from source chunk `chunk`.
    func noteResumed(_ key: String, chunk: Int) {
        resumed.append((key, chunk))
    }

    /// Records a key's progress durably.
    func update(_ entry: Entry) async throws {
        entries[entry.id] = entry
        try await save()
    }

    /// Forgets a key (complete, refused or gone).
    func remove(_ id: String) async throws {
        guard entries.removeValue(forKey: id) != nil else { return }
        try await save()
    }

    /// Removes the staging keys earlier runs left that this run did not take up, and returns report notes for
    /// them and for the keys this run resumed.
    func finish(target: RedisDeployment) async throws -> [String] {
        var notes = resumed.map { "big key \($0.0) continued from source chunk \($0.1) of its staging key (an earlier run had written that far)" }
        for id in leftover.sorted() {
            guard let entry = entries[id], let staging = Array(hexString: entry.stagingHex) else { continue }
            let client = try await target.connect(database: entry.database)
            _ = try await client.send(RESPCommand("DEL", staging), key: staging)
            await client.close()
            entries.removeValue(forKey: id)
            notes.append("removed staging key \(staging.printableKey) (db \(entry.database)) that an earlier run left for key \(entry.key) after \(entry.sourceChunks) chunk(s)")
        }
        leftover = []
        try await save()
        return notes
    }

    private func save() async throws {
        guard let path else { return }
        let data = try JSONEncoder().encode(entries.values.sorted { $0.id < $1.id })
        try await queue.run { try CheckpointStore.writeAtomically(data, to: path) }
    }
}

extension Array where Element == UInt8 {
    /// The bytes of a hex string (`hexString`'s inverse), or `nil` when it is not one.
    init?(hexString text: String) {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<(index + 2)], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        self = bytes
    }
}
