#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COpenSSL

/// A connected, blocking TCP stream, optionally wrapped in TLS.
///
/// Every call blocks the calling thread: callers run them on a ``BlockingIO/BlockingQueue`` owned by the
/// connection, never on Swift's cooperative pool. A stream is used by one owner at a time.
public final class ByteStream {
    /// Where the stream is connected.
    public let endpoint: Endpoint
    private var descriptor: Int32
    private var tls: TLSSession?

    /// Resolves, connects and (when `options.tls` is set) completes the TLS handshake, all within
    /// `options.connectTimeout`.
    public init(connectingTo endpoint: Endpoint, options: ConnectionOptions) throws(TransportError) {
        Self.ignoreSIGPIPE
        self.endpoint = endpoint
        self.descriptor = try Socket.connect(to: endpoint, timeout: options.connectTimeout)
        do {
            if let configuration = options.tls {
                // The handshake is part of connecting: bound it by the connect timeout.
                try Socket.setTimeouts(descriptor, io: options.connectTimeout)
                tls = try TLSSession(descriptor: descriptor, endpoint: endpoint, configuration: configuration)
            }
            try Socket.setTimeouts(descriptor, io: options.ioTimeout)
        } catch {
            Glibc.close(descriptor)
            throw error
        }
    }

    deinit {
        close()
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let written: Int
            if let tls {
                written = try tls.write(chunk)
            } else {
                written = try Socket.send(descriptor, chunk, endpoint: endpoint)
            }
            offset += written
        }
    }

    /// Reads at least one byte into `buffer` and returns how many; throws ``TransportError/closedByPeer(_:during:)``
    /// at end of stream.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        if let tls {
            return try tls.read(into: buffer)
        }
        return try Socket.receive(descriptor, into: buffer, endpoint: endpoint)
    }

    /// Closes the stream; further reads and writes fail.
    public func close() {
        tls?.shutdown()
        tls = nil
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }

    private static let ignoreSIGPIPE: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()
}

/// Thin wrappers over the BSD socket calls, each turning `errno` into a ``TransportError``.
enum Socket {
    static func connect(to endpoint: Endpoint, timeout: Duration) throws(TransportError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard status == 0, let first = list else {
            throw .nameResolutionFailed(host: endpoint.host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }

        var lastError: TransportError = .connectionRefused(endpoint)
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            current = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            do {
                try connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen, endpoint: endpoint, timeout: timeout)
                var on: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
                return fd
            } catch {
                Glibc.close(fd)
                lastError = error
            }
        }
        throw lastError
    }

    private static func connect(
        _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: socklen_t,
        endpoint: Endpoint, timeout: Duration
    ) throws(TransportError) {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if Glibc.connect(fd, address, length) != 0 {
            guard errno == EINPROGRESS else { throw error(errno, endpoint: endpoint, operation: "connect") }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&poller, 1, Int32(timeout.milliseconds))
            if ready == 0 { throw .timedOut(endpoint, during: "connect") }
            if ready < 0 { throw error(errno, endpoint: endpoint, operation: "connect") }
            var socketError: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &size)
            if socketError != 0 { throw error(socketError, endpoint: endpoint, operation: "connect") }
        }
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
    }

    static func setTimeouts(_ fd: Int32, io: Duration) throws(TransportError) {
        let milliseconds = io.milliseconds
        var value = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, endpoint: Endpoint) throws(TransportError) -> Int {
        while true {
            let written = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if written >= 0 { return written }
            if errno == EINTR { continue }
            throw error(errno, endpoint: endpoint, operation: "write")
        }
    }

    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, endpoint: Endpoint) throws(TransportError) -> Int {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return count }
            if count == 0 { throw .closedByPeer(endpoint, during: "read") }
            if errno == EINTR { continue }
            throw error(errno, endpoint: endpoint, operation: "read")
        }
    }

    static func error(_ code: Int32, endpoint: Endpoint, operation: String) -> TransportError {
        switch code {
        case ECONNREFUSED: return .connectionRefused(endpoint)
        case EAGAIN, ETIMEDOUT: return .timedOut(endpoint, during: operation)
        case ECONNRESET, EPIPE: return .connectionReset(endpoint, during: operation)
        default: return .socketError(endpoint, operation: operation, reason: String(cString: strerror(code)))
        }
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
