/// A parsed `scheme://[user[:password]@]host[:port][/path][?query]` URI whose password is a ``Secret``.
///
/// Its ``description`` never includes the password, so a URI can be logged or put in a report as it is.
public struct ServiceURI: Sendable, Hashable, CustomStringConvertible {
    /// The scheme, lower-cased (`redis`, `rediss`, `postgres`, `bolt`, `https`, ...).
    public var scheme: String
    /// The user name, percent-decoded.
    public var user: String?
    /// The password, percent-decoded.
    public var password: Secret?
    /// Host and port (the scheme's default port when the URI has none).
    public var endpoint: Endpoint
    /// The path without its leading `/`, percent-decoded.
    public var path: String
    /// Query items in order, percent-decoded.
    public var query: [(name: String, value: String)]

    /// Why a URI could not be parsed.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        /// The problem and an example of the expected form.
        public var description: String
    }

    /// Parses `text`; `defaultPorts` gives the port for schemes that omit it.
    public init(_ text: String, defaultPorts: [String: Int]) throws(ParseError) {
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw ParseError(description: "'\(Self.redact(text))' is not a URI: expected scheme://host:port, e.g. redis://localhost:6379")
        }
        scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(text[schemeEnd.upperBound...])

        var queryPart: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            queryPart = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var pathPart: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            pathPart = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let name = Self.percentDecode(userInfo[..<colon])
                user = name.isEmpty ? nil : name
                password = Secret(Self.percentDecode(userInfo[userInfo.index(after: colon)...]))
            } else {
                user = userInfo.isEmpty ? nil : Self.percentDecode(userInfo)
                password = nil
            }
        } else {
            user = nil
            password = nil
        }

        let host: String
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw ParseError(description: "unclosed '[' in the host of \(scheme)://…: write IPv6 hosts as [::1]:6379")
            }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else {
            throw ParseError(description: "the URI \(scheme)://… has no host: expected \(scheme)://host:port")
        }
        let port: Int
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw ParseError(description: "'\(portText)' is not a valid port in \(scheme)://\(host):…; use a number from 1 to 65535")
            }
            port = value
        } else if let value = defaultPorts[scheme] {
            port = value
        } else {
            throw ParseError(description: "unsupported scheme '\(scheme)': expected one of \(defaultPorts.keys.sorted().joined(separator: ", "))")
        }
        endpoint = Endpoint(host: host, port: port)
        path = Self.percentDecode(pathPart)
        query = queryPart.split(separator: "&").map { item in
            let pair = item.split(separator: "=", maxSplits: 1)
            return (Self.percentDecode(pair[0]), pair.count > 1 ? Self.percentDecode(pair[1]) : "")
        }
    }

    /// The URI with the password replaced by `***`.
    public var description: String {
        var text = "\(scheme)://"
        if let user { text += user }
        if password != nil { text += ":***" }
        if user != nil || password != nil { text += "@" }
        text += endpoint.description
        if !path.isEmpty { text += "/\(path)" }
        if !query.isEmpty { text += "?" + query.map { "\($0.name)=\($0.value)" }.joined(separator: "&") }
        return text
    }

    /// The value of the first query item called `name`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    public static func == (lhs: ServiceURI, rhs: ServiceURI) -> Bool {
        lhs.description == rhs.description && lhs.password == rhs.password
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(description)
    }

    /// `text` with the password (between the user's `:` and the last `@`) replaced by `***`, for messages
    /// about URIs too malformed to parse.
    public static func redact(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        let beforeAt = text[..<at]
        let userInfoStart = beforeAt.lastIndex(of: "/").map { text.index(after: $0) } ?? text.startIndex
        guard let colon = text[userInfoStart..<at].firstIndex(of: ":") else { return text }
        return String(text[...colon]) + "***" + String(text[at...])
    }

    /// `text` with `%XX` escapes decoded (invalid escapes are kept as they are).
    public static func percentDecode<S: StringProtocol>(_ text: S) -> String {
        let input = Array(text.utf8)
        var bytes: [UInt8] = []
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "%"), index + 2 < input.count,
               let value = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
