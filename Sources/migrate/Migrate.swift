import ArgumentParser
import MigrationCore
#if canImport(Glibc)
import Glibc
#endif

/// The `migrate` command line: one subcommand per store, and `verify`.
@main
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move a running system's data into AWS managed services, and prove nothing was lost.",
        discussion: """
            Each store has its own subcommand. Every run streams in batches, keeps a checkpoint so that \
            `--resume` continues after a crash, shows progress, and ends with a report (`--report FILE` for JSON). \
            `migrate verify …` compares source and target afterwards; it exits 3 when they differ. `--report-html FILE` \
            writes the report as one self-contained HTML page (`migrate report` renders one from a JSON report).

            Passwords: put them in MIGRATE_SOURCE_PASSWORD / MIGRATE_TARGET_PASSWORD or a --…-password-file \
            rather than in URIs, so they stay out of the process list and shell history.
            """,
        version: ReportOutput.toolVersion,
        subcommands: [PlanCommand.self, RunCommand.self, RedisCommand.self, VectorsCommand.self, GraphCommand.self, ObjectsCommand.self, VerifyCommand.self, StatusCommand.self,
                      ReportCommand.self]
    )

    /// Parses the arguments, then hides any password in them from the process list before running.
    static func main() async {
        let arguments = CommandLineRepair.joiningNegativeNumbers(Array(CommandLine.arguments.dropFirst()))
        ProcessArguments.maskPasswords()
        do {
            if let unknown = CommandLineRepair.unknownSubcommand(arguments, root: Migrate.self) { throw unknown }
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// The process's own argument strings, as `ps` and `/proc/PID/cmdline` show them.
enum ProcessArguments {
    /// Overwrites, in place, the password part of every `scheme://user:password@host` argument with `*`,
    /// so the password does not stay visible in the process list for the whole run.
    static func maskPasswords() {
        for index in 1..<Int(CommandLine.argc) {
            guard let argument = CommandLine.unsafeArgv[index] else { continue }
            let length = strlen(argument)
            let bytes = UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(argument).assumingMemoryBound(to: UInt8.self), count: length)
            guard let range = passwordRange(in: bytes) else { continue }
            for position in range { bytes[position] = UInt8(ascii: "*") }
        }
    }

    /// Where the password lies in `scheme://user:password@host…`, if there is one.
    static func passwordRange<C: BidirectionalCollection<UInt8>>(in bytes: C) -> Range<C.Index>? {
        guard let schemeEnd = bytes.firstRange(of: Array("://".utf8))?.upperBound,
              let at = bytes[schemeEnd...].lastIndex(of: UInt8(ascii: "@")),
              let colon = bytes[schemeEnd..<at].firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let start = bytes.index(after: colon)
        return start < at ? start..<at : nil
    }
}

/// `migrate verify <store>`.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare source and target: counts, types, expiries and values, in both directions.",
        subcommands: [VerifyRedisCommand.self, VerifyVectorsCommand.self, VerifyGraphCommand.self, VerifyObjectsCommand.self]
    )
}

/// Exit codes shared by every subcommand: 0 the ledger balances and nothing was refused, 2 failed (resumable),
/// 3 verification found differences, 4 finished with refused records (listed in the dead-letter file), 64 bad
/// arguments (swift-argument-parser's validation failure).
enum ExitCodes {
    /// The run failed (connection, credentials, an unbalanced ledger); the checkpoint says how far it got.
    static let failed = ExitCode(MigrationReport.Outcome.failed.exitCode)
    /// Verification found differences.
    static let mismatched = ExitCode(MigrationReport.Outcome.mismatched.exitCode)

    /// Returns for an outcome that exits 0, and throws its exit code otherwise.
    static func check(_ outcome: MigrationReport.Outcome) throws {
        let code = outcome.exitCode
        if code != 0 { throw ExitCode(code) }
    }
}
