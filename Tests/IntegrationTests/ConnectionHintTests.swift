import Foundation
import Testing

extension Integration {
    /// Each connection failure is explained by its own typed cause, never by a guess: a certificate for another
    /// name, a certificate from an unknown CA, a link that resets.
    @Suite struct ConnectionHints {
        @Test func certificateAndResetHintsFollowTheCause() async throws {
            let target = try await Servers.client(Servers.target)
            try await target.flushAll()
            let base = ["redis", "--source", Servers.source, "--checkpoint-dir", checkpointDirectory(), "--fresh", "--connect-timeout", "3"]
            let mismatch = try await CLI.run(base + ["--target", Servers.tls, "--target-ca-file", Servers.tlsCA, "--target-tls-server-name", "wrong.example"],
                                             environment: ["MIGRATE_TARGET_PASSWORD": Servers.tlsPassword])
            #expect(mismatch.status == 2, "\(mismatch.output)")
            #expect(mismatch.stderr.contains("does not name the host checked") && !mismatch.stderr.contains("Pass the CA"), "\(mismatch.stderr)")

            let unknown = try await CLI.run(base + ["--target", Servers.tls, "--target-ca-file", Servers.otherCA],
                                            environment: ["MIGRATE_TARGET_PASSWORD": Servers.tlsPassword])
            #expect(unknown.status == 2, "\(unknown.output)")
            #expect(unknown.stderr.contains("Pass the CA that signed it") && !unknown.stderr.contains("does not name"), "\(unknown.stderr)")

            // Every connection is cut before the server answers its first command: reported as a close during the
            // handshake (where a TLS port spoken to in plain text cuts too), not as a certificate problem. A reset
            // mid-transfer has its own message without a TLS hint (CertificateProblemTests) and is retried.
            let proxy = try await FaultProxy.start(target: "127.0.0.1:\(Servers.endpoint(Servers.target).port)", dropAfterBytes: 8)
            defer { proxy.stop() }
            let reset = try await CLI.run(base + ["--target", "redis://127.0.0.1:\(proxy.port)"])
            #expect(reset.status == 2, "\(reset.output)")
            #expect(reset.stderr.contains("closed the connection during the connection handshake") && !reset.stderr.contains("did not verify"), "\(reset.stderr)")
            #expect(try await target.keyCount() == 0)
            await target.close()
        }
    }
}
