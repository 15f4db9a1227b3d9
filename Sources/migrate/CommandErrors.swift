import ArgumentParser
import Foundation
import KeyMigration

/// Turns errors that stop a run before it writes anything into one clear line and exit code 2.
enum CommandErrors {
    static func reporting<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ValidationError {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCodes.failed
        }
    }
}
