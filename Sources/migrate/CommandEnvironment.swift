import Foundation

/// The environment the commands read their defaults and secrets from (`MIGRATE_SOURCE_PASSWORD`, `REDIS_URI`,
/// AWS keys): the process's own, with a phase's secrets laid over it by `migrate run` and `migrate plan` for
/// that phase's task alone. The secrets never go through `setenv`, which would hand them to every thread and
/// child process and is not safe while other threads read the environment.
enum CommandEnvironment {
    @TaskLocal private static var overrides: [String: String] = [:]

    /// The variables as the running command sees them.
    static var current: [String: String] {
        overrides.isEmpty ? ProcessInfo.processInfo.environment : ProcessInfo.processInfo.environment.merging(overrides) { $1 }
    }

    /// Runs `body` (and every task it starts) with `values` laid over the process environment.
    static func with<T>(_ values: [String: String], _ body: () async throws -> T) async rethrows -> T {
        try await $overrides.withValue(overrides.merging(values) { $1 }) { try await body() }
    }
}
