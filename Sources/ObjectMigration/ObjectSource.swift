import AWS
import BlockingIO
import Foundation
import Hashing
#if canImport(Glibc)
import Glibc
#endif

/// One file of the source tree: a regular file to copy, or a path that cannot be copied and why.
public struct ObjectEntry: Sendable, Hashable {
    /// The path below the source directory, `/`-separated: the object key below the target prefix.
    public var path: String
    /// The size in bytes when the tree was walked.
    public var size: Int
    /// Why the path cannot be copied (a special file, a symlink loop, an unreadable directory), if so.
    public var refusal: String?
}

/// Which paths a run takes: `--include` globs (any, when given) and `--exclude` globs (none), matched against the
/// path below the source directory with `*` crossing `/`, as `aws s3 sync` matches them.
public struct ObjectFilter: Sendable, Hashable {
    public var include: [String]
    public var exclude: [String]

    public init(include: [String] = [], exclude: [String] = []) {
        self.include = include
        self.exclude = exclude
    }

    /// Whether `path` is taken.
    public func takes(_ path: String) -> Bool {
        (include.isEmpty || include.contains { fnmatch($0, path, 0) == 0 }) && !exclude.contains { fnmatch($0, path, 0) == 0 }
    }
}

/// Walks a directory tree (local disk, EFS) into sorted ``ObjectEntry``s, following symlinks to files and to
/// directories not yet walked; special files, symlink loops and unreadable directories become refusals.
public enum DirectoryWalk {
    private static let queue = BlockingQueue(label: "migrate.objects.walk")

    /// The entries under `root` that `filter` takes, sorted by path (UTF-8 order).
    public static func entries(_ root: String, filter: ObjectFilter) async throws -> [ObjectEntry] {
        try await queue.run {
            var rootStat = stat()
            guard stat(root, &rootStat) == 0, (rootStat.st_mode & S_IFMT) == S_IFDIR else {
                throw ObjectMigrationError.source("\(root) is not a readable directory: \(String(cString: strerror(errno)))")
            }
            var entries: [ObjectEntry] = []
            var visited: Set<String> = [realpath(root)]
            walk(root, relative: "", filter: filter, visited: &visited, into: &entries)
            return entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        }
    }

    private static func realpath(_ path: String) -> String {
        guard let resolved = Glibc.realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func walk(_ directory: String, relative: String, filter: ObjectFilter, visited: inout Set<String>, into entries: inout [ObjectEntry]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            if relative.isEmpty || filter.takes(relative) {
                entries.append(ObjectEntry(path: relative.isEmpty ? "." : relative, size: 0, refusal: "directory cannot be read: \(reason(errno: EACCES, error))"))
            }
            return
        }
        for name in names {
            let full = directory + "/" + name
            let path = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            var linkInfo = stat()
            guard lstat(full, &linkInfo) == 0 else {
                if filter.takes(path) { entries.append(ObjectEntry(path: path, size: 0, refusal: "vanished while the tree was walked")) }
                continue
            }
            let isLink = (linkInfo.st_mode & S_IFMT) == S_IFLNK
            if stat(full, &info) != 0 {
                let code = errno
                if filter.takes(path) {
                    entries.append(ObjectEntry(path: path, size: 0, refusal: code == ELOOP ? "symlink loop" : isLink ? "dangling symlink" : String(cString: strerror(code))))
                }
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let resolved = realpath(full)
                if visited.contains(resolved) {
                    if filter.takes(path) { entries.append(ObjectEntry(path: path, size: 0, refusal: "symlink loop: \(resolved) is already walked")) }
                    continue
                }
                visited.insert(resolved)
                walk(full, relative: path, filter: filter, visited: &visited, into: &entries)
            case S_IFREG:
                if filter.takes(path) { entries.append(ObjectEntry(path: path, size: Int(info.st_size), refusal: nil)) }
            default:
                let kind = [S_IFIFO: "a FIFO", S_IFSOCK: "a socket", S_IFCHR: "a character device", S_IFBLK: "a block device"][info.st_mode & S_IFMT] ?? "not a regular file"
                if filter.takes(path) { entries.append(ObjectEntry(path: path, size: 0, refusal: "\(kind), not a regular file")) }
            }
        }
    }

    private static func reason(errno code: Int32, _ error: any Error) -> String {
        let text = (error as NSError).localizedDescription
        return text.isEmpty ? String(cString: strerror(code)) : text
    }
}

