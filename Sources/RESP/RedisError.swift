import Failures
import Transport

/// Why a Redis operation failed. Server errors carry the server's own message.
public enum RedisError: TransientFailure, Sendable, Equatable, CustomStringConvertible {
    /// The connection could not be opened or broke.
    case transport(TransportError)
    /// The server sent bytes that are not RESP.
    case malformedReply(Endpoint, String)
    /// AUTH was refused.
    case authenticationFailed(Endpoint, user: String?, serverMessage: String)
    /// The server wants a password and none was given.
    case authenticationRequired(Endpoint, serverMessage: String)
    /// A command failed during the connection handshake (`SELECT`, `CLIENT`, ...).
    case handshakeFailed(Endpoint, command: String, serverMessage: String)
    /// A command's reply was an error that the caller could not handle.
    case commandFailed(Endpoint, command: String, serverMessage: String)
    /// A reply had an unexpected shape.
    case unexpectedReply(Endpoint, command: String, reply: String)
    /// A cluster kept redirecting or refusing a command after every retry.
    case clusterUnavailable(String)

    public var description: String {
        switch self {
        case .transport(let error):
            return error.description
        case .malformedReply(let endpoint, let message):
            return "\(endpoint) sent data that is not RESP (\(message)). Is this a Redis-compatible server, and does it expect TLS (rediss://)?"
        case .authenticationFailed(let endpoint, let user, let message):
            let who = user.map { "user '\($0)'" } ?? "the default user"
            return "\(endpoint) refused the credentials for \(who): \(message). Check the user and password (URI, MIGRATE_SOURCE_PASSWORD/MIGRATE_TARGET_PASSWORD, or --…-password-file)."
        case .authenticationRequired(let endpoint, let message):
            return "\(endpoint) requires authentication (\(message)). Give a password in the URI (redis://:PASSWORD@host) or, better, in MIGRATE_SOURCE_PASSWORD/MIGRATE_TARGET_PASSWORD."
        case .handshakeFailed(let endpoint, let command, let message):
            return "\(endpoint) refused \(command) while connecting: \(message)."
        case .commandFailed(let endpoint, let command, let message):
            return "\(endpoint) refused \(command): \(message)"
        case .unexpectedReply(let endpoint, let command, let reply):
            return "\(endpoint) answered \(command) with an unexpected reply: \(reply)"
        case .clusterUnavailable(let message):
            return "the cluster is unavailable: \(message)"
        }
    }

    /// Whether the same operation may succeed if retried after a pause (network faults, failovers).
    public var isTransient: Bool {
        switch self {
        case .transport(let error): return error.isTransient
        case .clusterUnavailable: return true
        case .commandFailed(_, _, let message):
            return RedisErrorCode(message: message).isTransient
        default: return false
        }
    }

    /// The server's error code, when the server refused something.
    public var serverCode: RedisErrorCode? {
        switch self {
        case .authenticationFailed(_, _, let message), .authenticationRequired(_, let message), .handshakeFailed(_, _, let message),
             .commandFailed(_, _, let message):
            return RedisErrorCode(message: message)
        case .transport, .malformedReply, .unexpectedReply, .clusterUnavailable:
            return nil
        }
    }
}
