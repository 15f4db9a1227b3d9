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
    /// The server's certificate did not verify; `problem` says why, from OpenSSL's verify result.
    case certificateVerificationFailed(Endpoint, problem: CertificateProblem, reason: String)
    /// A TLS file (CA, certificate, key) could not be loaded.
    case tlsFileUnusable(path: String, reason: String)
    /// The peer closed the connection.
    case closedByPeer(Endpoint, during: String)
    /// The connection was reset (TCP RST, ECONNRESET or EPIPE) on an established connection: a proxy, load
    /// balancer or network fault, not a TLS mismatch.
    case connectionReset(Endpoint, during: String)
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
        case .certificateVerificationFailed(let endpoint, let problem, let reason):
            return "the TLS certificate of \(endpoint) did not verify: \(reason). \(problem.fix)"
        case .tlsFileUnusable(let path, let reason):
            return "cannot use TLS file '\(path)': \(reason). Check the path and that the file is PEM."
        case .closedByPeer(let endpoint, let during):
            return "\(endpoint) closed the connection during \(during). If the server requires TLS, use a TLS URI (rediss://, bolt+s://, https://); otherwise check its logs (connection limits, timeouts)."
        case .connectionReset(let endpoint, let during):
            return "the connection to \(endpoint) was reset during \(during) (a proxy, load balancer or network fault cut it); this is retried on a new connection. If it keeps happening, check the network path and idle timeouts between here and the server."
        case .socketError(let endpoint, let operation, let reason):
            return "\(operation) with \(endpoint) failed: \(reason)."
        }
    }

    /// Whether the peer closed or reset an open connection (a kept-alive connection may simply have gone stale).
    public var isClosedConnection: Bool {
        switch self {
        case .closedByPeer, .connectionReset: return true
        default: return false
        }
    }

    /// Whether retrying the same operation later may succeed (the server may come back or fail over).
    public var isTransient: Bool {
        switch self {
        case .connectionRefused, .timedOut, .closedByPeer, .connectionReset, .socketError: return true
        case .nameResolutionFailed, .tlsHandshakeFailed, .certificateVerificationFailed, .tlsFileUnusable: return false
        }
    }
}

/// Why a server's certificate did not verify, as OpenSSL's verify result tells it (never guessed from text).
public enum CertificateProblem: Sendable, Equatable {
    /// The certificate is valid but names other hosts than the one connected to.
    case nameMismatch
    /// No trusted CA signed it (self-signed, or a private CA not given).
    case unknownAuthority
    /// Its validity period ended.
    case expired
    /// Its validity period has not begun.
    case notYetValid
    /// Any other verify failure (revoked, bad signature, bad chain).
    case other

    /// The problem for an OpenSSL `X509_V_ERR_*` code.
    public init(verifyResult code: Int) {
        switch code {
        case 62, 64: self = .nameMismatch // X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        case 2, 18, 19, 20, 21, 27: self = .unknownAuthority // unable to get issuer, self-signed, untrusted
        case 10, 12: self = .expired // X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CRL_HAS_EXPIRED
        case 9, 11: self = .notYetValid // X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CRL_NOT_YET_VALID
        default: self = .other
        }
    }

    /// What to do about it.
    var fix: String {
        switch self {
        case .nameMismatch:
            return "The certificate does not name the host checked: connect by a name it lists, or pass --source-tls-server-name/--target-tls-server-name with that name."
        case .unknownAuthority:
            return "Pass the CA that signed it with --source-ca-file/--target-ca-file."
        case .expired:
            return "The server's certificate has expired: renew it (or check this machine's clock)."
        case .notYetValid:
            return "The server's certificate is not valid yet: check this machine's clock, or the certificate's start date."
        case .other:
            return "Check the server's certificate chain; --source-ca-file/--target-ca-file give the CA to trust."
        }
    }
}
