/// How a connection does TLS.
///
/// Certificates are verified against the system's trust store, or against `caFile` when one is given, and the
/// server's name (or IP address) must match its certificate. Only ``verifyPeer`` = `false` turns that off, and
/// the CLI asks for it by name (`--…-insecure-skip-verify`).
public struct TLSConfiguration: Sendable, Hashable {
    /// A PEM file of CA certificates to trust instead of the system store.
    public var caFile: String?
    /// A PEM client certificate chain, for servers that require one.
    public var certificateFile: String?
    /// The PEM private key for `certificateFile`.
    public var privateKeyFile: String?
    /// The name sent as SNI and checked against the certificate; the endpoint's host when `nil`.
    public var serverName: String?
    /// Whether the server's certificate chain and name are verified.
    public var verifyPeer: Bool

    /// Creates a configuration; the defaults verify against the system trust store.
    public init(
        caFile: String? = nil,
        certificateFile: String? = nil,
        privateKeyFile: String? = nil,
        serverName: String? = nil,
        verifyPeer: Bool = true
    ) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.serverName = serverName
        self.verifyPeer = verifyPeer
    }
}

/// Timeouts and TLS settings for opening a ``ByteStream``.
public struct ConnectionOptions: Sendable, Hashable {
    /// How long DNS plus the TCP connect plus the TLS handshake may take.
    public var connectTimeout: Duration
    /// How long one read or write may block.
    public var ioTimeout: Duration
    /// TLS settings, or `nil` for plain TCP.
    public var tls: TLSConfiguration?

    /// Creates options.
    public init(connectTimeout: Duration = .seconds(10), ioTimeout: Duration = .seconds(60), tls: TLSConfiguration? = nil) {
        self.connectTimeout = connectTimeout
        self.ioTimeout = ioTimeout
        self.tls = tls
    }
}
