import Testing
@testable import Transport

@Suite struct TLSContextTests {
    private let endpoint = Endpoint(host: "cache.example", port: 6379)

    @Test func connectionsWithOneConfigurationShareOneContext() throws {
        let first = try TLSContext.shared(for: TLSConfiguration(), endpoint: endpoint)
        let second = try TLSContext.shared(for: TLSConfiguration(), endpoint: Endpoint(host: "other.example", port: 6380))
        let insecure = try TLSContext.shared(for: TLSConfiguration(verifyPeer: false), endpoint: endpoint)
        #expect(first === second)
        #expect(first !== insecure)
    }

    @Test func anUnreadableCAFileIsNamedAndNotRemembered() {
        let configuration = TLSConfiguration(caFile: "/nonexistent/ca.pem")
        for _ in 0..<2 {
            #expect {
                _ = try TLSContext.shared(for: configuration, endpoint: endpoint)
            } throws: { error in
                "\(error)".contains("/nonexistent/ca.pem")
            }
        }
    }
}
