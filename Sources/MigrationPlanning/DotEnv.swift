/// A `.env` file as Docker Compose and python-dotenv read it: `NAME=value` lines, `export ` prefixes, `#`
/// comments, single quotes (literal), double quotes (with `\n`, `\"`, `\\` escapes), and unquoted values ending
/// at ` #`.
public struct DotEnv: Sendable, Equatable {
    /// A line that is not `NAME=value`.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        /// The file's path.
        public var path: String
        /// The line number, from 1.
        public var line: Int
        /// What is wrong.
        public var reason: String

        public var description: String { "\(path):\(line): \(reason)" }
    }

    /// The variables, in file order (a later line replaces an earlier one).
    public private(set) var values: [String: String] = [:]

    /// Parses the text of a `.env` file; `path` names it in errors.
    public init(parsing text: String, path: String = ".env") throws(SyntaxError) {
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7).trimmingWhitespace() }
            guard let equals = line.firstIndex(of: "=") else {
                throw SyntaxError(path: path, line: number + 1, reason: "expected NAME=value")
            }
            let name = line[..<equals].trimmingWhitespace()
            guard let first = name.first, first == "_" || first.isLetter,
                  name.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }) else {
                throw SyntaxError(path: path, line: number + 1, reason: "'\(name)' is not a variable name")
            }
            values[String(name)] = try Self.value(line[line.index(after: equals)...].trimmingWhitespace(), path: path, line: number + 1)
        }
    }

    /// The value of `name`, if set.
    public subscript(name: String) -> String? { values[name] }

    private static func value(_ text: Substring, path: String, line: Int) throws(SyntaxError) -> String {
        guard let quote = text.first, quote == "\"" || quote == "'" else {
            if let comment = text.range(of: " #") { return String(text[..<comment.lowerBound].trimmingWhitespace()) }
            return String(text)
        }
        var result = ""
        var escaped = false
        for (offset, character) in text.dropFirst().enumerated() {
            if escaped {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                default: result.append(character)
                }
                escaped = false
            } else if character == "\\" && quote == "\"" {
                escaped = true
            } else if character == quote {
                let rest = text.dropFirst(offset + 2).trimmingWhitespace()
                guard rest.isEmpty || rest.hasPrefix("#") else { throw SyntaxError(path: path, line: line, reason: "text after the closing quote") }
                return result
            } else {
                result.append(character)
            }
        }
        throw SyntaxError(path: path, line: line, reason: "the value's quote \(quote) is never closed")
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        let trimmed = self.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
        return Substring(trimmed.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
