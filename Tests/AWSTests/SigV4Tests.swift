import Testing
import Transport
@testable import AWS

@Suite struct SigV4Tests {
    let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))

    // Values computed with botocore's SigV4Auth (the AWS test suite's get-vanilla case for the first).
    @Test func matchesBotocoreForAPlainGet() {
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service")
        let headers = signer.signatureHeaders(method: "GET", path: "/", query: [], headers: [("Host", "example.amazonaws.com")],
                                              payload: [], date: "20150830T123600Z")
        #expect(headers.first { $0.0 == "Authorization" }?.1 == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func matchesBotocoreForANeptuneQueryWithASessionToken() {
        var withToken = credentials
        withToken.sessionToken = Secret("session-token")
        let signer = SigV4Signer(credentials: withToken, region: "us-east-1", service: "neptune-db")
        let headers = signer.signatureHeaders(
            method: "POST", path: "/openCypher", query: [],
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Host", "my-cluster.cluster-abc.us-east-1.neptune.amazonaws.com:8182")],
            payload: Array("query=RETURN+1".utf8), date: "20261123T100000Z")
        #expect(headers.contains { $0 == ("X-Amz-Security-Token", "session-token") })
        #expect(headers.first { $0.0 == "Authorization" }?.1 == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/neptune-db/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=57fa2f74a38ed44846e6f7c73a04524b7fd569d5a6d9e391914659377302399e")
    }

    @Test func formatsTimestampsAndEncodes() {
        #expect(SigV4Signer.timestamp(secondsSince1970: 1_440_938_160) == "20150830T123600Z")
        #expect(SigV4Signer.encode("a b/c~_-.é") == "a%20b%2Fc~_-.%C3%A9")
    }
}
