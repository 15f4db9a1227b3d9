import BlockingIO
import Foundation
import Testing
@testable import ObjectMigration

@Suite struct ObjectSourceTests {
    @Test func filtersMatchLikeAWSCLI() {
        let filter = ObjectFilter(include: ["*.jpg", "docs/*"], exclude: ["*/tmp/*"])
        #expect(filter.takes("a/b/c.jpg") && filter.takes("docs/x.txt"))
        #expect(!filter.takes("a/b/c.png") && !filter.takes("docs/tmp/x.jpg"))
        #expect(ObjectFilter().takes("anything/at all"))
    }

    @Test func layoutSplitsPartsAndNamesContentTypes() {
        let layout = ObjectLayout(multipartThreshold: 5 << 20, partSize: 5 << 20)
        #expect(!layout.isMultipart((5 << 20) - 1) && layout.isMultipart(5 << 20) && !layout.isMultipart(0))
        #expect(layout.parts((10 << 20) + 3) == [0..<(5 << 20), (5 << 20)..<(10 << 20), (10 << 20)..<((10 << 20) + 3)])
        #expect(ContentType.of("a/b/photo.JPG") == "image/jpeg" && ContentType.of("x/.hidden") == "application/octet-stream")
        #expect(ContentType.of("notes") == "application/octet-stream" && ContentType.of("r/report.pdf") == "application/pdf")
    }

    @Test func theWalkSortsFilesAndRefusesWhatCannotBeCopied() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("walk-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/sub dir/ünï", withIntermediateDirectories: true)
        try Data("b".utf8).write(to: URL(fileURLWithPath: root + "/b.txt"))
        try Data("abc".utf8).write(to: URL(fileURLWithPath: root + "/sub dir/ünï/c d.txt"))
        try Data().write(to: URL(fileURLWithPath: root + "/empty"))
        try FileManager.default.createSymbolicLink(atPath: root + "/sub dir/loop", withDestinationPath: root)
        try FileManager.default.createSymbolicLink(atPath: root + "/self", withDestinationPath: root + "/self")
        try FileManager.default.createSymbolicLink(atPath: root + "/link.txt", withDestinationPath: root + "/b.txt")
        #expect(mkfifo(root + "/fifo", 0o644) == 0)
        let entries = try await DirectoryWalk.entries(root, filter: ObjectFilter())
        #expect(entries.map(\.path) == ["b.txt", "empty", "fifo", "link.txt", "self", "sub dir/loop", "sub dir/ünï/c d.txt"])
        #expect(entries.first { $0.path == "sub dir/ünï/c d.txt" }?.size == 3 && entries.first { $0.path == "link.txt" }?.refusal == nil)
        #expect(entries.first { $0.path == "fifo" }?.refusal?.contains("FIFO") == true)
        #expect(entries.first { $0.path == "self" }?.refusal == "symlink loop")
        #expect(entries.first { $0.path == "sub dir/loop" }?.refusal?.hasPrefix("symlink loop") == true)
        // A file that shrinks after the walk is refused when read.
        let file = try await LocalFile.open(root + "/sub dir/ünï/c d.txt", queue: BlockingQueue(label: "t"))
        await #expect(throws: ObjectMigrationError.self) { try await file.read(offset: 0, count: 10) }
        #expect(try await ObjectLayout(multipartThreshold: 100, partSize: 100).checksum(of: file, size: 3) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
    }
}
