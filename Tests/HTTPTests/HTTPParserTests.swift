import Testing
@testable import HTTP

@Suite struct HTTPParserTests {
    @Test func parsesContentLengthBodiesFedByteByByte() throws {
        let wire = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}".utf8)
        var parser = HTTPResponseParser()
        for byte in wire.dropLast() {
            parser.feed([byte])
            #expect(try parser.response() == nil)
        }
        parser.feed([wire.last!])
        let response = try #require(try parser.response())
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        #expect(response.text == "{\"ok\":true}")
    }

    @Test func decodesChunkedBodies() throws {
        var parser = HTTPResponseParser()
        parser.feed(Array("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n".utf8))
        let response = try #require(try parser.response())
        #expect(response.status == 404)
        #expect(response.text == "Wikipedia")
    }

    @Test func waitsForTheEndOfAChunkedBody() throws {
        var parser = HTTPResponseParser()
        parser.feed(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi".utf8))
        #expect(try parser.response() == nil)
        #expect(throws: HTTPError.self) { try parser.response(closed: true) }
    }

    /// A chunked body fed in pieces of every size, split inside size lines, data and terminators, decodes to the
    /// same bytes (the parser keeps whole chunks between feeds instead of decoding the body again).
    @Test(arguments: [1, 3, 7, 64, 1000]) func decodesAChunkedBodyFedInPieces(piece: Int) throws {
        var chunks: [UInt8] = []
        var expected: [UInt8] = []
        for index in 0..<40 {
            let data = (0..<(index * 13 % 97 + 1)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            chunks += Array("\(String(data.count, radix: 16))\r\n".utf8) + data + [13, 10]
            expected += data
        }
        let message = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + chunks + Array("0\r\n\r\n".utf8)
        var parser = HTTPResponseParser()
        var response: HTTPResponse?
        var offset = 0
        while offset < message.count {
            #expect(response == nil, "complete before the last byte")
            parser.feed(Array(message[offset..<min(offset + piece, message.count)]))
            offset += piece
            response = try parser.response()
        }
        #expect(try #require(response).body == expected)
    }

    @Test func readsUntilCloseWithoutALength() throws {
        var parser = HTTPResponseParser()
        parser.feed(Array("HTTP/1.0 200 OK\r\n\r\nabc".utf8))
        #expect(try parser.response() == nil)
        #expect(try parser.response(closed: true)?.text == "abc")
    }

    @Test func refusesWhatIsNotHTTP() {
        var parser = HTTPResponseParser()
        parser.feed(Array("-ERR unknown command\r\n\r\n".utf8))
        #expect(throws: HTTPError.self) { try parser.response() }
        var oversized = HTTPResponseParser(maxBodyBytes: 10)
        oversized.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n".utf8))
        #expect(throws: HTTPError.self) { try oversized.response() }
    }

    @Test func serializesRequestsWithHostAndLength() {
        let request = HTTPRequest(method: "PUT", path: "/collections/c/points?wait=true", headers: [("api-key", "k")], body: Array("{}".utf8))
        #expect(String(decoding: request.serialized(host: "q:6333"), as: UTF8.self)
                == "PUT /collections/c/points?wait=true HTTP/1.1\r\nHost: q:6333\r\nContent-Length: 2\r\napi-key: k\r\n\r\n{}")
    }
}
