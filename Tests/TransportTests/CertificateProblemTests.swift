import Testing
@testable import Transport

/// The hint of a certificate failure comes from OpenSSL's verify result, one per cause.
@Suite struct CertificateProblemTests {
    @Test(arguments: [(62, CertificateProblem.nameMismatch), (64, .nameMismatch), (20, .unknownAuthority), (18, .unknownAuthority),
                      (19, .unknownAuthority), (10, .expired), (9, .notYetValid), (23, .other)])
    func verifyResultsMapToTheirProblem(code: Int, problem: CertificateProblem) {
        #expect(CertificateProblem(verifyResult: code) == problem)
    }

    @Test func eachProblemHasItsOwnFix() {
        let endpoint = Endpoint(host: "cache.example", port: 6379)
        func text(_ problem: CertificateProblem) -> String {
            TransportError.certificateVerificationFailed(endpoint, problem: problem, reason: "r").description
        }
        #expect(text(.nameMismatch).contains("tls-server-name") && !text(.nameMismatch).contains("Pass the CA"))
        #expect(text(.unknownAuthority).contains("Pass the CA that signed it"))
        #expect(text(.expired).contains("has expired") && !text(.expired).contains("Pass the CA"))
        #expect(text(.notYetValid).contains("clock"))
        let reset = TransportError.connectionReset(endpoint, during: "write").description
        #expect(reset.contains("was reset") && !reset.contains("TLS"))
        #expect(TransportError.connectionReset(endpoint, during: "write").isTransient)
    }
}
