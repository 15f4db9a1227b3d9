import Foundation

/// The shared AWS configuration files: `~/.aws/config` (`[default]`, `[profile NAME]`) and `~/.aws/credentials`
/// (`[NAME]`), or the files named by `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`. A profile's settings are
/// those of both files, the credentials file winning, as in the AWS SDKs.
public struct AWSSharedConfig: Sendable, Equatable {
    /// Settings per profile name, keys lower-cased.
    public private(set) var profiles: [String: [String: String]] = [:]
    /// The profile in use: `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`.
    public var selectedProfile: String
    /// Whether the profile was named in the environment (a named profile that does not exist is an error).
    public var profileNamedExplicitly: Bool

    /// Reads the files the environment points at; missing files are empty.
    public init(environment: [String: String]) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let configPath = environment["AWS_CONFIG_FILE"].map(Self.expandTilde(home: home)) ?? home + "/.aws/config"
        let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"].map(Self.expandTilde(home: home)) ?? home + "/.aws/credentials"
        let named = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["AWS_DEFAULT_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        self.init(config: Self.read(configPath), credentials: Self.read(credentialsPath), profile: named)
    }

    /// Parses the two files' texts; `profile` is the named profile, `nil` for `default`.
    public init(config: String, credentials: String, profile: String?) {
        selectedProfile = profile ?? "default"
        profileNamedExplicitly = profile != nil
        for (section, settings) in Self.sections(config) {
            let name: String
            if section == "default" {
                name = "default"
            } else if section.hasPrefix("profile ") {
                name = section.dropFirst("profile ".count).trimmingCharacters(in: .whitespaces)
            } else {
                continue  // sso-session, services, ...
            }
            profiles[name, default: [:]].merge(settings) { $1 }
        }
        for (section, settings) in Self.sections(credentials) {
            profiles[section, default: [:]].merge(settings) { $1 }
        }
    }

    /// The settings of profile `name`, if either file has it.
    public func profile(_ name: String) -> [String: String]? { profiles[name] }

    /// The selected profile's settings (empty when it does not exist).
    public var selected: [String: String] { profiles[selectedProfile] ?? [:] }

    private static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    private static func expandTilde(home: String) -> (String) -> String {
        { $0.hasPrefix("~/") ? home + $0.dropFirst() : $0 }
    }

    /// INI sections in order; indented lines (nested settings such as `s3 =` blocks) are skipped.
    static func sections(_ text: String) -> [(String, [String: String])] {
        var result: [(String, [String: String])] = []
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                result.append((line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces), [:]))
                continue
            }
            guard !result.isEmpty, rawLine.first != " ", rawLine.first != "\t", let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            // An inline comment needs whitespace before it (`key = value # note`).
            if let comment = value.range(of: " #") ?? value.range(of: " ;") { value = value[..<comment.lowerBound].trimmingCharacters(in: .whitespaces) }
            result[result.count - 1].1[key] = value
        }
        return result
    }
}
