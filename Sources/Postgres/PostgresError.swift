import Transport
import Failures

/// Why a PostgreSQL operation failed; server errors carry the SQLSTATE and the server's message.
public enum PostgresError: TransientFailure, Sendable, Equatable, CustomStringConvertible {
    /// The connection could not be opened (refused, DNS, timeout, TLS, authentication).
    case connectionFailed(Endpoint, reason: String)
    /// A statement failed on the server.
    case server(sqlState: String, message: String, detail: String?, hint: String?, statement: String)
    /// The connection broke during an operation.
    case connectionLost(Endpoint, reason: String)
    /// Data did not have the shape its type promises.
    case malformed(String)

    public var description: String {
        switch self {
        case .connectionFailed(let endpoint, let reason):
            return "cannot connect to PostgreSQL at \(endpoint): \(reason)\(Self.connectionHint(reason))"
        case .server(let sqlState, let message, let detail, let hint, let statement):
            var text = "PostgreSQL refused \(statement): \(message) (SQLSTATE \(sqlState))"
            if let detail { text += ". \(detail)" }
            if let hint { text += ". Hint: \(hint)" }
            return text + Self.stateHint(sqlState)
        case .connectionLost(let endpoint, let reason):
            return "lost the PostgreSQL connection to \(endpoint): \(reason)"
        case .malformed(let message):
            return "unexpected data from PostgreSQL: \(message)"
        }
    }

    /// Whether retrying later may help (a lost connection, a serialization failure, a server starting up).
    public var isTransient: Bool {
        switch self {
        case .connectionLost: return true
        case .connectionFailed(_, let reason): return reason.contains("Connection refused") || reason.contains("timeout") || reason.contains("starting up")
        case .server(let sqlState, _, _, _, _): return ["40001", "40P01", "57P01", "57P03", "08006", "08003"].contains(sqlState)
        case .malformed: return false
        }
    }

    private static func connectionHint(_ reason: String) -> String {
        if reason.contains("password authentication failed") || reason.contains("no password supplied") {
            return " Check the user and the password (MIGRATE_SOURCE_PASSWORD/MIGRATE_TARGET_PASSWORD, or --…-password-file)."
        }
        if reason.contains("Connection refused") { return " Check that the server runs and the port is right." }
        if reason.contains("certificate") { return " Pass the CA that signed the server's certificate with --…-ca-file (sslrootcert)." }
        if reason.contains("does not exist") { return " Check the database name in the URI." }
        return ""
    }

    private static func stateHint(_ sqlState: String) -> String {
        switch sqlState {
        case "42P01": return ". Check the table name (and schema) in the mapping or --table."
        case "42501": return ". Grant the user SELECT (source) or INSERT/UPDATE/CREATE (target) on it."
        case "42704": return ". Is the pgvector extension installed (CREATE EXTENSION vector)?"
        case "22000", "22P02": return ". A value does not fit the target column: check dimensions and types."
        default: return ""
        }
    }
}
