/// A credential that never shows itself in logs, reports, errors or string interpolation.
///
/// Only ``reveal()`` hands out the value, and only the code that puts it on the wire calls it.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    /// Wraps `value`.
    public init(_ value: String) {
        self.value = value
    }

    /// The value itself, for the wire.
    public func reveal() -> String { value }

    /// Always `"***"`.
    public var description: String { "***" }

    /// Always `"Secret(***)"`.
    public var debugDescription: String { "Secret(***)" }
}
