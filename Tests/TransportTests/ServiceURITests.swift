import Testing
@testable import Transport

@Suite struct ServiceURITests {
    let ports = ["redis": 6379, "rediss": 6379]

    @Test func parsesUserPasswordHostPortAndDatabase() throws {
        let uri = try ServiceURI("rediss://migrator:p%40ss%3Aword@cfg.cache.amazonaws.com:6380/2?x=1", defaultPorts: ports)
        #expect(uri.scheme == "rediss")
        #expect(uri.user == "migrator")
        #expect(uri.password?.reveal() == "p@ss:word")
        #expect(uri.endpoint == Endpoint(host: "cfg.cache.amazonaws.com", port: 6380))
        #expect(uri.path == "2")
        #expect(uri.queryValue("x") == "1")
    }

    @Test func decodesValidEscapesAndKeepsInvalidOnes() {
        #expect(ServiceURI.percentDecode("a%20b%zz%4") == "a b%zz%4")
        #expect(ServiceURI.percentDecode("%E2%9C%93") == "✓")
    }

    @Test func neverShowsThePassword() throws {
        let uri = try ServiceURI("redis://:hunter2@localhost", defaultPorts: ports)
        #expect(uri.description == "redis://:***@localhost:6379")
        #expect(!"\(uri)".contains("hunter2"))
        #expect("\(uri.password!)" == "***")
        #expect(ServiceURI.redact("redis://u:hunter2@h:1") == "redis://u:***@h:1")
    }

    @Test func parsesIPv6Hosts() throws {
        let uri = try ServiceURI("redis://[::1]:7000", defaultPorts: ports)
        #expect(uri.endpoint.host == "::1")
        #expect(uri.endpoint.description == "[::1]:7000")
        #expect(uri.endpoint.hostIsIPAddress)
    }

    @Test(arguments: ["localhost:6379", "redis://", "redis://host:99999", "redis://host:abc", "ftp://host"])
    func refusesMalformedURIs(_ text: String) {
        #expect(throws: ServiceURI.ParseError.self) { try ServiceURI(text, defaultPorts: ports) }
    }

    @Test func errorMessagesDoNotLeakPasswords() {
        do {
            _ = try ServiceURI("redis//user:hunter2@host", defaultPorts: ports)
            Issue.record("expected a parse error")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }
}

@Suite struct ByteStreamTests {
    @Test func refusedConnectionNamesTheEndpoint() throws {
        // Port 1 on loopback has no listener on these machines.
        let endpoint = Endpoint(host: "127.0.0.1", port: 1)
        #expect(throws: TransportError.connectionRefused(endpoint)) {
            _ = try ByteStream(connectingTo: endpoint, options: .init(connectTimeout: .seconds(2)))
        }
    }

    @Test func unknownHostIsANameResolutionError() {
        do {
            _ = try ByteStream(connectingTo: Endpoint(host: "no-such-host.invalid", port: 6379), options: .init(connectTimeout: .seconds(5)))
            Issue.record("expected a resolution failure")
        } catch {
            guard case .nameResolutionFailed(let host, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(host == "no-such-host.invalid")
            #expect(error.description.contains("cannot resolve host"))
            #expect(!error.isTransient)
        }
    }

    @Test func missingCAFileIsReportedBeforeConnecting() throws {
        // A listener that accepts and then says nothing: the TLS setup must fail on the CA file first.
        let endpoint = Endpoint(host: "127.0.0.1", port: 1)
        let options = ConnectionOptions(connectTimeout: .seconds(1), tls: TLSConfiguration(caFile: "/nonexistent/ca.pem"))
        #expect(throws: TransportError.self) { _ = try ByteStream(connectingTo: endpoint, options: options) }
    }
}
