import CHiredis

/// A command and its arguments, each a binary-safe byte string.
public struct RESPCommand: Sendable, Hashable {
    /// The command name followed by its arguments.
    public var arguments: [[UInt8]]

    /// Creates a command from raw arguments.
    public init(arguments: [[UInt8]]) {
        precondition(!arguments.isEmpty, "a command needs a name")
        self.arguments = arguments
    }

    /// Creates a command from a name and arguments of any ``RESPArgumentConvertible`` type.
    public init(_ name: String, _ arguments: any RESPArgumentConvertible...) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.respArgument)
    }

    /// Creates a command from a name and an array of arguments.
    public init(_ name: String, arguments: [any RESPArgumentConvertible]) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.respArgument)
    }

    /// The upper-cased command name.
    public var name: String {
        String(decoding: arguments[0], as: UTF8.self).uppercased()
    }
}

/// A value that can be sent as a command argument.
public protocol RESPArgumentConvertible: Sendable {
    /// The argument's bytes on the wire.
    var respArgument: [UInt8] { get }
}

extension Array: RESPArgumentConvertible where Element == UInt8 {
    public var respArgument: [UInt8] { self }
}

extension String: RESPArgumentConvertible {
    public var respArgument: [UInt8] { Array(utf8) }
}

extension Int: RESPArgumentConvertible {
    public var respArgument: [UInt8] { Array(String(self).utf8) }
}

extension Int64: RESPArgumentConvertible {
    public var respArgument: [UInt8] { Array(String(self).utf8) }
}

/// Encodes commands into the RESP wire format with hiredis' `redisFormatCommandArgv`.
public enum RESPEncoder {
    /// Appends the wire form of `command` to `buffer`.
    public static func encode(_ command: RESPCommand, into buffer: inout [UInt8]) {
        let count = command.arguments.count
        let lengths = command.arguments.map(\.count)
        withPointers(to: command.arguments) { pointers in
            var target: UnsafeMutablePointer<CChar>?
            let length = redisFormatCommandArgv(&target, Int32(count), pointers, lengths)
            guard length >= 0, let target else { fatalError("hiredis could not format a command (out of memory)") }
            defer { redisFreeCommand(target) }
            target.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { bytes in
                buffer.append(contentsOf: UnsafeBufferPointer(start: bytes, count: Int(length)))
            }
        }
    }

    /// The wire form of `command`.
    public static func encode(_ command: RESPCommand) -> [UInt8] {
        var buffer: [UInt8] = []
        encode(command, into: &buffer)
        return buffer
    }

    /// Calls `body` with a C array of pointers to `arguments`, laid out in one contiguous copy that stays
    /// valid for the call.
    private static func withPointers<R>(
        to arguments: [[UInt8]], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R
    ) -> R {
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        offsets.reserveCapacity(arguments.count)
        for argument in arguments {
            offsets.append(storage.count)
            storage.append(contentsOf: argument)
        }
        storage.append(0)
        let pointers = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: arguments.count)
        defer { pointers.deallocate() }
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!)
            for (index, offset) in offsets.enumerated() {
                pointers[index] = (base + offset).assumingMemoryBound(to: CChar.self)
            }
            return body(pointers)
        }
    }
}
