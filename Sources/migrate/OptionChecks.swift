import ArgumentParser
import Foundation
import MigrationCore
import Transport

/// The checks every command runs on its options before it opens a connection or writes anything. Each failure
/// is one line naming the option, the value, the problem and the fix, and exits 64 (usage).
enum OptionCheck {
    /// One line: `--batch -5: must be between 1 and 100000; for example --batch 1000`.
    static func failure(_ option: String, _ value: String, _ problem: String, fix: String) -> ValidationError {
        ValidationError("\(option) '\(value)': \(problem); \(fix)")
    }

    /// Refuses a number outside `range`.
    static func number(_ option: String, _ value: Int, in range: ClosedRange<Int>, example: Int) throws {
        guard range.contains(value) else {
            let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            throw failure(option, String(value), "must be \(bounds)", fix: "for example \(option) \(example)")
        }
    }

    /// Refuses a path the run will write a file to: its directory must exist and be writable, and the path itself,
    /// when it exists, must be a writable regular file.
    static func writableFile(_ option: String, _ path: String?) throws {
        guard let path else { return }
        guard !path.isEmpty else { throw failure(option, path, "is empty", fix: "give a file path, e.g. \(option) report.json") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw failure(option, path, "is a directory", fix: "name a file inside it, e.g. \(option) \((path as NSString).appendingPathComponent("report.json"))") }
            guard access(path, W_OK) == 0 else { throw failure(option, path, "cannot be written (\(String(cString: strerror(errno))))", fix: "fix its permissions or choose another path") }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        try directoryToWriteIn(option, path, parent.isEmpty ? "." : parent)
    }

    /// Refuses a directory the run will create files in: it must be a writable directory, or, when it does not
    /// exist yet, its nearest existing ancestor must be one (the run creates the rest).
    static func writableDirectory(_ option: String, _ path: String) throws {
        guard !path.isEmpty else { throw failure(option, path, "is empty", fix: "give a directory, e.g. \(option) .migrate") }
        var existing = path
        while !FileManager.default.fileExists(atPath: existing) {
            let parent = (existing as NSString).deletingLastPathComponent
            existing = parent.isEmpty ? "." : parent
            if existing == "/" || existing == "." { break }
        }
        try directoryToWriteIn(option, path, existing)
    }

    private static func directoryToWriteIn(_ option: String, _ path: String, _ directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw failure(option, path, "its directory \(directory) does not exist", fix: "create it first (mkdir -p \(directory)) or choose another path")
        }
        guard isDirectory.boolValue else {
            throw failure(option, path, "\(directory) is a file, not a directory", fix: "choose a path inside a directory")
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw failure(option, path, "directory \(directory) cannot be written (\(String(cString: strerror(errno))))", fix: "fix its permissions or choose another path")
        }
    }

    /// Refuses a file the run will read: it must exist, be a readable regular file and not be empty.
    static func readableFile(_ option: String, _ path: String?) throws {
        _ = try contents(option, path)
    }

    /// The contents of a file the run reads (checked as ``readableFile(_:_:)``).
    @discardableResult
    static func contents(_ option: String, _ path: String?) throws -> Data? {
        guard let path else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw failure(option, path, "no such file", fix: "check the path")
        }
        if isDirectory.boolValue { throw failure(option, path, "is a directory", fix: "name the file itself") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw failure(option, path, "cannot be read", fix: "check its permissions (the user running migrate must read it)")
        }
        guard !data.isEmpty else { throw failure(option, path, "is empty", fix: "write the value into it, or drop the option") }
        return data
    }

    /// A secret read from a file (a trailing newline dropped); an empty one is refused, not sent.
    static func secret(_ option: String, path: String?) throws -> Secret? {
        guard let data = try contents(option, path), let path else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        guard !text.isEmpty else { throw failure(option, path, "holds only a newline", fix: "write the password into it, or drop the option") }
        return Secret(text)
    }
}

/// Names a misspelt subcommand with the closest real one before the parser sees it, and keeps a negative number
/// after an option a value (`--batch -5` means the value -5, refused by the range check, not a missing value).
enum CommandLineRepair {
    /// The arguments with every `--option -N` joined into `--option=-N`.
    static func joiningNegativeNumbers(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--"), !argument.contains("="), index + 1 < arguments.count, isNegativeNumber(arguments[index + 1]) {
                result.append("\(argument)=\(arguments[index + 1])")
                index += 2
            } else {
                result.append(argument)
                index += 1
            }
        }
        return result
    }

    private static func isNegativeNumber(_ text: String) -> Bool {
        text.count > 1 && text.hasPrefix("-") && Double(text) != nil
    }

    /// The error for an unknown subcommand among `arguments`, e.g. `unknown command 'redsi'; did you mean 'redis'?`.
    static func unknownSubcommand(_ arguments: [String], root: any ParsableCommand.Type) -> ValidationError? {
        var command = root
        var path = [root.configuration.commandName ?? ""]
        for argument in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !argument.hasPrefix("-") else { return nil }
            let names = subcommands.compactMap { $0.configuration.commandName }
            guard argument != "help" else { return nil }
            guard let next = subcommands.first(where: { $0.configuration.commandName == argument }) else {
                let suggestion = closestMatch(to: argument, in: names).map { "did you mean '\(path.joined(separator: " ")) \($0)'?" }
                return ValidationError("unknown command '\(argument)'; \(suggestion ?? "run '\(path.joined(separator: " ")) --help' to list the commands") (commands: \(names.joined(separator: ", ")))")
            }
            command = next
            path.append(argument)
        }
        return nil
    }
}
