import Failures
/// Why a connection could not be opened or used; each message names the problem and a likely fix.
public enum TransportError: TransientFailure, Sendable, Equatable, CustomStringConvertible {
    /// The host name did not resolve.
    case nameResolutionFailed(host: String, reason: String)
    /// Nothing listens on the port.
    case connectionRefused(Endpoint)
    /// The connect, handshake, read or write took longer than allowed.
    case timedOut(Endpoint, during: String)
    /// The TLS handshake failed for a reason other than the certificate.
    case tlsHandshakeFailed(Endpoint, reason: String)
    /// The server's certificate did not verify.
    case certificateVerificationFailed(Endpoint, reason: String)
    /// A TLS file (CA, certificate, key) could not be loaded.
    case tlsFileUnusable(path: String, reason: String)
    /// The peer closed the connection.
    case closedByPeer(Endpoint, during: String)
    /// Any other socket error.
    case socketError(Endpoint, operation: String, reason: String)

    public var description: String {
        switch self {
        case .nameResolutionFailed(let host, let reason):
            return "cannot resolve host '\(host)': \(reason). Check the host name in the URI and this machine's DNS."
        case .connectionRefused(let endpoint):
            return "connection refused by \(endpoint): nothing listens there. Check that the server runs and the port is right."
        case .timedOut(let endpoint, let during):
            return "timed out during \(during) with \(endpoint). Check the address, security groups and firewalls; a TLS-only port expects a TLS URI (rediss://, bolt+s://, https://)."
        case .tlsHandshakeFailed(let endpoint, let reason):
            return "TLS handshake with \(endpoint) failed: \(reason). If the server does not use TLS, use the plain URI (redis://, bolt://, http://)."
        case .certificateVerificationFailed(let endpoint, let reason):
            return "the TLS certificate of \(endpoint) did not verify: \(reason). Pass the CA that signed it with --source-ca-file/--target-ca-file."
        case .tlsFileUnusable(let path, let reason):
            return "cannot use TLS file '\(path)': \(reason). Check the path and that the file is PEM."
        case .closedByPeer(let endpoint, let during):
            return "\(endpoint) closed the connection during \(during). If the server requires TLS, use a TLS URI (rediss://, bolt+s://, https://); otherwise check its logs (connection limits, timeouts)."
        case .socketError(let endpoint, let operation, let reason):
            return "\(operation) with \(endpoint) failed: \(reason)."
        }
    }

    /// Whether retrying the same operation later may succeed (the server may come back or fail over).
    public var isTransient: Bool {
        switch self {
        case .connectionRefused, .timedOut, .closedByPeer, .socketError: return true
        case .nameResolutionFailed, .tlsHandshakeFailed, .certificateVerificationFailed, .tlsFileUnusable: return false
        }
    }
}
