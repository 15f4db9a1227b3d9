import Foundation
import GraphMigration
import MigrationCore
import Testing
import Transport
@testable import KeyMigration
@testable import RESP
@testable import VectorMigration

/// `scripts/faultproxy.py` in front of a target: every connection is cut abruptly after some bytes.
struct FaultProxy {
    let process: Process
    let port: Int

    static func start(target: String, dropAfterBytes: Int) async throws -> FaultProxy {
        try await start(target: target, options: ["--drop-after-bytes", String(dropAfterBytes)])
    }

    /// Starts the proxy with its own options (`--reset-between 100000 700000` …).
    static func start(target: String, options: [String]) async throws -> FaultProxy {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let portFile = NSTemporaryDirectory() + "faultproxy-\(UUID().uuidString)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repository.appendingPathComponent("scripts/faultproxy.py").path, "--listen", "127.0.0.1:0",
                             "--target", target, "--port-file", portFile] + options
        try process.run()
        for _ in 0..<100 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) {
                return FaultProxy(process: process, port: port)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(process.processIdentifier, SIGKILL)
        throw CancellationError()
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

extension Integration {
    /// Connections to the target die mid-batch again and again; every run must still end complete.
    @Suite struct DroppedConnections {
        @Test func redisCopyRidesOutDroppedConnections() async throws {
            let source = try await Servers.client(Servers.source)
            let target = try await Servers.client(Servers.target)
            try await source.flushAll()
            try await target.flushAll()
            for start in stride(from: 0, to: 20_000, by: 1000) {
                _ = try await source.pipeline((start..<(start + 1000)).map { KeyedCommand(key: nil, RESPCommand("SET", "d:\($0)", String(repeating: "v", count: 50))) })
            }
            let proxy = try await FaultProxy.start(target: "127.0.0.1:\(Servers.endpoint(Servers.target).port)", dropAfterBytes: 300_000)
            defer { proxy.stop() }
            let report = try await migrate(Servers.deployment(Servers.source), Servers.deployment("redis://127.0.0.1:\(proxy.port)"), batch: 200)
            #expect(report.totals["copied"] == 20_000)
            #expect(report.totals["retried batches"] > 0, "the proxy never cut a connection")
            #expect(try await target.keyCount() == 20_000)
            let verification = try await verify(Servers.deployment(Servers.source), Servers.deployment(Servers.target))
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            await source.close()
            await target.close()
        }

        @Test func vectorCopyRidesOutDroppedConnections() async throws {
            let connection = try await VectorServers.connect(VectorServers.pgSource)
            try await createLightRAGTables(connection, dimensions: 384, rows: 600, suffix: "_faults_384d")
            await connection.close()
            let target = VectorServers.qdrant(VectorServers.qdrantTarget, apiKey: VectorServers.apiKey)
            try await VectorServers.clear(target)
            let endpoint = try ServiceURI(VectorServers.qdrantTarget, defaultPorts: ["http": 6333]).endpoint
            let proxy = try await FaultProxy.start(target: endpoint.description, dropAfterBytes: 1_500_000)
            defer { proxy.stop() }
            let proxied = VectorServers.qdrant("http://127.0.0.1:\(proxy.port)", apiKey: VectorServers.apiKey)
            let settings = vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: proxied,
                                          tables: ["lightrag_vdb_chunks_faults_384d"], batch: 100)
            let report = try await VectorMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh, dryRun: false).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            let verification = try await VectorVerification(settings: vectorSettings(source: VectorServers.postgres(VectorServers.pgSource), target: target,
                                                                                     tables: ["lightrag_vdb_chunks_faults_384d"])).run()
            #expect(verification.outcome == .succeeded, "\(verification.rendered())")
            #expect(verification.totals["matched"] == 1200)
        }

        @Test func graphCopyToNeptuneRidesOutDroppedConnections() async throws {
            let (nodes, relationships) = try await GraphServers.fillLightRAG(GraphServers.bolt(), nodes: 400)
            try await GraphServers.admin("/reset")
            let endpoint = try ServiceURI(Servers.value("NEPTUNE_URL"), defaultPorts: ["https": 8182]).endpoint
            let proxy = try await FaultProxy.start(target: endpoint.description, dropAfterBytes: 100_000)
            defer { proxy.stop() }
            var neptune = GraphServers.neptune()
            neptune.endpoint = Endpoint(host: "127.0.0.1", port: proxy.port)
            let settings = GraphServers.settings(target: .neptune(neptune), mapping: try GraphServers.lightragMapping(), batch: 50)
            let report = try await GraphMigration(settings: settings, checkpointDirectory: checkpointDirectory(), resumePolicy: .fresh).run()
            #expect(report.outcome == .succeeded, "\(report.rendered())")
            #expect(try await GraphServers.count("MATCH (n) RETURN count(n) AS c") == nodes)
            #expect(try await GraphServers.count("MATCH ()-[r]->() RETURN count(r) AS c") == relationships)
        }
    }
}
