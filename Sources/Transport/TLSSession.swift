#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import Foundation

/// A configured OpenSSL client context (`SSL_CTX`): trust store, client certificate, protocol floor. Loading a
/// CA bundle costs milliseconds, so every connection with the same configuration shares one context for the
/// life of the process.
final class TLSContext: @unchecked Sendable {
    // Configured once in `init`, then only read by `SSL_new`, which OpenSSL allows from any thread.
    let handle: OpaquePointer

    private static let lock = NSLock()
    // Guarded by `lock`. Bounded by the distinct configurations of one run (a handful).
    nonisolated(unsafe) private static var shared: [TLSConfiguration: TLSContext] = [:]

    /// The context for `configuration`, created on first use; `endpoint` names the connection in errors.
    static func shared(for configuration: TLSConfiguration, endpoint: Endpoint) throws(TransportError) -> TLSContext {
        lock.lock()
        defer { lock.unlock() }
        if let context = shared[configuration] { return context }
        let context = try TLSContext(configuration: configuration, endpoint: endpoint)
        shared[configuration] = context
        return context
    }

    private init(configuration: TLSConfiguration, endpoint: Endpoint) throws(TransportError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw .tlsHandshakeFailed(endpoint, reason: TLSSession.drainErrors())
        }
        _ = migrate_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        _ = migrate_SSL_CTX_set_mode(context, Int(SSL_MODE_AUTO_RETRY))
        do {
            try Self.configure(context, configuration)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        handle = context
    }

    private static func configure(_ context: OpaquePointer, _ configuration: TLSConfiguration) throws(TransportError) {
        if configuration.verifyPeer {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            if let caFile = configuration.caFile {
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    throw .tlsFileUnusable(path: caFile, reason: TLSSession.drainErrors())
                }
            } else {
                SSL_CTX_set_default_verify_paths(context)
            }
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if let certificate = configuration.certificateFile {
            guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
                throw .tlsFileUnusable(path: certificate, reason: TLSSession.drainErrors())
            }
            let key = configuration.privateKeyFile ?? certificate
            guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
                throw .tlsFileUnusable(path: key, reason: TLSSession.drainErrors())
            }
        }
    }

    deinit {
        SSL_CTX_free(handle)
    }
}

/// An OpenSSL client session over a connected socket. The OpenSSL handles stay inside this file.
final class TLSSession {
    private let context: TLSContext
    private let ssl: OpaquePointer
    private let endpoint: Endpoint

    init(descriptor: Int32, endpoint: Endpoint, configuration: TLSConfiguration) throws(TransportError) {
        self.endpoint = endpoint
        let context = try TLSContext.shared(for: configuration, endpoint: endpoint)
        guard let ssl = SSL_new(context.handle) else {
            throw .tlsHandshakeFailed(endpoint, reason: Self.drainErrors())
        }
        self.context = context
        self.ssl = ssl
        SSL_set_fd(ssl, descriptor)

        let name = configuration.serverName ?? endpoint.host
        let nameIsAddress = Endpoint(host: name, port: 0).hostIsIPAddress
        if !nameIsAddress {
            _ = migrate_SSL_set_tlsext_host_name(ssl, name)
        }
        if configuration.verifyPeer {
            let parameters = SSL_get0_param(ssl)
            if nameIsAddress {
                X509_VERIFY_PARAM_set1_ip_asc(parameters, name)
            } else {
                X509_VERIFY_PARAM_set1_host(parameters, name, 0)
            }
        }

        ERR_clear_error()
        if SSL_connect(ssl) != 1 {
            // Every stored property is set, so `deinit` frees the handles when this initializer throws.
            let verify = SSL_get_verify_result(ssl)
            let reason = Self.drainErrors()
            if configuration.verifyPeer && verify != X509_V_OK {
                throw .certificateVerificationFailed(endpoint, problem: CertificateProblem(verifyResult: Int(verify)),
                                                    reason: String(cString: X509_verify_cert_error_string(verify)))
            }
            if errno == EAGAIN {
                throw .timedOut(endpoint, during: "TLS handshake")
            }
            throw .tlsHandshakeFailed(endpoint, reason: reason.isEmpty ? "the server closed the connection" : reason)
        }
    }

    deinit {
        SSL_free(ssl)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        ERR_clear_error()
        let written = SSL_write(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
        if written > 0 { return Int(written) }
        throw failure(written, operation: "write")
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        ERR_clear_error()
        let count = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if count > 0 { return Int(count) }
        throw failure(count, operation: "read")
    }

    func shutdown() {
        _ = SSL_shutdown(ssl)
    }

    private func failure(_ result: Int32, operation: String) -> TransportError {
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_ZERO_RETURN:
            return .closedByPeer(endpoint, during: operation)
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .timedOut(endpoint, during: operation)
        case SSL_ERROR_SYSCALL:
            let systemError = errno
            if systemError == 0 { return .closedByPeer(endpoint, during: operation) }
            return Socket.error(systemError, endpoint: endpoint, operation: operation)
        default:
            return .socketError(endpoint, operation: "TLS \(operation)", reason: Self.drainErrors())
        }
    }

    /// Empties OpenSSL's thread-local error queue into one line.
    static func drainErrors() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.joined(separator: "; ")
    }
}