/// Reads a local file in pieces on a blocking queue, refusing one that is not what the walk saw.
public final class LocalFile: @unchecked Sendable {
    private let descriptor: Int32
    private let queue: BlockingQueue
    public let path: String

    /// Opens `path` for reading; the error says why not (permissions, vanished).
    public static func open(_ path: String, queue: BlockingQueue) async throws(ObjectMigrationError) -> LocalFile {
        let result: Result<Int32, ObjectMigrationError> = await queue.run {
            let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            return descriptor >= 0 ? .success(descriptor) : .failure(.unreadable(String(cString: strerror(errno))))
        }
        return LocalFile(descriptor: try result.get(), path: path, queue: queue)
    }

    private init(descriptor: Int32, path: String, queue: BlockingQueue) {
        self.descriptor = descriptor
        self.path = path
        self.queue = queue
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Exactly `count` bytes from `offset`; fewer (the file shrank) or a read error is a refusal.
    public func read(offset: Int, count: Int) async throws(ObjectMigrationError) -> [UInt8] {
        let descriptor = self.descriptor
        let result: Result<[UInt8], ObjectMigrationError> = await queue.run {
            var buffer = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
                if got < 0 {
                    if errno == EINTR { continue }
                    return .failure(.unreadable(String(cString: strerror(errno))))
                }
                if got == 0 { return .failure(.unreadable("changed while being read: \(offset + done) bytes instead of the \(offset + count) expected")) }
                done += got
            }
            return .success(buffer)
        }
        return try result.get()
    }

    /// Whether the file still ends at `size` (a file that grew while it was read is refused too).
    public func endsAt(_ size: Int) async -> Bool {
        let descriptor = self.descriptor
        return await queue.run {
            var info = stat()
            return fstat(descriptor, &info) == 0 && Int(info.st_size) == size
        }
    }
}

/// The object checksum `migrate objects` gives S3 and compares: base64 SHA-256 of the body for a single
/// `PUT`, and for a multipart upload S3's composite form, the SHA-256 of the parts' SHA-256 digests.
public struct ObjectLayout: Sendable, Hashable {
    /// Files at least this big go up in parts.
    public var multipartThreshold: Int
    /// The size of every part but the last.
    public var partSize: Int

    public init(multipartThreshold: Int, partSize: Int) {
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
    }

    /// Whether a file of `size` bytes goes up in parts.
    public func isMultipart(_ size: Int) -> Bool { size >= multipartThreshold && size > 0 }

    /// The byte ranges of the parts of a file of `size` bytes.
    public func parts(_ size: Int) -> [Range<Int>] {
        stride(from: 0, to: size, by: partSize).map { $0..<min(size, $0 + partSize) }
    }

    /// The checksum of `file` (of `size` bytes) as S3 will hold it, read part by part (memory: one part).
    public func checksum(of file: LocalFile, size: Int) async throws(ObjectMigrationError) -> String {
        guard isMultipart(size) else {
            return S3ObjectStore.base64(SHA256Hasher.hash(try await file.read(offset: 0, count: size)))
        }
        var composite = SHA256Hasher()
        for range in parts(size) {
            composite.update(SHA256Hasher.hash(try await file.read(offset: range.lowerBound, count: range.count)))
        }
        return S3ObjectStore.base64(composite.finalize())
    }
}

/// The content type S3 should serve an object with, from its extension.
public enum ContentType {
    static let byExtension: [String: String] = [
        "html": "text/html", "htm": "text/html", "css": "text/css", "js": "text/javascript", "mjs": "text/javascript",
        "json": "application/json", "xml": "application/xml", "txt": "text/plain", "md": "text/markdown", "csv": "text/csv",
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp", "svg": "image/svg+xml",
        "ico": "image/vnd.microsoft.icon", "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg", "wav": "audio/wav",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "doc": "application/msword",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "parquet": "application/vnd.apache.parquet",
        "yaml": "application/yaml", "yml": "application/yaml",
    ]

    /// `application/octet-stream` for an unknown or missing extension.
    public static func of(_ path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }
}

/// Why `migrate objects` could not start or could not read a file.
public enum ObjectMigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source directory itself.
    case source(String)
    /// One file (a refusal, not fatal to the run).
    case unreadable(String)

    public var description: String {
        switch self {
        case .source(let message): return message
        case .unreadable(let message): return message
        }
    }
}
